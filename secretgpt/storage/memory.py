"""A process-local store: conversations live as long as the server."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from ..hub.core.events import StreamRecord
from ..services.secret_ai import ChatTurn
from .base import ConversationNotFound, StoredConversation


class MemoryConversationStore:
    def __init__(self) -> None:
        self._conversations: dict[str, StoredConversation] = {}
        self._answer_index: dict[str, int] = {}  # stream id -> turn index

    async def create(self, owner: str, title: str) -> StoredConversation:
        now = datetime.now(timezone.utc)
        conv = StoredConversation(id=uuid.uuid4().hex, owner=owner, title=title, created_at=now, updated_at=now)
        self._conversations[conv.id] = conv
        return conv

    async def get(self, conversation_id: str, owner: str) -> StoredConversation:
        conv = self._conversations.get(conversation_id)
        if conv is None or conv.owner != owner:
            raise ConversationNotFound(conversation_id)
        return conv

    async def add_user_turn(self, conversation_id: str, owner: str, content: str) -> None:
        conv = await self.get(conversation_id, owner)
        conv.turns.append(ChatTurn(role="user", content=content))
        conv.updated_at = datetime.now(timezone.utc)

    async def save_answer(self, record: StreamRecord) -> None:
        conv = await self.get(record.conversation_id, record.owner)
        turn = ChatTurn(role="assistant", content=record.text, think=record.think)
        index = self._answer_index.get(record.stream_id)
        if index is None:
            conv.turns.append(turn)
            index = len(conv.turns) - 1
            self._answer_index[record.stream_id] = index
        else:
            conv.turns[index] = turn
        conv.answers[index] = record
        conv.updated_at = datetime.now(timezone.utc)
