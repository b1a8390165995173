"""`EventLog`: how a stream delivers its events — numbered in order, coalesced (STREAMING_CHUNK_SIZE),
held back while paused — into the stream bus, where every reader reads them.

What is written is what was *delivered*: a replay shows exactly what a live reader saw. While
`holding`, content waits in a buffer and is delivered, merged, on `release`.
"""

from __future__ import annotations

from typing import Any, Protocol

from ..records import FINAL_EVENTS, ChunkKind, StreamEvent

# Held back during a pause: content and the end; "paused"/"resumed"/"start" are delivered at once.
HELD_KINDS = frozenset({ChunkKind.THINK, ChunkKind.TEXT, *FINAL_EVENTS})


class EventSink(Protocol):
    """Where delivered events go (the bus: an `EventList` in one process, Redis for several)."""

    def append(self, event: StreamEvent) -> None: ...


class EventLog:
    def __init__(self, sink: EventSink, chunk_size: int = 1) -> None:
        self._sink = sink
        self._held: list[StreamEvent] = []
        self.holding = False
        self._chunk_size = chunk_size  # upstream chunks coalesced into one event
        self._coalesce: StreamEvent | None = None
        self._coalesced = 0
        self.last_seq = 0
        self.closed = False  # the final event is delivered

    def append(self, event: StreamEvent) -> None:
        if self.holding and event.type in HELD_KINDS:
            self._held.append(event)
            return
        self.last_seq += 1
        event.seq = self.last_seq
        if event.final:
            self.closed = True
        self._sink.append(event)

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
