"""The model host's key, checked at the TLS handshake: before a byte of the request is written.

Every client that sends something to a model host (a prompt, the API key, the model list) runs
over a `PinnedTransport`. Its connections come from a network backend that hands each new
connection's peer certificate to the `KeyGate` right after the handshake; a key other than the
one bound in the host's verified attestation closes the connection with nothing sent, and the
request fails with `NotAttested`, naming both keys.

The transport also keeps each client to its own origin and follows no redirect: a redirect is a
refusal (the SDKs would follow one, and the answer would come from a host nobody attested).

A request may go without the check only inside `KeyGate.unchecked()` (the demo model, the `warn`
policy, or a person's consent to an unverified host): a code path that forgets to say so is checked.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextvars import ContextVar
from typing import Any

import httpcore
import httpx

from .origin import origin_of
from .tls import certificate_sha256, spki_sha256

REDIRECTS = frozenset({301, 302, 303, 307, 308})
_unchecked: ContextVar[bool] = ContextVar("secretgpt_unchecked_connection", default=False)


class NotAttested(Exception):
    """A request to a model host that must not go (or go on); nothing of it was written."""

    def __init__(self, message: str, *, origin: str, presented: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.origin = origin
        self.presented = presented  # SHA-256 of the key the connection presented (hex), if any


class RedirectRefused(Exception):
    """The model host answered with a redirect; model connections follow none."""

    def __init__(self, origin: str, status: int, location: str) -> None:
        super().__init__(f"The model server at {origin} answered with a redirect (HTTP {status} to {location}). "
                         "SecretGPT follows no redirect from a model host, so nothing was sent there; "
                         "set SECRET_AI_URL to the host that serves the model.")
        self.message = str(self)


def short(digest_hex: str) -> str:
    return f"sha256:{digest_hex[:16]}…"


class KeyGate:
    """Which key each model host's connections may present: the one bound in its verified
    attestation (`bound_key(origin)`: report_data[0:32], hex, or None while it has none).

    `on_other_key(origin, certificate_der)` hears of a connection with another key (the VM may
    have a new one: the attestation service looks again)."""

    def __init__(self, bound_key: Callable[[str], str | None],
                 on_other_key: Callable[[str, bytes], None] | None = None,
                 attest: Callable[[str], Awaitable[object]] | None = None) -> None:
        self._bound_key = bound_key
        self._on_other_key = on_other_key
        self._attest = attest

    async def prepare(self, origin: str) -> None:
        """Before a request that will be checked: attest the host if it needs it (missing, stale),
        so a host that can be verified is, and its first request can go."""
        if self.checking() and self._attest is not None and origin.startswith("https://"):
            await self._attest(origin)

    @staticmethod
    @contextlib.contextmanager
    def unchecked() -> Iterator[None]:
        """Requests made inside (this task and the tasks it starts) go without the key check."""
        token = _unchecked.set(True)
        try:
            yield
        finally:
            _unchecked.reset(token)

    @staticmethod
    def checking() -> bool:
        return not _unchecked.get()

    def admit(self, origin: str, certificate_der: bytes | None) -> None:
        """Raises NotAttested unless a request may be written on this connection."""
        if not self.checking():
            return
        bound = self._bound_key(origin)
        if certificate_der is None:
            raise NotAttested(f"{origin} is not reached over TLS, so its key cannot be checked; nothing was sent.",
                              origin=origin)
        presented = spki_sha256(certificate_der).hex()
        if bound is None:
            raise NotAttested(f"{origin} has no verified attestation, so its key ({short(presented)}) cannot be "
                              "checked; nothing was sent.", origin=origin, presented=presented)
        if bound not in (presented, certificate_sha256(certificate_der).hex()):
            if self._on_other_key is not None:
                self._on_other_key(origin, certificate_der)
            raise NotAttested(f"The connection to {origin} presented the key {short(presented)}, not the key in its "
                              f"verified attestation ({short(bound)}); it was closed and nothing was sent.",
                              origin=origin, presented=presented)


class _CheckedStream(httpcore.AsyncNetworkStream):
    """A connection whose TLS handshake ends with the gate's check."""

    def __init__(self, inner: httpcore.AsyncNetworkStream, origin: str, gate: KeyGate) -> None:
        self._inner = inner
        self._origin = origin
        self._gate = gate

    async def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                        timeout: float | None = None) -> httpcore.AsyncNetworkStream:
        secured = await self._inner.start_tls(ssl_context, server_hostname, timeout)
        ssl_object = secured.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        try:
            self._gate.admit(self._origin, der)
        except NotAttested:
            await secured.aclose()
            raise
        return secured

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _CheckedBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, origin: str, gate: KeyGate) -> None:
        self._origin = origin
        self._gate = gate
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        if self._origin.startswith("http://"):
            self._gate.admit(self._origin, None)  # before connecting: plain http has no key to check
        stream = await self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        return _CheckedStream(stream, self._origin, self._gate)

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        raise NotAttested("model hosts are reached over TCP only", origin=self._origin)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class PinnedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport for one model host's origin, its connections checked by `gate` (None:
    not checked, e.g. tests of the model paths themselves)."""

    def __init__(self, origin: str, gate: KeyGate | None, verify: ssl.SSLContext,
                 limits: httpx.Limits = httpx.Limits(max_connections=100, max_keepalive_connections=20)) -> None:
        super().__init__(verify=verify, trust_env=False, limits=limits)
        self.origin = origin_of(origin)
        if gate is not None:
            # httpx builds its pool without a way to pass a network backend: the same pool, with ours.
            self._pool = httpcore.AsyncConnectionPool(
                ssl_context=verify, max_connections=limits.max_connections,
                max_keepalive_connections=limits.max_keepalive_connections,
                keepalive_expiry=limits.keepalive_expiry, network_backend=_CheckedBackend(self.origin, gate))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if origin_of(str(request.url)) != self.origin:
            raise NotAttested(f"A request to {origin_of(str(request.url))} went to the client of {self.origin}; "
                              "nothing was sent.", origin=self.origin)
        response = await super().handle_async_request(request)
        if response.status_code in REDIRECTS:
            await response.aclose()
            raise RedirectRefused(self.origin, response.status_code, response.headers.get("location", "?"))
        return response
