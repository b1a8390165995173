"""`TemporaryConversations`: temporary chats, kept in this process's memory and nowhere else.

A `ConversationStore` like the database's, with the same message tree (alternatives, regenerate,
edit, continue), so the hub streams into a temporary chat exactly as into a stored one; but no
byte of it reaches storage: not the database, not its WAL, not an export, not the stream bus's
Redis (its streams run on their own in-process bus, see ChatHub). It is gone when its page
closes or reloads (the page forgets it), when it has been idle for IDLE_FOR (an API client's,
which may go on asking in it until then), on delete, and when the process ends.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ..records import (
    AnswerProof, AnswerProvenance, Attachment, ConversationNotFound, ConversationSettings, ConversationSummary,
    ExtractedFile, ImportCandidate,
    MessageNotFound, StoredConversation, StoredMessage, StreamRecord, StreamStatus, LIVE_STATUSES,
)
from .errors import BadMessage

# An API client's temporary chat lives this long after its last write (seconds).
IDLE_FOR = 3600.0
# At most this many temporary chats in one process: beyond it the oldest idle ones are forgotten.
MOST = 1000
NOT_KEPT = "A temporary chat is not kept anywhere, so it cannot be exported."


@dataclass
class _Message:
    message: StoredMessage
    provenance: AnswerProvenance | None = None
    evidence: dict[str, Any] | None = None


@dataclass
class _Chat:
    conversation: StoredConversation  # without messages: the tree is below
    messages: dict[str, _Message] = field(default_factory=dict)  # in insertion order
    children: dict[str | None, list[str]] = field(default_factory=dict)
    touched: float = field(default_factory=time.monotonic)


def _now() -> datetime:
    return datetime.now(timezone.utc)


class TemporaryConversations:
    def __init__(self, idle_for: float = IDLE_FOR, most: int = MOST) -> None:
        self._chats: dict[str, _Chat] = {}
        self._idle_for = idle_for
        self._most = most

    def holds(self, conversation_id: str | None) -> bool:
        return conversation_id is not None and conversation_id in self._chats

    def __len__(self) -> int:
        return len(self._chats)

    def _chat(self, conversation_id: str, owner: str) -> _Chat:
        chat = self._chats.get(conversation_id)
        if chat is None or chat.conversation.owner != owner:
            raise ConversationNotFound(conversation_id)
        chat.touched = time.monotonic()
        return chat

    def _forget_idle(self) -> None:
        now = time.monotonic()
        for conversation_id, chat in list(self._chats.items()):
            if now - chat.touched > self._idle_for and not _streaming(chat):
                del self._chats[conversation_id]
        if len(self._chats) >= self._most:
            idle = sorted((c for c in self._chats.values() if not _streaming(c)), key=lambda c: c.touched)
            for chat in idle[: len(self._chats) - self._most + 1]:
                del self._chats[chat.conversation.id]
        if len(self._chats) >= self._most:
            raise BadMessage(f"{self._most:,} temporary chats are answering at once on this server; "
                             "wait for one to finish.")

    # --- conversations ---------------------------------------------------------------------

    async def create(self, owner: str, title: str, settings: ConversationSettings | None = None) -> StoredConversation:
        self._forget_idle()
        settings = settings or ConversationSettings()
        now = _now()
        conversation = StoredConversation(id=uuid.uuid4().hex, owner=owner, title=title, created_at=now,
                                          updated_at=now, system=settings.system, options=settings.options,
                                          temporary=True)
        self._chats[conversation.id] = _Chat(conversation)
        return conversation.model_copy()

    async def get(self, conversation_id: str, owner: str) -> StoredConversation:
        chat = self._chat(conversation_id, owner)
        path: list[str] = []
        leaf = chat.conversation.current_leaf_id
        while leaf is not None:
            path.append(leaf)
            leaf = chat.messages[leaf].message.parent_id
        return chat.conversation.model_copy(update={"messages": [self._with_siblings(chat, m) for m in reversed(path)]})

    async def message(self, conversation_id: str, owner: str, message_id: str) -> StoredMessage:
        chat = self._chat(conversation_id, owner)
        if message_id not in chat.messages:
            raise MessageNotFound.absent(message_id)
        return self._with_siblings(chat, message_id)

    async def answer_proof(self, conversation_id: str, owner: str, message_id: str) -> AnswerProof:
        message = await self.message(conversation_id, owner, message_id)
        kept = self._chats[conversation_id].messages[message_id]
        return AnswerProof(message=message, provenance=kept.provenance, evidence=kept.evidence)

    async def list_conversations(self, owner: str, search: str | None = None,
                                 limit: int = 200) -> list[ConversationSummary]:
        return []  # never in the conversation list: it is not kept

    async def rename(self, conversation_id: str, owner: str, title: str) -> None:
        title = " ".join(title.split())
        if not title:
            raise ValueError("A conversation needs a title.")
        self._chat(conversation_id, owner).conversation.title = title

    async def update_settings(self, conversation_id: str, owner: str, settings: ConversationSettings) -> None:
        conversation = self._chat(conversation_id, owner).conversation
        conversation.system, conversation.options = settings.system, settings.options

    async def delete(self, conversation_id: str, owner: str) -> None:
        self._chat(conversation_id, owner)
        del self._chats[conversation_id]

    # --- messages --------------------------------------------------------------------------

    async def add_user_turn(self, conversation_id: str, owner: str, content: str, *,
                            sibling_of: str | None = None, attachments: Sequence[str] = ()) -> str:
        if attachments:  # the hub refuses them first: an upload waits on disk until it is sent
            raise BadMessage("Files cannot go with a temporary chat.")
        chat = self._chat(conversation_id, owner)
        return self._append(chat, self._parent_for(chat, sibling_of), role="user", content=content)

    # --- files: none (uploads are stored until sent, so a temporary chat takes none) ---------

    async def add_file(self, owner: str, extracted: ExtractedFile) -> Attachment:
        raise BadMessage("Files cannot go with a temporary chat.")

    async def unsent_files(self, owner: str, file_ids: Sequence[str]) -> list[Attachment]:
        return []

    async def file_contents(self, conversation_id: str, owner: str,
                            message_ids: Sequence[str]) -> dict[str, ExtractedFile]:
        self._chat(conversation_id, owner)
        return {}

    async def storage_bytes(self, conversation_id: str, owner: str) -> int:
        self._chat(conversation_id, owner)
        return 0  # nothing of it is stored

    async def save_answer(self, record: StreamRecord, *, sibling_of: str | None = None) -> str:
        chat = self._chat(record.conversation_id, record.owner)
        meta = {k: v for k, v in record.metadata().items() if k not in ("stream_id", "conversation_id", "status")}
        existing = next((m for m in chat.messages.values() if m.message.stream_id == record.stream_id), None)
        if existing is None:
            message_id = self._append(chat, self._parent_for(chat, sibling_of), role="assistant", content=record.text,
                                      think=record.think, stream_id=record.stream_id, status=record.status,
                                      metadata=meta)
            existing = chat.messages[message_id]
        else:
            existing.message = existing.message.model_copy(update={
                "content": record.text, "think": record.think, "status": record.status, "metadata": meta,
                "updated_at": _now()})
            chat.conversation.updated_at = max(chat.conversation.updated_at, record.ended_at or _now())
        if record.provenance is not None:
            existing.provenance = record.provenance
        if record.evidence is not None:
            existing.evidence = record.evidence
        return existing.message.id

    async def select_alternative(self, conversation_id: str, owner: str, message_id: str) -> StoredConversation:
        chat = self._chat(conversation_id, owner)
        if message_id not in chat.messages:
            raise MessageNotFound.absent(message_id)
        leaf = message_id
        while chat.children.get(leaf):
            leaf = chat.children[leaf][-1]
        chat.conversation.current_leaf_id = leaf
        return await self.get(conversation_id, owner)

    async def mark_stream_interrupted(self, stream_id: str) -> bool:
        for chat in self._chats.values():
            for kept in chat.messages.values():
                if kept.message.stream_id == stream_id and kept.message.status in LIVE_STATUSES:
                    kept.message = kept.message.model_copy(update={"status": StreamStatus.INTERRUPTED})
                    return True
        return False

    # --- never kept, so never exported -----------------------------------------------------

    async def export_json(self, conversation_id: str, owner: str) -> dict[str, Any]:
        self._chat(conversation_id, owner)
        raise BadMessage(NOT_KEPT)

    async def export_markdown(self, conversation_id: str, owner: str) -> str:
        self._chat(conversation_id, owner)
        raise BadMessage(NOT_KEPT)

    async def export_all(self, owner: str) -> dict[str, Any]:
        raise BadMessage(NOT_KEPT)

    async def import_json(self, owner: str, data: Mapping[str, Any] | str | bytes,
                          skip_existing: bool = False) -> list[str]:
        raise BadMessage("An import is kept: it goes into the stored conversations, not a temporary chat.")

    async def preview_import(self, owner: str, data: Mapping[str, Any] | str | bytes) -> list[ImportCandidate]:
        raise BadMessage("An import is kept: it goes into the stored conversations, not a temporary chat.")

    # --- the tree --------------------------------------------------------------------------

    @staticmethod
    def _parent_for(chat: _Chat, sibling_of: str | None) -> str | None:
        if sibling_of is None:
            return chat.conversation.current_leaf_id
        if sibling_of not in chat.messages:
            raise MessageNotFound.absent(sibling_of)
        return chat.messages[sibling_of].message.parent_id

    @staticmethod
    def _append(chat: _Chat, parent_id: str | None, **values: Any) -> str:
        now = _now()
        message = StoredMessage(id=uuid.uuid4().hex, parent_id=parent_id, created_at=now, updated_at=now, **values)
        chat.messages[message.id] = _Message(message)
        chat.children.setdefault(parent_id, []).append(message.id)
        chat.conversation.current_leaf_id = message.id
        chat.conversation.updated_at = now
        return message.id

    @staticmethod
    def _with_siblings(chat: _Chat, message_id: str) -> StoredMessage:
        message = chat.messages[message_id].message
        siblings = chat.children.get(message.parent_id, [message_id])
        return message.model_copy(update={"sibling_ids": list(siblings), "sibling_index": siblings.index(message_id)})


def _streaming(chat: _Chat) -> bool:
    return any(m.message.status in LIVE_STATUSES for m in chat.messages.values())
