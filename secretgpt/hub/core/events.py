"""What a stream tells its subscribers, and the record it leaves behind."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel

from ...services.secret_ai import ConversationSettings

EventType = Literal["start", "think", "text", "paused", "resumed", "done", "cancelled", "error"]
FINAL_EVENTS = frozenset({"done", "cancelled", "error"})


@dataclass(slots=True)
class StreamEvent:
    """One delivered event. `seq` starts at 1 and increases by one; it is the SSE `id:`."""

    seq: int
    type: EventType
    content: str = ""
    data: dict[str, Any] | None = None

    def payload(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        if self.type in ("think", "text"):
            out["content"] = self.content
        if self.data:
            out.update(self.data)
        return out


class StreamStatus(str, Enum):
    CONNECTING = "connecting"
    STREAMING = "streaming"
    PAUSED = "paused"
    COMPLETED = "completed"
    STOPPED = "stopped"
    ERROR = "error"
    TIMEOUT = "timeout"
    PAUSE_TIMEOUT = "paused_timeout"
    INTERRUPTED = "interrupted"

    @property
    def ended(self) -> bool:
        return self not in (StreamStatus.CONNECTING, StreamStatus.STREAMING, StreamStatus.PAUSED)


class StreamRecord(BaseModel):
    """Everything known about one answer: read by history, export and the API."""

    stream_id: str
    conversation_id: str
    owner: str
    model: str
    status: StreamStatus
    streaming: bool = True
    text: str = ""
    think: str = ""
    started_at: datetime
    first_token_at: datetime | None = None
    ended_at: datetime | None = None
    time_to_first_token: float | None = None
    think_seconds: float | None = None
    paused_seconds: float = 0.0
    chunks: int = 0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    done_reason: str | None = None
    error_kind: str | None = None
    error: str | None = None
    fallback: bool = False
    # The system prompt and generation options this answer was made with.
    settings: ConversationSettings | None = None

    def metadata(self) -> dict[str, Any]:
        """The record without the (possibly long) text: what final SSE events carry."""
        return self.model_dump(mode="json", exclude={"text", "think", "owner"})
