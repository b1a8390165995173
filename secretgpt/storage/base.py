"""The storage contract the hub relies on."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, Field

from ..hub.core.events import StreamRecord
from ..services.secret_ai import ChatTurn


class ConversationNotFound(LookupError):
    pass


class StoredConversation(BaseModel):
    id: str
    owner: str
    title: str
    created_at: datetime
    updated_at: datetime
    turns: list[ChatTurn] = Field(default_factory=list)
    answers: dict[int, StreamRecord] = Field(default_factory=dict)  # turn index -> record


class ConversationStore(Protocol):
    async def create(self, owner: str, title: str) -> StoredConversation: ...

    async def get(self, conversation_id: str, owner: str) -> StoredConversation:
        """Raises ConversationNotFound, also when it belongs to someone else."""
        ...

    async def add_user_turn(self, conversation_id: str, owner: str, content: str) -> None: ...

    async def save_answer(self, record: StreamRecord) -> None:
        """Insert or update the assistant turn written by `record.stream_id`."""
        ...
