"""`OrphanTimer`: a stream whose API client left and did not come back within the grace period
(STREAM_DETACH_GRACE) is stopped, so the model connection is not held for nobody."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class OrphanTimer:
    def __init__(self, grace: float, enabled: bool, on_orphaned: Callable[[], None]) -> None:
        self._grace = grace
        self._enabled = enabled  # only for streams whose client may vanish (the SSE API)
        self._on_orphaned = on_orphaned
        self._subscribers = 0
        self._timer: asyncio.TimerHandle | None = None

    def attach(self) -> None:
        self._subscribers += 1
        self.cancel()

    def detach(self) -> None:
        self._subscribers = max(0, self._subscribers - 1)
        if self._subscribers == 0 and self._enabled:
            self._timer = asyncio.get_running_loop().call_later(self._grace, self._fire)

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _fire(self) -> None:
        self._timer = None
        if self._subscribers == 0:
            self._on_orphaned()
