"""An httpcore network backend that connects to one address already checked, for one host name.

Checking a name's addresses and then handing the name to an HTTP client would resolve it twice: a
name that answers a public address to the check and 127.0.0.1 to the connection (DNS rebinding)
would pass. Here the connection goes to the checked address itself, while httpcore still uses the
name for the `Host` header, TLS's SNI and the certificate check.
"""

from __future__ import annotations

import typing

import httpcore

from .public_address import IPAddress


class PinnedBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, host: str, address: IPAddress, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self.host = host
        self.address = address
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
                          ) -> httpcore.AsyncNetworkStream:
        if host != self.host:  # only ever the host that was checked (a proxy, say, would not be)
            raise httpcore.ConnectError("a connection to a host that was not checked")
        return await self._inner.connect_tcp(str(self.address), port, timeout, local_address, socket_options)

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
                                  ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("image fetches use TCP only")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)
