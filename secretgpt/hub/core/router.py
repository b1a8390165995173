"""`HubRouter`: turns a user message into a stream, with the conversation as context."""

from __future__ import annotations

import logging

from ...config import Settings
from ...services.secret_ai import ChatTurn, ErrorKind, SecretAIError, SecretAIService
from ...storage import ConversationNotFound, ConversationStore
from .events import StreamRecord
from .registry import StreamRegistry, TooManyStreams
from .stream import ActiveStream, StreamLimits

log = logging.getLogger(__name__)

__all__ = ["BadMessage", "HubRouter", "StreamNotFound", "TooManyStreams"]


class BadMessage(ValueError):
    """The message cannot be sent as it is; the text says why."""


class StreamNotFound(LookupError):
    pass


def title_from(message: str) -> str:
    words = " ".join(message.split())
    return words if len(words) <= 60 else words[:59].rstrip() + "…"


def model_context(turns: list[ChatTurn]) -> list[ChatTurn]:
    """What the model sees: the conversation without reasoning, one answer per question
    (of repeated answers, e.g. after a retry, the last)."""
    out: list[ChatTurn] = []
    for turn in turns:
        if turn.role == "assistant" and out and out[-1].role == "assistant":
            out.pop()
        out.append(ChatTurn(role=turn.role, content=turn.content))
    return out


class HubRouter:
    def __init__(self, settings: Settings, service: SecretAIService, store: ConversationStore,
                 registry: StreamRegistry | None = None) -> None:
        self.settings = settings
        self.service = service
        self.store = store
        self.registry = registry or StreamRegistry(settings.max_concurrent_streams, settings.stream_retention)
        self.limits = StreamLimits(
            stream_timeout=settings.stream_timeout,
            idle_timeout=settings.stream_idle_timeout,
            first_token_timeout=settings.stream_first_token_timeout,
            detach_grace=settings.stream_detach_grace,
            chunk_size=settings.streaming_chunk_size,
        )

    def validate(self, message: str) -> str:
        if not message or not message.strip():
            raise BadMessage("The message is empty. Type something to send.")
        if len(message) > self.settings.max_message_chars:
            raise BadMessage(f"The message is {len(message):,} characters long; the limit is "
                             f"{self.settings.max_message_chars:,} (MAX_MESSAGE_CHARS).")
        return message

    async def stream_message(
        self,
        message: str,
        *,
        owner: str,
        conversation_id: str | None = None,
        model: str | None = None,
        streaming: bool = True,
        cancel_when_orphaned: bool = False,
        retry: bool = False,
    ) -> ActiveStream:
        """Start an answer. Raises BadMessage, SecretAIError (no such model / none available),
        ConversationNotFound, or TooManyStreams — all before anything is stored.

        `retry`: answer the conversation's last user message again instead of adding `message`.
        """
        if not retry:
            self.validate(message)
        info = self.service.resolve(model)
        if len(self.registry.upstream_streams()) >= self.registry.max_concurrent:
            raise TooManyStreams(self.registry.max_concurrent)
        if conversation_id is None:
            if retry:
                raise BadMessage("There is nothing to retry in a new conversation.")
            conversation = await self.store.create(owner, title_from(message))
        else:
            conversation = await self.store.get(conversation_id, owner)
            if self.registry.for_conversation(conversation.id) is not None:
                raise BadMessage("An answer is still streaming in this conversation. Stop it or wait for it to end.")
        history = model_context(conversation.turns)
        if retry:
            while history and history[-1].role == "assistant":
                history.pop()
            if not history:
                raise BadMessage("There is nothing to retry in this conversation.")
            messages = history
        else:
            await self.store.add_user_turn(conversation.id, owner, message)
            messages = [*history, ChatTurn(role="user", content=message)]
        return self.registry.open(lambda stream_id: ActiveStream(
            stream_id,
            owner=owner,
            conversation_id=conversation.id,
            model=info.name,
            messages=messages,
            service=self.service,
            limits=self.limits,
            streaming=streaming,
            cancel_when_orphaned=cancel_when_orphaned,
            on_end=self._stream_ended,
        ))

    async def route_message(self, message: str, *, owner: str, conversation_id: str | None = None,
                            model: str | None = None) -> StreamRecord:
        """The whole answer from one non-streaming request."""
        stream = await self.stream_message(message, owner=owner, conversation_id=conversation_id, model=model,
                                           streaming=False)
        try:
            return await stream.wait()
        except BaseException:
            stream.cancel()
            raise

    def get_active_streams(self, owner: str | None = None) -> list[ActiveStream]:
        return self.registry.get_active_streams(owner)

    def stream_for(self, stream_id: str, owner: str) -> ActiveStream:
        stream = self.registry.get(stream_id)
        if stream is None or stream.owner != owner:
            raise StreamNotFound(stream_id)
        return stream

    def pause(self, stream_id: str, owner: str) -> ActiveStream:
        stream = self.stream_for(stream_id, owner)
        stream.pause()
        return stream

    def resume(self, stream_id: str, owner: str) -> ActiveStream:
        stream = self.stream_for(stream_id, owner)
        stream.resume()
        return stream

    def cancel(self, stream_id: str, owner: str) -> ActiveStream:
        stream = self.stream_for(stream_id, owner)
        stream.cancel()
        return stream

    async def shutdown(self) -> None:
        await self.registry.cancel_all()

    async def _stream_ended(self, stream: ActiveStream) -> None:
        self.registry.mark_ended(stream)
        record = stream.record()
        log.info("stream %s ended: %s, %d chunks", stream.id, record.status.value, record.chunks)
        await self.store.save_answer(record)


# Re-exported for interfaces that map errors to HTTP status codes.
__all__ += ["ConversationNotFound", "ErrorKind", "SecretAIError"]
