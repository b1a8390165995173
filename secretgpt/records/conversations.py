"""Conversations as they are kept: the shapes stored conversations and messages come back in."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from .attachments import Attachment
from .streams import AnswerProvenance, ConversationSettings, GenerationOptions, Role, StreamRecord, StreamStatus


class StoredMessage(BaseModel):
    """One node of a conversation's message tree."""

    id: str
    parent_id: str | None = None
    role: Role
    content: str = ""
    think: str = ""
    created_at: datetime
    updated_at: datetime
    # Assistant answers only: which stream wrote it, how it ended, and StreamRecord.metadata()
    # without the fields that have their own column (stream_id, status, conversation_id).
    stream_id: str | None = None
    status: StreamStatus | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    # Alternatives: every message with the same parent (this one included), oldest first.
    sibling_ids: list[str] = Field(default_factory=list)
    sibling_index: int = 0
    # User turns: the files sent with it, in order (their text and bytes are fetched when needed).
    attachments: list[Attachment] = Field(default_factory=list)

    @property
    def model(self) -> str | None:
        return self.metadata.get("model")

    @property
    def partial(self) -> bool:
        """An answer that did not run to its end (stopped, interrupted, failed, timed out)."""
        return self.status is not None and self.status is not StreamStatus.COMPLETED

    def stream_record(self, conversation_id: str, owner: str) -> StreamRecord | None:
        """The StreamRecord this answer was saved from, or None if it has none (user turns, or
        imported metadata that is not a complete record)."""
        if self.stream_id is None or self.status is None:
            return None
        try:
            return StreamRecord.model_validate({
                **self.metadata, "stream_id": self.stream_id, "status": self.status,
                "conversation_id": conversation_id, "owner": owner, "text": self.content, "think": self.think,
            })
        except ValidationError:
            return None


class StoredConversation(BaseModel):
    id: str
    owner: str
    title: str
    created_at: datetime
    updated_at: datetime
    current_leaf_id: str | None = None
    # The active thread (root -> current leaf), with ids, alternatives and metadata.
    messages: list[StoredMessage] = Field(default_factory=list)
    # Its settings (ConversationSettings), flat so the API shows `system` and `options` as it takes them.
    system: str = ""
    options: GenerationOptions = Field(default_factory=GenerationOptions)
    # What it takes in storage, its files included (the API's GET of one conversation fills it in).
    storage_bytes: int | None = None
    # A temporary chat: kept in the server's memory only, never stored (hub/temporary.py).
    temporary: bool = False

    @property
    def settings(self) -> ConversationSettings:
        return ConversationSettings(system=self.system, options=self.options)


class ImportCandidate(BaseModel):
    """One conversation of an export file, as it would be imported (shown before importing)."""

    title: str
    message_count: int
    # A conversation of the owner's that this one already is (the one it was exported from, or
    # an earlier import of it), if any.
    existing_id: str | None = None


class ConversationSummary(BaseModel):
    """A line in the conversation list."""

    id: str
    title: str
    created_at: datetime
    updated_at: datetime
    # Every message of the tree, alternatives included.
    message_count: int
    # Found by a search: the text around the best match (plain text, from a message or the title)
    # and the matched words in it as [start, end) offsets (Python string indices).
    snippet: str | None = None
    highlights: list[tuple[int, int]] = Field(default_factory=list)


class AnswerProof(BaseModel):
    """An answer with what its proof needs: the provenance kept when it ended (None: it has none —
    an older, imported or crash-interrupted answer) and the host's evidence it was judged on."""

    message: StoredMessage
    provenance: AnswerProvenance | None = None
    evidence: dict[str, Any] | None = None
