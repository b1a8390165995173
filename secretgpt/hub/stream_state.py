"""`StreamState`: what a stream's events say about it, folded one event at a time — its text and
reasoning, whether it is paused, how it stands, its timings, and (from the final event) its record.

Everything a reader needs is in the events, so a reader on another instance (or after a reload)
knows what a reader beside the model knows: the first reasoning and the first text carry `t`, the
seconds since the stream started; the final event carries the record's metadata.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ..records import ChunkKind, Signal, StreamEvent, StreamInfo, StreamRecord, StreamStatus

FINAL_STATUS = {Signal.DONE: StreamStatus.COMPLETED, Signal.CANCELLED: StreamStatus.STOPPED}


@dataclass
class StreamState:
    info: StreamInfo
    status: StreamStatus = StreamStatus.CONNECTING
    paused: bool = False
    events: int = 0
    content_events: int = 0
    first_think: float | None = None  # `t` of the first reasoning
    first_text: float | None = None  # `t` of the first answer text
    final: StreamEvent | None = None
    _text: list[str] = field(default_factory=list)
    _think: list[str] = field(default_factory=list)

    def add(self, event: StreamEvent) -> None:
        self.events = event.seq
        if isinstance(event.type, ChunkKind):
            self.content_events += 1
            t = (event.data or {}).get("t")
            if event.type is ChunkKind.THINK:
                self._think.append(event.content)
                if self.first_think is None and isinstance(t, (int, float)):
                    self.first_think = float(t)
            else:
                self._text.append(event.content)
                if self.first_text is None and isinstance(t, (int, float)):
                    self.first_text = float(t)
            if not self.paused and self.final is None:
                self.status = StreamStatus.STREAMING
        elif event.type is Signal.PAUSED:
            self.paused, self.status = True, StreamStatus.PAUSED
        elif event.type is Signal.RESUMED:
            self.paused = False
            self.status = StreamStatus.STREAMING if self.content_events else StreamStatus.CONNECTING
        elif event.final:
            self.final, self.paused = event, False
            status = (event.data or {}).get("status")
            self.status = StreamStatus(status) if status else FINAL_STATUS.get(event.type, StreamStatus.ERROR)

    @classmethod
    def of(cls, info: StreamInfo, events: list[StreamEvent]) -> StreamState:
        state = cls(info)
        for event in events:
            state.add(event)
        return state

    @property
    def text(self) -> str:
        return "".join(self._text)

    @property
    def think(self) -> str:
        return "".join(self._think)

    @property
    def ended(self) -> bool:
        return self.final is not None

    @property
    def final_data(self) -> dict[str, Any]:
        return dict(self.final.data or {}) if self.final is not None else {}

    def think_seconds(self, now: float | None = None) -> float | None:
        """How long the model reasoned (so far, while it still is)."""
        if self.final is not None:
            return self.final_data.get("think_seconds")
        if self.first_think is None:
            return None
        end = self.first_text if self.first_text is not None else (now or time.time()) - self.info.started_at
        return max(0.0, end - self.first_think)

    def tokens_per_second(self, now: float | None = None) -> float | None:
        first = min((t for t in (self.first_think, self.first_text) if t is not None), default=None)
        if first is None or self.paused:
            return None
        elapsed = (now or time.time()) - self.info.started_at - first
        return self.content_events / elapsed if elapsed > 0.2 else None

    def record(self) -> StreamRecord:
        """The stream's record as far as its events go (all of it, once the final event is in)."""
        info = self.info
        base: dict[str, Any] = {"stream_id": info.id, "conversation_id": info.conversation_id, "model": info.model,
                                "streaming": info.streaming, "status": self.status,
                                "started_at": datetime.fromtimestamp(info.started_at, timezone.utc)}
        data = {k: v for k, v in self.final_data.items() if k in StreamRecord.model_fields}
        return StreamRecord.model_validate({**base, **data, "owner": info.owner, "text": self.text,
                                            "think": self.think, "status": self.status})
