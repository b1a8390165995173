"""The shared types at the bottom: what storage, the hub, the services and the interfaces all speak.

A chat turn goes to the model; the model's answer comes back as chunks of one `ChunkKind` each (the
same kind reaches the page) and ends with its `Usage`; the hub keeps each answer as a
`StreamRecord`, which storage saves. A conversation's `ConversationSettings` travel with it.
Nothing here imports anything else of the app.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from enum import Enum, StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from .attachments import TurnAttachment

Role = Literal["system", "user", "assistant"]


class ChatTurn(BaseModel):
    """One message as the model sees it (reasoning is never sent back). A user turn's files: their
    text is in `content` (delimited, with the file's name); images go beside it, each as its
    protocol expects, and are named here by hash (a proof keeps them so)."""

    role: Role
    content: str
    attachments: list[TurnAttachment] = Field(default_factory=list)

    @property
    def images(self) -> list[TurnAttachment]:
        return [a for a in self.attachments if a.kind == "image" and a.data]

    def as_kept(self) -> ChatTurn:
        """The turn as a proof keeps it: its files by hash, without the images' bytes (which a
        finished answer's record would otherwise hold in memory while it is retained)."""
        if not self.images:
            return self
        return self.model_copy(update={"attachments": [a.model_copy(update={"data": ""}) for a in self.attachments]})


class ChunkKind(StrEnum):
    """What a piece of an answer is: reasoning or answer text. Used from the model path to the page."""

    THINK = "think"
    TEXT = "text"


@dataclass(slots=True)
class StreamChunk:
    """One piece of a model answer. Plain dataclass: one is made per token on the hot path."""

    kind: ChunkKind
    content: str = ""


@dataclass(slots=True)
class Usage:
    """What the model server reported at the end of an answer (None: it did not say)."""

    model: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    done_reason: str | None = None


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


# A stream in one of these states has a task behind it; after a restart nothing does any more.
LIVE_STATUSES = frozenset({StreamStatus.CONNECTING, StreamStatus.STREAMING, StreamStatus.PAUSED})


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


AttestationWord = Literal["verified", "unbound", "unverified", "failed"]


class AnswerAttestation(BaseModel):
    """Under which attestation an answer was served and whether the connection that streamed it
    was bound to the attested VM: one of four words, the reason, and each check (name, outcome
    pass/fail/skipped, detail, values), as the attestation service reported them."""

    status: AttestationWord
    reason: str
    origin: str | None = None
    attestation_id: str | None = None
    bound: bool = False
    checked_at: datetime | None = None
    checks: list[dict[str, Any]] = Field(default_factory=list)


class Consent(BaseModel):
    """A person chose to send to a host that was not verified (ATTESTATION_POLICY=require)."""

    given_at: datetime
    via: Literal["page", "api"]
    host_status: AttestationWord  # the host's state when it was given
    reason: str


class Admission(BaseModel):
    """How the prompt was let go to its host: under which policy, whether every connection's key
    was checked against the verified attestation before a byte was sent, and the consent if any."""

    policy: Literal["require", "warn"]
    key_checked: bool
    consent: Consent | None = None
    demo: bool = False  # the offline demo model: local, nothing to attest

    @property
    def summary(self) -> str:
        if self.demo:
            return "the offline demo model (local, not attested)"
        if self.key_checked:
            return f"{self.policy}: the connection's key was checked against the verified attestation before sending"
        if self.consent is not None:
            return (f"{self.policy}: sent to a host that was {self.consent.host_status}, with consent "
                    f"({self.consent.via}, {self.consent.given_at:%Y-%m-%d %H:%M:%S} UTC)")
        return f"{self.policy}: sent without checking the connection's key first"


class AnswerProvenance(BaseModel):
    """What a proof of an answer needs beyond its text and record: the turns that were sent, the
    connection it arrived on, the hash chain over its chunks as they were received, and how much
    of its text and reasoning was carried over from an earlier answer (Continue)."""

    origin: str
    certificate: str | None = None  # base64 DER: the leaf certificate of the connection that streamed it
    chain: list[tuple[Literal["c", "r"], int]] = Field(default_factory=list)  # (text | reasoning, UTF-8 length)
    chain_head: str
    turns: list[ChatTurn] = Field(default_factory=list)
    # UTF-8 bytes at the start of the text / reasoning that came from an earlier answer, not over
    # this connection (0 in proofs kept before this was recorded).
    continued_text_bytes: int = Field(0, ge=0)
    continued_reasoning_bytes: int = Field(0, ge=0)
    admission: Admission | None = None  # None in proofs kept before it was recorded


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
    # Set when the answer ends: its attestation status; for its proof, the provenance and the
    # host's raw evidence (stored apart, once per attestation).
    attestation: AnswerAttestation | None = None
    provenance: AnswerProvenance | None = None
    evidence: dict[str, Any] | None = None

    def metadata(self) -> dict[str, Any]:
        """The record without the (possibly long) text and proof material: what final SSE events carry."""
        return self.model_dump(mode="json", exclude={"text", "think", "owner", "provenance", "evidence"})
