"""Types that cross the service boundary: chat turns in, stream chunks out, errors."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import PydanticCustomError

Role = Literal["system", "user", "assistant"]
# The two APIs a model server may speak: OpenAI-compatible chat completions (Secret AI's vLLM
# behind LiteLLM today) or Ollama's /api/chat (ChatSecret).
Protocol = Literal["openai", "ollama"]


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
    # None: not known yet; asked of the server (SECRET_AI_PROTOCOL=auto) on first use.
    protocol: Protocol | None = None


MAX_SYSTEM_PROMPT_CHARS = 100_000
# name -> (lowest, highest, whole numbers only, how the range reads in an error)
_OPTION_RANGES: dict[str, tuple[float, float | None, bool, str]] = {
    "temperature": (0, 2, False, "a number from 0 to 2"),
    "top_p": (0, 1, False, "a number from 0 to 1"),
    "max_tokens": (1, None, True, "a positive whole number"),
    "seed": (1, 2**63 - 1, True, "a positive whole number"),
}


class GenerationOptions(BaseModel):
    """Sampling settings of a conversation. None: the model's own default (nothing is sent)."""

    model_config = ConfigDict(extra="forbid")

    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    seed: int | None = None

    @field_validator("temperature", "top_p", "max_tokens", "seed", mode="before")
    @classmethod
    def _in_range(cls, value: Any, info: Any) -> Any:
        # One message per field that names it and its range; the API, the page and imports all
        # validate through here.
        if value is None:
            return None
        low, high, whole, wording = _OPTION_RANGES[info.field_name]
        number = value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
        if (number is None or not math.isfinite(number) or (whole and number != int(number))
                or number < low or (high is not None and number > high)):
            raise PydanticCustomError("option_range", "{field} must be {wording} (got {got})",
                                      {"field": info.field_name, "wording": wording, "got": repr(value)})
        return int(number) if whole else float(number)

    @classmethod
    def problem(cls, name: str, value: object) -> str | None:
        """What is wrong with one value (the page checks each field as it is typed)."""
        try:
            cls.model_validate({name: value})
        except ValidationError as exc:
            return str(exc.errors()[0]["msg"])
        return None

    def sent(self) -> dict[str, float | int]:
        """Only what was set: everything else stays the model's default."""
        return self.model_dump(exclude_none=True)


class ConversationSettings(BaseModel):
    """A conversation's system prompt and generation options: stored with it, exported with it,
    recorded in each answer's metadata."""

    model_config = ConfigDict(extra="forbid")

    system: str = Field("", max_length=MAX_SYSTEM_PROMPT_CHARS)
    options: GenerationOptions = Field(default_factory=GenerationOptions)

    def changed(self, system: str | None = None, options: GenerationOptions | None = None) -> ConversationSettings:
        """These settings with what a request gave (None: unchanged; options are replaced whole)."""
        return ConversationSettings(system=self.system if system is None else system,
                                    options=self.options if options is None else options)


class Answer(BaseModel):
    text: str
    think: str = ""
    usage: dict[str, object] = Field(default_factory=dict)
