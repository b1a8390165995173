"""Which certificate did this answer's connection present? An httpx response hook records it.

The claim an answer can earn is about *its own* connection, so the certificate is read from the
very connection each response arrived on (`network_stream` → `ssl_object`), while the response
is open, not from a second connection opened to ask.

Seam for the model paths (both use httpx underneath):

    client = httpx.AsyncClient(timeout=..., **client_options(origin, ca_bundle, gate))   # OpenAI path
    ChatOllama(..., client_kwargs=client_options(origin, ca_bundle, gate))               # Ollama path
    with record_peer_certificates() as seen:
        ... stream the answer ...
    seen.last  # ConnectionCertificate of the response that streamed it

The hook runs in the task that sends the request, so `record_peer_certificates()` around the
model call (in that task or a parent that creates it) sees every response of the call.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from .pinning import KeyGate, PinnedTransport
from .tls import spki_sha256, tls_context

PEER_CERTIFICATE = "secretgpt.peer_certificate"


@dataclass(frozen=True)
class ConnectionCertificate:
    """The server certificate (DER) of the connection one response arrived on; None over plain
    http or when the transport gave no TLS details."""

    url: str
    der: bytes | None

    @property
    def is_tls(self) -> bool:
        return self.der is not None

    def spki_sha256(self) -> bytes | None:
        return spki_sha256(self.der) if self.der is not None else None


@dataclass
class CertificateLog:
    seen: list[ConnectionCertificate] = field(default_factory=list)

    @property
    def last(self) -> ConnectionCertificate | None:
        return self.seen[-1] if self.seen else None


_current_log: ContextVar[CertificateLog | None] = ContextVar("secretgpt_certificate_log", default=None)


@contextlib.contextmanager
def record_peer_certificates() -> Iterator[CertificateLog]:
    """Collect the certificate of every response received inside the block (this context)."""
    log = CertificateLog()
    token = _current_log.set(log)
    try:
        yield log
    finally:
        _current_log.reset(token)


def peer_certificate_der(response: httpx.Response) -> bytes | None:
    """The certificate of the connection `response` is on; only while the response is open."""
    stream = response.extensions.get("network_stream")
    if stream is None:
        return None
    ssl_object = stream.get_extra_info("ssl_object")
    if not isinstance(ssl_object, (ssl.SSLObject, ssl.SSLSocket)):
        return None
    return ssl_object.getpeercert(binary_form=True)


async def capture_peer_certificate(response: httpx.Response) -> None:
    """httpx response event hook: runs when the headers arrive, before a streamed body is read."""
    der = peer_certificate_der(response)
    response.extensions[PEER_CERTIFICATE] = der  # type: ignore[index]
    log = _current_log.get()
    if log is not None:
        log.seen.append(ConnectionCertificate(url=str(response.request.url), der=der))


def captured_certificate(response: httpx.Response) -> bytes | None:
    """What `capture_peer_certificate` recorded for `response` (usable after it is closed)."""
    return response.extensions.get(PEER_CERTIFICATE)


def client_options(origin: str, ca_bundle: Path | None = None, gate: KeyGate | None = None) -> dict[str, Any]:
    """httpx client arguments for anything that talks to the model host at `origin`: verified TLS
    with the one trust setting, each connection's key checked by `gate` at its handshake (a
    `PinnedTransport`, which also follows no redirect), and the certificate hook."""
    return {"transport": PinnedTransport(origin, gate, tls_context(ca_bundle)),
            "event_hooks": {"response": [capture_peer_certificate]}}
