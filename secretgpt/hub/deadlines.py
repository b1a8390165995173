"""`Watchdog`: one timer for all of a stream's deadlines, so the per-token path only records a
timestamp (in its `Tally`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ..records import StreamStatus
from .tally import Tally

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StreamLimits:
    stream_timeout: float = 300.0
    idle_timeout: float = 60.0
    first_token_timeout: float = 120.0
    detach_grace: float = 30.0
    chunk_size: int = 1  # upstream chunks coalesced into one event
    checkpoint_interval: float = 2.0  # seconds between saves of a streaming answer


@dataclass(frozen=True)
class EndReason:
    """Why a stream is ended from outside its model read: a deadline, Stop, or shutdown."""

    status: StreamStatus
    message: str


class Watchdog:
    """Sleeps to the earliest deadline and calls `on_due` with the reason; `poke()` when deadlines
    change (pause, resume, first token, the model's end). Token arrivals do not poke: a moved idle
    deadline is simply re-checked when the old one is due."""

    def __init__(self, limits: StreamLimits, tally: Tally, model_done: Callable[[], bool],
                 on_due: Callable[[EndReason], Awaitable[None]]) -> None:
        self._limits = limits
        self._tally = tally
        self._model_done = model_done
        self._on_due = on_due
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stream_id = ""

    def start(self, stream_id: str) -> None:
        self._stream_id = stream_id
        self._task = asyncio.create_task(self._watch(), name=f"stream-watchdog-{stream_id}")

    def poke(self) -> None:
        self._changed.set()

    def cancel(self) -> None:
        if self._task is not None and self._task is not asyncio.current_task():
            self._task.cancel()

    def next_deadline(self) -> tuple[float, EndReason] | None:
        limits, tally = self._limits, self._tally
        deadlines: list[tuple[float, EndReason]] = []
        if not self._model_done():
            deadlines.append((tally.started + limits.stream_timeout, EndReason(
                StreamStatus.TIMEOUT, f"The answer took longer than {limits.stream_timeout:g} s (STREAM_TIMEOUT).")))
            if tally.first_token is None:
                deadlines.append((tally.started + limits.first_token_timeout, EndReason(
                    StreamStatus.TIMEOUT,
                    f"The model sent nothing for {limits.first_token_timeout:g} s (STREAM_FIRST_TOKEN_TIMEOUT).")))
            else:
                deadlines.append((tally.last_activity + limits.idle_timeout, EndReason(
                    StreamStatus.TIMEOUT,
                    f"The model stopped sending for {limits.idle_timeout:g} s (STREAM_IDLE_TIMEOUT).")))
        if tally.paused_since is not None:
            deadlines.append((tally.paused_since + limits.stream_timeout, EndReason(
                StreamStatus.PAUSE_TIMEOUT,
                f"Paused for longer than {limits.stream_timeout:g} s (STREAM_TIMEOUT); the stream was ended.")))
        return min(deadlines, key=lambda d: d[0]) if deadlines else None

    async def _watch(self) -> None:
        try:
            while True:
                due = self.next_deadline()
                if due is None:
                    await self._changed.wait()
                    self._changed.clear()
                    continue
                when, reason = due
                now = time.monotonic()
                if now >= when:
                    log.info("stream %s: %s", self._stream_id, reason.status.value)
                    await self._on_due(reason)
                    return
                # asyncio.timeout, not wait_for: Python 3.11's wait_for swallows a cancel that
                # arrives as the event is set (poke, then cancel, at an answer's end), and this
                # loop would then wait on the event for good.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(when - now):
                        await self._changed.wait()
                self._changed.clear()
        except asyncio.CancelledError:
            pass
