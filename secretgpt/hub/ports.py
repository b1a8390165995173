"""What the hub needs of the layers below it, as interfaces it owns: a conversation store
(`storage.SqlConversationStore`) and a model client (`services.secret_ai.SecretAIService`). The
stream bus, the third, is in `bus.py`. They are Protocols: the implementations need not know them.

Beside them, what the hub tells whoever watches it (`HubObserver`: the app's metrics,
`secretgpt.metrics`), so the hub counts nothing itself and knows no metrics library.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Protocol

from ..records import (
    AnswerProof, Attachment, Catalog, ExtractedFile, ChatTurn, ConversationSettings, ConversationSummary, GenerationOptions, ImportCandidate,
    ModelInfo, StoredConversation, StoredMessage, StreamChunk, StreamRecord, Usage,
)


class ConversationStore(Protocol):
    """Conversations as message trees with alternatives, per owner."""

    async def create(self, owner: str, title: str, settings: ConversationSettings | None = None) -> StoredConversation: ...
    async def get(self, conversation_id: str, owner: str) -> StoredConversation: ...
    async def message(self, conversation_id: str, owner: str, message_id: str) -> StoredMessage: ...
    async def answer_proof(self, conversation_id: str, owner: str, message_id: str) -> AnswerProof: ...
    async def list_conversations(self, owner: str, search: str | None = None,
                                 limit: int = 200) -> list[ConversationSummary]: ...
    async def rename(self, conversation_id: str, owner: str, title: str) -> None: ...
    async def update_settings(self, conversation_id: str, owner: str, settings: ConversationSettings) -> None: ...
    async def delete(self, conversation_id: str, owner: str) -> None: ...
    async def add_user_turn(self, conversation_id: str, owner: str, content: str, *,
                            sibling_of: str | None = None, attachments: Sequence[str] = ()) -> str: ...
    async def add_file(self, owner: str, extracted: ExtractedFile) -> Attachment: ...
    async def unsent_files(self, owner: str, file_ids: Sequence[str]) -> list[Attachment]: ...
    async def file_contents(self, conversation_id: str, owner: str,
                            message_ids: Sequence[str]) -> dict[str, ExtractedFile]: ...
    async def storage_bytes(self, conversation_id: str, owner: str) -> int: ...
    async def save_answer(self, record: StreamRecord, *, sibling_of: str | None = None) -> str: ...
    async def select_alternative(self, conversation_id: str, owner: str, message_id: str) -> StoredConversation: ...
    async def export_json(self, conversation_id: str, owner: str) -> dict[str, Any]: ...
    async def export_all(self, owner: str) -> dict[str, Any]: ...
    async def export_markdown(self, conversation_id: str, owner: str) -> str: ...
    async def import_json(self, owner: str, data: Mapping[str, Any] | str | bytes,
                          skip_existing: bool = False) -> list[str]: ...
    async def preview_import(self, owner: str, data: Mapping[str, Any] | str | bytes) -> list[ImportCandidate]: ...
    async def mark_stream_interrupted(self, stream_id: str) -> bool: ...
    async def ping(self) -> None:
        """Raise if the database cannot be reached (readiness)."""
        ...


class ModelClient(Protocol):
    """The model side: which models there are, and one answer as chunks (closing the iterator
    closes the model connection)."""

    @property
    def catalog(self) -> Catalog: ...

    def resolve(self, model: str | None) -> ModelInfo: ...

    def stream_invoke(self, messages: list[ChatTurn], model: str | None = None, *, stream: bool = True,
                      options: GenerationOptions | None = None) -> AsyncIterator[StreamChunk | Usage]: ...

    async def aclose(self) -> None: ...


class HubObserver(Protocol):
    """What happens to streams, saves and model hosts on this instance, as it happens. Each call is
    cheap and must not raise: it runs where streams begin and end, never per token."""

    def stream_started(self) -> None: ...

    def stream_ended(self, record: StreamRecord) -> None:
        """Its final record (outcome, error kind, timings, tokens), once it is saved or not."""
        ...

    def stream_paused(self) -> None: ...

    def reader_attached(self) -> None:
        """An API client follows a stream's events here (SSE); `reader_detached` when it leaves."""
        ...

    def reader_detached(self) -> None: ...

    def save_failed(self) -> None:
        """A save of an answer failed (a checkpoint, the final save, or a retry of it)."""
        ...

    def host_attested(self, origin: str, status: str) -> None:
        """A model host was attested: verified, unbound, unverified or failed."""
        ...


class Unobserved:
    """A hub nobody watches (tests, tools)."""

    def stream_started(self) -> None:
        pass

    def stream_ended(self, record: StreamRecord) -> None:
        pass

    def stream_paused(self) -> None:
        pass

    def reader_attached(self) -> None:
        pass

    def reader_detached(self) -> None:
        pass

    def save_failed(self) -> None:
        pass

    def host_attested(self, origin: str, status: str) -> None:
        pass
