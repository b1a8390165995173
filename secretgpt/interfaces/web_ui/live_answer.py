"""`LiveAnswer`: an answer that is still streaming, shown as it arrives.

It reads the stream's events through an `EventFeed`, reveals them at the typing pace and flushes
the page at STREAMING_UPDATE_HZ: one wake-up per flush, not per token, so the page's cost does not
grow with the token rate.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from ...config import TypingSpeed
from ...hub import StreamEvent
from ...hub import StreamState, StreamView
from ...records import ChunkKind, StreamStatus
from .answer_view import AnswerMessage
from .reveal import Backlog, RevealPacer
from .scroll_follow import ScrollFollow

log = logging.getLogger(__name__)

STATUS_INTERVAL = 0.5  # seconds between status line updates


class LiveAnswer:
    def __init__(self, stream: StreamView, answer: AnswerMessage, *, speed: TypingSpeed, update_hz: float,
                 scroll: ScrollFollow, on_status: Callable[[str], None]) -> None:
        self.stream = stream
        self.answer = answer
        self._pacer = RevealPacer(speed)
        self._interval = 1.0 / update_hz
        self._scroll = scroll
        self._on_status = on_status
        self.state: StreamState = StreamState(stream.info)  # what the events said, as far as shown
        self.paused = False  # as the page last asked (Pause/Resume), before the stream's event says so

    async def run(self, replay: bool) -> dict[str, Any]:
        """Show the stream until its final event has been revealed; returns that event's data.
        `replay`: what streamed before a reload comes back at once, then the chosen pace."""
        stream, answer = self.stream, self.answer
        feed = stream.follow()
        self.state = state = feed.state
        assert state is not None
        backlog = Backlog()
        catching_up = replay
        final: StreamEvent | None = None
        last = time.monotonic()
        last_status = 0.0
        while True:
            for event in feed.take():
                if isinstance(event.type, ChunkKind):
                    backlog.add(event.type, event.content)
                elif event.final:
                    final = event
            now = time.monotonic()
            if state.paused and final is None and not catching_up:
                # Pause freezes the display at once, including text already received.
                last = now
                await feed.wait()
                continue
            allowed = backlog.waiting if final is not None or catching_up else \
                self._pacer.allowance(backlog.waiting, now - last)
            catching_up = False
            last = now
            pieces = backlog.take(allowed)
            shown = answer.sent
            for kind, piece in pieces:
                answer.add(kind, piece, state.think_seconds())
            answer.flush()
            if final is not None and not backlog:
                return final.data or {}
            if now - last_status >= STATUS_INTERVAL:
                last_status = now
                self._show_status()
            if answer.sent > shown:  # only when the page changed: each scroll is a message too
                self._scroll.progress()
            if not backlog:
                await feed.wait()
            # At most one flush per interval, but text that ends a wait (the first token, or the
            # next after a lull) is shown at once rather than an interval later.
            delay = self._interval - (time.monotonic() - last)
            if delay > 0:
                await asyncio.sleep(delay)

    def _show_status(self) -> None:
        state = self.state
        rate = state.tokens_per_second()
        # One status: while paused it says so, never a streaming rate.
        status = StreamStatus.PAUSED if state.paused else state.status
        detail = f"{rate:.0f} tok/s" if rate is not None and status is StreamStatus.STREAMING else ""
        self.answer.set_status(status, detail)
        self._on_status(f"{self.answer.status.text} {detail}".strip())
