"""Fetching a host's evidence from the inference origin (`/cpu`, `/gpu`, `/docker-compose`), or
from port 29343 where older layouts serve it.

Verified TLS with the one trust setting (`tls.tls_context`); no credentials: the client is made
here with no Authorization header, so the API key never goes with it.
"""

from __future__ import annotations

import base64
import json
import ssl
from datetime import datetime, timezone

import httpx

from .capture import capture_peer_certificate, captured_certificate
from .models import Evidence
from .origin import origin_of

LEGACY_EVIDENCE_PORT = 29343
MAX_EVIDENCE_BYTES = 2_000_000  # a quote is ~10 KB, GPU evidence ~20 KB: a cap against hostile hosts


class PlainHttp(Exception):
    """The host is not reached over TLS, so there is no connection key to bind."""


class NoEvidence(Exception):
    """The host served no evidence (neither on its origin nor on the older port)."""


class _NotServed(Exception):
    pass


async def fetch_evidence(origin: str, *, verify: ssl.SSLContext, timeout: float) -> Evidence:
    base = origin_of(origin)
    if base.startswith("http://"):
        raise PlainHttp(f"{base} is plain http")
    legacy = base.rsplit(":", 1)[0] + f":{LEGACY_EVIDENCE_PORT}"
    tried: list[str] = []
    async with httpx.AsyncClient(verify=verify, timeout=timeout, follow_redirects=False,
                                 event_hooks={"response": [capture_peer_certificate]},
                                 headers={"User-Agent": "SecretGPT-attestation"}) as client:
        for candidate in dict.fromkeys((base, legacy)):
            try:
                quote, certificate = await _get(client, f"{candidate}/cpu")
            except (_NotServed, httpx.HTTPError) as exc:
                tried.append(f"{candidate}/cpu: {_describe(exc)}")
                continue
            return Evidence(
                origin=base, served_from=candidate, captured_at=datetime.now(timezone.utc),
                cpu_quote=quote.strip(), compose=await _optional(client, f"{candidate}/docker-compose"),
                gpu=_gpu_evidence(await _optional(client, f"{candidate}/gpu")),
                certificate=base64.b64encode(certificate).decode() if certificate else None,
            )
    raise NoEvidence("no evidence served (" + "; ".join(tried) + ")")


async def _get(client: httpx.AsyncClient, url: str) -> tuple[str, bytes | None]:
    async with client.stream("GET", url) as response:
        if response.status_code != 200:
            raise _NotServed(f"HTTP {response.status_code}")
        body = bytearray()
        async for piece in response.aiter_bytes():
            body += piece
            if len(body) > MAX_EVIDENCE_BYTES:
                raise _NotServed(f"more than {MAX_EVIDENCE_BYTES} bytes")
        certificate = captured_certificate(response)
    try:
        return body.decode("utf-8"), certificate
    except UnicodeDecodeError:
        raise _NotServed("not UTF-8 text") from None


async def _optional(client: httpx.AsyncClient, url: str) -> str | None:
    try:
        return (await _get(client, url))[0]
    except (_NotServed, httpx.HTTPError):
        return None


def _gpu_evidence(served: str | None) -> str | None:
    """A CPU-only VM answers /gpu with {"error": ...}: that is no GPU evidence."""
    if served is None:
        return None
    try:
        data = json.loads(served)
    except ValueError:
        return served  # kept as served; verification will say it is malformed
    return None if isinstance(data, dict) and "error" in data else served


def _describe(exc: BaseException) -> str:
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect ({exc})" if str(exc) else "cannot connect"
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    return str(exc) or type(exc).__name__
