"""What a stream tells its subscribers: content events of a `ChunkKind`, and signals about itself."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ..records import ChunkKind


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
