"""The storage contract the hub relies on, and the shapes stored conversations come back in."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

from pydantic import BaseModel, Field, ValidationError

from ..hub.core.events import StreamRecord, StreamStatus
from ..services.secret_ai import ChatTurn, ConversationSettings, GenerationOptions
from ..services.secret_ai.models import Role


class ConversationNotFound(LookupError):
    pass


class MessageNotFound(LookupError):
    """The message does not exist in that conversation (or the conversation is someone else's)."""


# A stream in one of these states has a task behind it; after a restart nothing does any more.
LIVE_STATUSES = frozenset({StreamStatus.CONNECTING, StreamStatus.STREAMING, StreamStatus.PAUSED})


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

    @property
    def model(self) -> str | None:
        return self.metadata.get("model")

    @property
    def partial(self) -> bool:
        """An answer that did not run to its end (stopped, interrupted, failed, timed out)."""
        return self.status is not None and self.status is not StreamStatus.COMPLETED

    def turn(self) -> ChatTurn:
        return ChatTurn(role=self.role, content=self.content, think=self.think)

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
    # The active thread (root -> current leaf) as model turns; a plain list because the
    # in-memory store appends to it in place.
    turns: list[ChatTurn] = Field(default_factory=list)
    answers: dict[int, StreamRecord] = Field(default_factory=dict)  # turn index -> record
    # Filled by the persistent store: the same thread with ids, alternatives and metadata.
    current_leaf_id: str | None = None
    messages: list[StoredMessage] = Field(default_factory=list)
    # Its settings (ConversationSettings), flat so the API shows `system` and `options` as it takes them.
    system: str = ""
    options: GenerationOptions = Field(default_factory=GenerationOptions)

    @property
    def settings(self) -> ConversationSettings:
        return ConversationSettings(system=self.system, options=self.options)


class ConversationSummary(BaseModel):
    """A line in the conversation list."""

    id: str
    title: str
    created_at: datetime
    updated_at: datetime
    # Every message of the tree, alternatives included.
    message_count: int


class ConversationStore(Protocol):
    """What the router needs. Both the in-memory and the SQL store satisfy it."""

    async def create(self, owner: str, title: str,
                     settings: ConversationSettings | None = None) -> StoredConversation: ...

    async def update_settings(self, conversation_id: str, owner: str, settings: ConversationSettings) -> None:
        """Raises ConversationNotFound."""
        ...

    async def get(self, conversation_id: str, owner: str) -> StoredConversation:
        """Raises ConversationNotFound, also when it belongs to someone else."""
        ...

    async def add_user_turn(self, conversation_id: str, owner: str, content: str) -> str | None:
        """Append a user message to the active thread; the persistent store returns its id."""
        ...

    async def save_answer(self, record: StreamRecord) -> str | None:
        """Insert or update the assistant turn written by `record.stream_id`."""
        ...


class HistoryStore(ConversationStore, Protocol):
    """The persistent store: message trees with alternatives, listing, search and maintenance."""

    async def close(self) -> None: ...

    async def add_user_turn(self, conversation_id: str, owner: str, content: str, *,
                            sibling_of: str | None = None) -> str: ...

    async def save_answer(self, record: StreamRecord, *, sibling_of: str | None = None) -> str: ...

    async def list_conversations(self, owner: str, search: str | None = None,
                                 limit: int = 200) -> list[ConversationSummary]: ...

    async def rename(self, conversation_id: str, owner: str, title: str) -> None: ...

    async def delete(self, conversation_id: str, owner: str) -> None: ...

    async def branch_from(self, conversation_id: str, owner: str, message_id: str) -> str | None: ...

    async def select_alternative(self, conversation_id: str, owner: str, message_id: str) -> StoredConversation: ...

    async def all_messages(self, conversation_id: str, owner: str) -> list[StoredMessage]: ...

    async def message(self, conversation_id: str, owner: str, message_id: str) -> StoredMessage: ...

    async def mark_interrupted(self, *, stale_for: timedelta | None = None) -> int: ...

    async def export_json(self, conversation_id: str, owner: str) -> dict[str, Any]: ...

    async def export_all(self, owner: str) -> dict[str, Any]: ...

    async def export_markdown(self, conversation_id: str, owner: str) -> str: ...

    async def import_json(self, owner: str, data: Mapping[str, Any] | str | bytes) -> list[str]: ...
