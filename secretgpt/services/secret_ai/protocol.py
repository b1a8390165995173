"""Which API a model server speaks (SECRET_AI_PROTOCOL), asked once per host and remembered.

Secret AI's hosts moved from Ollama to vLLM behind LiteLLM (the OpenAI-compatible API), and
`/api/chat` answers 404 there. `auto` asks `GET /v1/models` first, then Ollama's `/api/tags` or
`/api/version`. Ollama itself also serves `/v1/models` (its OpenAI compatibility layer), so a host
that answers both is an Ollama host and keeps `ChatSecret`, its native client.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import httpx

from ..attestation.origin import origin_of
from ..attestation.pinning import KeyGate, NotAttested, PinnedTransport, RedirectRefused
from ..attestation.tls import tls_context
from ...records import ModelApi
from .errors import ErrorKind, SecretAIError

log = logging.getLogger(__name__)

ProtocolChoice = Literal["auto", "openai", "ollama"]
API_KEY_ENV = "SECRET_AI_API_KEY"


def api_key_from_env() -> str | None:
    """The Secret AI key: only ever from SECRET_AI_API_KEY (as ChatSecret reads it)."""
    key = os.environ.get(API_KEY_ENV, "").strip()
    return key or None


def bearer(key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"} if key else {}


@dataclass(frozen=True)
class _Try:
    path: str
    status: int | None = None  # None: no HTTP answer at all
    failure: str = ""  # why there was no usable answer
    matched: bool = False
    unreachable: bool = False
    timed_out: bool = False

    def describe(self) -> str:
        return f"GET {self.path}: {self.failure}"


class ProtocolDetector:
    """Answers "which API does this server speak?"; `auto` probes once per base URL."""

    def __init__(self, choice: ProtocolChoice = "auto", timeout: float = 10.0, ca_bundle: Path | None = None,
                 gate: KeyGate | None = None) -> None:
        self.choice = choice
        self.timeout = timeout
        self.ca_bundle = ca_bundle  # SECRET_AI_CA_BUNDLE: the hosts are asked over the same trust as answers
        self.gate = gate  # the questions carry the key: their connections are checked like an answer's
        self._known: dict[str, ModelApi] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def known(self, url: str) -> ModelApi | None:
        return self.choice if self.choice != "auto" else self._known.get(_key(url))

    async def protocol_for(self, url: str) -> ModelApi:
        """Raises SecretAIError naming every try when the server answers neither API."""
        if self.choice != "auto":
            return self.choice
        key = _key(url)
        async with self._locks.setdefault(key, asyncio.Lock()):
            if key not in self._known:
                self._known[key] = await self._probe(key)
                log.info("model server %s speaks the %s API", key, _NAMES[self._known[key]])
        return self._known[key]

    @contextlib.asynccontextmanager
    async def client(self, base: str, api_key: str | None) -> AsyncIterator[httpx.AsyncClient]:
        """A client for questions to the host at `base` that carry the key (the protocol probe, the
        model list): the key check at each handshake, no redirects, as for answers. A refusal is a
        SecretAIError of kind not_attested that says what to do."""
        if self.gate is not None:
            await self.gate.prepare(origin_of(base))
        transport = PinnedTransport(base, self.gate, tls_context(self.ca_bundle))
        try:
            async with httpx.AsyncClient(timeout=self.timeout, headers=bearer(api_key), transport=transport) as client:
                yield client
        except NotAttested as exc:
            raise SecretAIError(ErrorKind.NOT_ATTESTED, exc.message + NOT_ASKED) from None
        except RedirectRefused as exc:
            raise SecretAIError(ErrorKind.REDIRECT, exc.message) from None

    async def _probe(self, base: str) -> ModelApi:
        async with self.client(base, api_key_from_env()) as client:
            openai = await _get(client, base, "/v1/models", "data", list)
            if openai.matched:
                native = await _get(client, base, "/api/version", "version", str)
                return "ollama" if native.matched else "openai"
            tries = [openai]
            # A refused connection is refused at once, so the error can still name both tries; a
            # host that does not answer at all is not waited for twice.
            if not openai.timed_out:
                for path, field, kind in (("/api/tags", "models", list), ("/api/version", "version", str)):
                    tried = await _get(client, base, path, field, kind)
                    if tried.matched:
                        return "ollama"
                    tries.append(tried)
                    if tried.unreachable or tried.timed_out:
                        break
        if openai.status in (401, 403) and all(t.status == 404 for t in tries[1:]):
            # An OpenAI-compatible host that refused the key: the chat request will say so plainly.
            return "openai"
        raise _neither(base, tries)


NOT_ASKED = (" Under ATTESTATION_POLICY=require SecretGPT sends such a host neither the API key nor a prompt. "
             "Set SECRET_AI_MODEL to name its model without asking it (you can then choose to send to it "
             "anyway), or ATTESTATION_POLICY=warn.")

_NAMES: dict[ModelApi, str] = {"openai": "OpenAI-compatible", "ollama": "Ollama"}


def _key(url: str) -> str:
    return url.rstrip("/")


async def _get(client: httpx.AsyncClient, base: str, path: str, field: str, kind: type) -> _Try:
    try:
        response = await client.get(base + path)
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        return _Try(path, failure=f"could not connect ({type(exc).__name__})", unreachable=True)
    except httpx.TimeoutException:
        return _Try(path, failure="no answer (timed out)", timed_out=True)
    except httpx.HTTPError as exc:
        return _Try(path, failure=f"{type(exc).__name__}")
    if response.status_code != 200:
        return _Try(path, response.status_code, f"HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError:
        return _Try(path, 200, "HTTP 200 but not JSON")
    if isinstance(body, dict) and isinstance(body.get(field), kind):
        return _Try(path, 200, matched=True)
    return _Try(path, 200, f"HTTP 200 without {field!r}")


def _neither(base: str, tries: list[_Try]) -> SecretAIError:
    said = "; ".join(t.describe() for t in tries)
    if all(t.unreachable for t in tries):
        return SecretAIError(ErrorKind.UNREACHABLE, f"Could not reach the model server at {base} ({said}).")
    if any(t.status in (401, 403) for t in tries):
        return SecretAIError(ErrorKind.AUTH, f"The model server at {base} rejected the API key ({said}). "
                             "Check SECRET_AI_API_KEY.", status=next(t.status for t in tries if t.status in (401, 403)))
    if all(t.timed_out or t.unreachable for t in tries):
        return SecretAIError(ErrorKind.TIMEOUT, f"The model server at {base} did not answer ({said}).")
    return SecretAIError(ErrorKind.UNAVAILABLE,
                         f"The server at {base} speaks neither the OpenAI-compatible API nor Ollama's ({said}). "
                         "Check SECRET_AI_URL, or set SECRET_AI_PROTOCOL=openai or ollama.")
