"""`EventLog`: what a stream delivered, in order, and what it holds back while paused."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from ..records import ChunkKind
from .events import FINAL_EVENTS, StreamEvent

# Held back during a pause: content and the end; "paused"/"resumed"/"start" are delivered at once.
HELD_KINDS = frozenset({ChunkKind.THINK, ChunkKind.TEXT, *FINAL_EVENTS})


class EventLog:
    """The log is what was *delivered*: a replay shows exactly what a live client saw. While
    `holding`, content waits in a buffer and joins the log (merged) on `release`."""

    def __init__(self, chunk_size: int = 1) -> None:
        self._events: list[StreamEvent] = []
        self._held: list[StreamEvent] = []
        self._wakeup = asyncio.Event()
        self.holding = False
        self._chunk_size = chunk_size  # upstream chunks coalesced into one event
        self._coalesce: StreamEvent | None = None
        self._coalesced = 0
        self.closed = False  # the final event is delivered
        # Called with each delivered event, in order (a bus that carries them to other instances).
        self.sink: Callable[[StreamEvent], None] | None = None

    @property
    def last_seq(self) -> int:
        return len(self._events)

    def after(self, seq: int) -> list[StreamEvent]:
        return self._events[max(0, seq):]

    async def changed(self) -> None:
        """Return when the next event is delivered."""
        await self._wakeup.wait()

    def gone(self) -> bool:
        return self.closed

    async def catch_up(self) -> None:
        """Every event is here already (the log is what was delivered)."""

    def append(self, event: StreamEvent) -> None:
        if self.holding and event.type in HELD_KINDS:
            self._held.append(event)
            return
        event.seq = len(self._events) + 1
        self._events.append(event)
        if event.final:
            self.closed = True
        if self.sink is not None:
            self.sink(event)
        self._wakeup.set()
        self._wakeup = asyncio.Event()

    def deliver(self, kind: ChunkKind, content: str, data: dict[str, Any] | None = None) -> None:
        """A model chunk: one event, or coalesced with the next ones (STREAMING_CHUNK_SIZE).
        `data`: with the first chunk of each kind, when it came (`t`)."""
        if self._chunk_size <= 1:
            self.append(StreamEvent(0, kind, content, data))
            return
        if self._coalesce is not None and (self._coalesce.type != kind or data):
            self.flush()
        if self._coalesce is None:
            self._coalesce = StreamEvent(0, kind, "", data)
        self._coalesce.content += content
        self._coalesced += 1
        if self._coalesced >= self._chunk_size:
            self.flush()

    def flush(self) -> None:
        """Deliver a partly coalesced event now."""
        if self._coalesce is not None:
            event, self._coalesce, self._coalesced = self._coalesce, None, 0
            self.append(event)

    def release(self) -> None:
        """Stop holding; deliver what was held, consecutive pieces of one kind merged."""
        self.holding = False
        held, self._held = self._held, []
        merged: list[StreamEvent] = []
        for event in held:
            if merged and isinstance(event.type, ChunkKind) and merged[-1].type == event.type and not event.data:
                merged[-1].content += event.content
            else:
                merged.append(event)
        for event in merged:
            self.append(event)
