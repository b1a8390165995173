"""A time limit on each request's head (its request line and headers).

uvicorn has none. Its keep-alive timer runs only between requests, is not armed before the first
one, and any byte of a new request cancels it: a client that sends half a request line or header
and stops keeps its connection (a socket, a file descriptor) for ever, and a thousand of them
cost nothing to hold. Neither of uvicorn's settings bounds that: `h11_max_incomplete_event_size`
limits how large a head may grow, not how long it may take (and httptools, which uvicorn prefers,
ignores it); `limit_concurrency` counts such connections but then answers 503 to everyone else.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.auto import AutoHTTPProtocol

# Seconds from connecting (or from the end of the previous response) to the end of a request's
# headers. A browser or proxy sends a head in one go; idle keep-alive connections are closed
# sooner, by uvicorn's own timer (5 s).
HEAD_TIMEOUT = 10.0


class HeadTimeoutProtocol(AutoHTTPProtocol):  # type: ignore[misc,valid-type]
    """uvicorn's HTTP protocol (httptools, else h11) closing a connection whose next request head
    is not complete within `head_timeout` seconds. What follows the head (a body, a long response,
    a websocket) is not limited here."""

    head_timeout = HEAD_TIMEOUT
    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_head()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._await_head()

    def handle_websocket_upgrade(self, *args: Any) -> None:
        # The websocket protocol takes the transport over (and has pings of its own).
        self._stop_waiting()
        super().handle_websocket_upgrade(*args)

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_waiting()
        super().connection_lost(exc)

    def _await_head(self) -> None:
        self._stop_waiting()
        self._head_timer = self.loop.call_later(self.head_timeout, self._head_overdue, self.cycle)

    def _stop_waiting(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_overdue(self, waited: Any) -> None:
        """Close unless a new request's head has come since: a new head starts a new cycle
        (request-response), which is then still running or has armed this timer again."""
        self._head_timer = None
        still_waiting = self.cycle is waited and (waited is None or waited.response_complete)
        if still_waiting and not self.transport.is_closing():
            self.transport.close()
