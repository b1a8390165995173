"""Types that cross the service boundary: chat turns in, stream chunks out, errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Literal

from pydantic import BaseModel, Field

Role = Literal["system", "user", "assistant"]


class ChatTurn(BaseModel):
    role: Role
    content: str
    # Reasoning is kept for display and export but never sent back to the model.
    think: str = ""


class ChunkKind(str, Enum):
    THINK = "think"
    TEXT = "text"
    DONE = "done"


@dataclass(slots=True)
class StreamChunk:
    """One piece of a model answer. Plain dataclass: one is made per token on the hot path."""

    kind: ChunkKind
    content: str = ""
    # Only on DONE: what the model server reported at the end (token counts, done reason).
    usage: dict[str, object] = field(default_factory=dict)


class ErrorKind(str, Enum):
    AUTH = "auth"
    UNREACHABLE = "unreachable"
    TIMEOUT = "timeout"
    MODEL = "model_error"
    INTERRUPTED = "interrupted"
    BAD_REQUEST = "bad_request"
    OVERLOADED = "overloaded"
    UNAVAILABLE = "unavailable"
    STORAGE = "storage"  # the answer arrived but could not be saved


class SecretAIError(Exception):
    """A model-side failure, mapped from raw SDK/httpx/ollama errors to a kind a user can act on."""

    def __init__(self, kind: ErrorKind, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status


class ModelInfo(BaseModel):
    name: str
    url: str
    demo: bool = False


class Answer(BaseModel):
    text: str
    think: str = ""
    usage: dict[str, object] = Field(default_factory=dict)
