"""What a stream tells its readers, on any instance: content events of a `ChunkKind`, and signals
about itself (numbered: the SSE `id:`); which stream it is (`StreamInfo`, the directory's entry);
and `EventList`, the events of one stream as they have arrived somewhere, for its readers."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from .streams import ChunkKind

# What reaches the instance that reads a stream's model, from any instance.
Command = Literal["stop", "pause", "resume", "attach", "detach"]


class Signal(StrEnum):
    """Events that are not content: the start, pause and resume, and the three ways a stream ends."""

    START = "start"
    PAUSED = "paused"
    RESUMED = "resumed"
    DONE = "done"
    CANCELLED = "cancelled"
    ERROR = "error"


EventType = ChunkKind | Signal
FINAL_EVENTS = frozenset({Signal.DONE, Signal.CANCELLED, Signal.ERROR})


@dataclass(slots=True)
class StreamEvent:
    """One delivered event. `seq` starts at 1 and increases by one; it is the SSE `id:`."""

    seq: int
    type: EventType
    content: str = ""
    data: dict[str, Any] | None = None

    @property
    def final(self) -> bool:
        return self.type in FINAL_EVENTS

    def payload(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        if isinstance(self.type, ChunkKind):
            out["content"] = self.content
        if self.data:
            out.update(self.data)
        return out


@dataclass(frozen=True)
class StreamInfo:
    """A stream as the directory knows it: which answer, whose, and which instance reads its model."""

    id: str
    owner: str
    conversation_id: str
    model: str
    started_at: float  # epoch seconds
    streaming: bool = True
    message_id: str | None = None
    user_message_id: str | None = None
    instance: str = ""

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StreamInfo:
        return cls(**{k: data.get(k) for k in cls.__dataclass_fields__ if k in data})


class EventList:
    """One stream's events in order, as they have arrived here; its readers wait on it. The events'
    own numbers are their places: event n is `after(n - 1)[0]`."""

    def __init__(self) -> None:
        self._events: list[StreamEvent] = []
        self._wakeup = asyncio.Event()
        self.closed = False  # the final event is in

    @property
    def last_seq(self) -> int:
        return len(self._events)

    def after(self, seq: int) -> list[StreamEvent]:
        return self._events[max(0, seq):]

    def append(self, event: StreamEvent) -> None:
        self._events.append(event)
        if event.final:
            self.closed = True
        self._wakeup.set()
        self._wakeup = asyncio.Event()

    async def changed(self) -> None:
        """Return when the next event arrives."""
        await self._wakeup.wait()

    def gone(self) -> bool:
        return self.closed

    async def catch_up(self) -> None:
        """Everything written is here already."""
