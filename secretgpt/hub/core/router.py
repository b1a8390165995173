"""`HubRouter`: turns a user message into a stream, with the conversation as context."""

from __future__ import annotations

import logging

from ...config import Settings
from ...services.secret_ai import (
    ChatTurn, ConversationSettings, ErrorKind, GenerationOptions, SecretAIError, SecretAIService,
)
from ...storage import ConversationNotFound, HistoryStore, MessageNotFound, StoredConversation, StoredMessage
from ...storage.failures import failure_reason
from .events import StreamRecord
from .registry import StreamRegistry, TooManyStreams
from .save_retry import SaveRetrier
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


def model_context(messages: list[StoredMessage]) -> list[ChatTurn]:
    """What the model sees: the thread without reasoning, and without answers that hold nothing
    (failed before the first token) — they would teach the model to say nothing."""
    return [ChatTurn(role=m.role, content=m.content) for m in messages
            if m.role != "assistant" or m.content.strip()]


def with_system(system: str, messages: list[ChatTurn]) -> list[ChatTurn]:
    """The conversation's system prompt goes first, as every chat API expects it."""
    return [ChatTurn(role="system", content=system), *messages] if system.strip() else messages


class HubRouter:
    def __init__(self, settings: Settings, service: SecretAIService, store: HistoryStore | None = None,
                 registry: StreamRegistry | None = None) -> None:
        self.settings = settings
        self.service = service
        self._store = store
        self.registry = registry or StreamRegistry(settings.max_concurrent_streams, settings.stream_retention)
        self.limits = StreamLimits(
            stream_timeout=settings.stream_timeout,
            idle_timeout=settings.stream_idle_timeout,
            first_token_timeout=settings.stream_first_token_timeout,
            detach_grace=settings.stream_detach_grace,
            chunk_size=settings.streaming_chunk_size,
        )
        self.save_retrier = SaveRetrier(lambda record: self.store.save_answer(record))

    @property
    def store(self) -> HistoryStore:
        if self._store is None:
            raise RuntimeError("conversation storage is not open yet")
        return self._store

    @store.setter
    def store(self, store: HistoryStore) -> None:
        self._store = store

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
        regenerate: str | None = None,
        edit: str | None = None,
        continue_from: str | None = None,
        system: str | None = None,
        options: GenerationOptions | None = None,
    ) -> ActiveStream:
        """Start an answer. Raises BadMessage, SecretAIError (no such model / none available),
        ConversationNotFound, MessageNotFound or TooManyStreams — all before anything is stored.

        Variants (each a message id in the conversation's active thread):
        `regenerate` answers that answer's question again, kept as an alternative to it;
        `edit` asks `message` in place of that user message (the old one stays as an alternative);
        `continue_from` asks the model to carry on a stopped or interrupted answer.
        `system` / `options` (None: unchanged) become the conversation's settings from this answer on;
        a new conversation starts from DEFAULT_SYSTEM_PROMPT and the model's own defaults.
        """
        if sum(v is not None for v in (regenerate, edit, continue_from)) > 1:
            raise BadMessage("Choose one of regenerate, edit and continue.")
        if regenerate is None and continue_from is None:
            self.validate(message)
        info = self.service.resolve(model)
        if len(self.registry.upstream_streams()) >= self.registry.max_concurrent:
            raise TooManyStreams(self.registry.max_concurrent)
        if conversation_id is None:
            if regenerate or edit or continue_from:
                raise MessageNotFound("There is no such message in a new conversation.")
            defaults = ConversationSettings(system=self.settings.default_system_prompt)
            conversation = await self.store.create(owner, title_from(message),
                                                   settings=defaults.changed(system, options))
        else:
            # An answer's final save lands just after its `done` event, and a client may already be
            # sending the next message: without this wait the model would miss that answer.
            await self.registry.wait_saved(conversation_id)
            if self.registry.for_conversation(conversation_id) is not None:
                raise BadMessage("An answer is still streaming in this conversation. Stop it or wait for it to end.")
            conversation = await self.store.get(conversation_id, owner)
        thread = conversation.messages
        sibling_of: str | None = None
        prefix: StoredMessage | None = None
        user_message_id: str | None = None
        target = regenerate or edit or continue_from
        if target is not None:
            index = next((i for i, m in enumerate(thread) if m.id == target), None)
            expected = "user" if edit else "assistant"
            if index is None or thread[index].role != expected:
                raise MessageNotFound(f"No {expected} message {target!r} in this conversation.")
            if regenerate:
                messages, sibling_of = model_context(thread[:index]), regenerate
            elif edit:
                user_message_id = await self.store.add_user_turn(conversation.id, owner, message, sibling_of=edit)
                messages = [*model_context(thread[:index]), ChatTurn(role="user", content=message)]
            else:
                prefix, sibling_of = thread[index], continue_from
                messages = model_context(thread[: index + 1])
            if not messages or messages[-1].role == "system":
                raise BadMessage("There is no question to answer here.")
        else:
            user_message_id = await self.store.add_user_turn(conversation.id, owner, message)
            messages = [*model_context(thread), ChatTurn(role="user", content=message)]
        settings = await self._settings_from_now_on(conversation, owner, system, options)
        messages = with_system(settings.system, messages)
        stream = self.registry.open(lambda stream_id: self._build(
            stream_id, owner, conversation.id, info.name, messages, streaming, cancel_when_orphaned, settings),
            start=False)
        stream.user_message_id = user_message_id
        if prefix is not None:
            stream.seed(prefix.content, prefix.think)
        try:
            # Saved before the first token, under the right question: a crash from here on still
            # leaves the answer in the conversation (as interrupted).
            stream.message_id = await self.store.save_answer(stream.record(), sibling_of=sibling_of)
        except BaseException:
            self.registry.discard(stream.id)
            raise
        stream.start()
        return stream

    async def _settings_from_now_on(self, conversation: StoredConversation, owner: str, system: str | None,
                                    options: GenerationOptions | None) -> ConversationSettings:
        """What a request gave becomes the conversation's settings (stored) from this answer on."""
        settings = conversation.settings.changed(system, options)
        if settings != conversation.settings:
            await self.store.update_settings(conversation.id, owner, settings)
        return settings

    def _build(self, stream_id: str, owner: str, conversation_id: str, model: str, messages: list[ChatTurn],
               streaming: bool, cancel_when_orphaned: bool, settings: ConversationSettings) -> ActiveStream:
        return ActiveStream(
            stream_id,
            owner=owner,
            conversation_id=conversation_id,
            model=model,
            messages=messages,
            service=self.service,
            limits=self.limits,
            streaming=streaming,
            cancel_when_orphaned=cancel_when_orphaned,
            on_end=self._stream_ended,
            on_checkpoint=self._checkpoint,
            settings=settings,
        )

    async def route_message(self, message: str, *, owner: str, conversation_id: str | None = None,
                            model: str | None = None, system: str | None = None,
                            options: GenerationOptions | None = None) -> StreamRecord:
        """The whole answer from one non-streaming request."""
        stream = await self.stream_message(message, owner=owner, conversation_id=conversation_id, model=model,
                                           streaming=False, system=system, options=options)
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
        await self.registry.interrupt_all()
        await self.save_retrier.close()

    async def _checkpoint(self, stream: ActiveStream) -> None:
        await self.store.save_answer(stream.record())

    async def _stream_ended(self, stream: ActiveStream) -> None:
        self.registry.mark_ended(stream)
        record = stream.record()
        log.info("stream %s ended: %s, %d chunks", stream.id, record.status.value, record.chunks)
        try:
            await self.store.save_answer(record)
        except Exception as exc:
            reason = failure_reason(exc)
            log.error("stream %s: saving the answer failed (%s); retrying in the background", stream.id, reason)
            self.save_retrier.retry(record)
            raise SecretAIError(ErrorKind.STORAGE, f"The answer could not be saved ({reason}). What arrived is "
                                "shown but not stored; the server keeps trying to save it.") from None


# Re-exported for interfaces that map errors to HTTP status codes.
__all__ += ["ConversationNotFound", "ErrorKind", "MessageNotFound", "SecretAIError"]
