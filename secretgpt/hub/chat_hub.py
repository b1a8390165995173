"""`ChatHub`: what the interfaces can do — open, send, stop, pause, resume, rename, delete, export
and import — with the same rules for the page and the API. It owns the streams (their registry
and limits) and is the only one that writes conversations while they stream."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..config import Settings
from ..proofs import SignedProof
from ..records import ChatTurn, ConversationSettings, GenerationOptions
from ..services.attestation import AttestationService
from ..services.secret_ai import Catalog, ErrorKind, ModelInfo, SecretAIError, SecretAIService
from ..storage import SqlConversationStore
from ..records import ConversationSummary, ImportCandidate, MessageNotFound, StoredConversation, StoredMessage
from ..storage.failures import failure_reason
from .admission import Via
from .errors import BadMessage, ConversationBusy, StreamNotFound, TooManyStreams
from ..records import well_formed
from .attestation_desk import AttestationDesk
from .errors import NoProof
from .deadlines import StreamLimits
from .registry import StreamRegistry
from .errors import TooManyStreams
from .saving import SaveRetrier
from .stream import ActiveStream
from .witness import AnswerWitness

log = logging.getLogger(__name__)

__all__ = ["BadMessage", "ChatHub", "ConversationBusy", "OpenConversation", "StreamNotFound", "TooManyStreams"]


@dataclass(frozen=True)
class OpenConversation:
    conversation: StoredConversation
    stream: ActiveStream | None  # an answer still streaming in it, to re-attach to


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


class ChatHub:
    def __init__(self, settings: Settings, service: SecretAIService, store: SqlConversationStore,
                 attestation: AttestationService | None = None) -> None:
        self._settings = settings
        self._service = service
        self._store = store
        # Attestation of model hosts and answer proofs: the interfaces ask `hub.attestation`.
        self.attestation = AttestationDesk(attestation or AttestationService(settings.attestation),
                                           settings.ensure_data_dir, lambda: self._service.catalog,
                                           policy=settings.attestation_policy)
        self._registry = StreamRegistry(settings.max_concurrent_streams, settings.stream_retention)
        self.limits = StreamLimits(
            stream_timeout=settings.stream_timeout,
            idle_timeout=settings.stream_idle_timeout,
            first_token_timeout=settings.stream_first_token_timeout,
            detach_grace=settings.stream_detach_grace,
            chunk_size=settings.streaming_chunk_size,
        )
        self.save_retrier = SaveRetrier(lambda record: self._store.save_answer(record))

    @property
    def catalog(self) -> Catalog:
        """The models this server can use (or why there are none)."""
        return self._service.catalog

    # --- conversations ------------------------------------------------------------------------

    async def open(self, conversation_id: str, *, owner: str) -> OpenConversation:
        """A conversation as stored, with the answer still streaming in it (if any). Raises
        ConversationNotFound."""
        # An answer that has just ended may not be stored in its final form yet.
        await self._registry.wait_saved(conversation_id, owner)
        conversation = await self._store.get(conversation_id, owner)
        return OpenConversation(conversation, self._registry.for_conversation(conversation.id))

    async def conversation(self, conversation_id: str, *, owner: str) -> StoredConversation:
        return await self._store.get(conversation_id, owner)

    async def message(self, conversation_id: str, message_id: str, *, owner: str) -> StoredMessage:
        return await self._store.message(conversation_id, owner, message_id)

    async def list_conversations(self, *, owner: str, search: str | None = None,
                                 limit: int = 200) -> list[ConversationSummary]:
        return await self._store.list_conversations(owner, search=search, limit=limit)

    async def proof(self, conversation_id: str, message_id: str, *, owner: str) -> SignedProof:
        """The signed proof of one answer. Raises ConversationNotFound, MessageNotFound, NoProof."""
        await self._registry.wait_saved(conversation_id, owner)
        found = await self._store.answer_proof(conversation_id, owner, message_id)
        try:
            return self.attestation.sign(conversation_id, found)
        except ValueError as exc:  # stored data this version cannot read (pydantic's errors included)
            raise NoProof(f"The proof of answer {message_id} cannot be made from what is stored "
                          f"({type(exc).__name__}).") from None

    async def select_alternative(self, conversation_id: str, message_id: str, *, owner: str) -> StoredConversation:
        return await self._store.select_alternative(conversation_id, owner, message_id)

    async def rename(self, conversation_id: str, title: str, *, owner: str) -> None:
        """Raises ValueError for an empty title, ConversationNotFound."""
        await self._store.rename(conversation_id, owner, well_formed(title))

    async def update_conversation(self, conversation_id: str, *, owner: str, title: str | None = None,
                                  system: str | None = None,
                                  options: GenerationOptions | None = None) -> StoredConversation:
        """Rename and/or change the settings for the next answers (None: unchanged; options are
        replaced as a whole). Returns the conversation as it now is."""
        if title is not None:
            await self.rename(conversation_id, title, owner=owner)
        conversation = await self._store.get(conversation_id, owner)
        settings = conversation.settings.changed(_well_formed(system), options)
        if settings != conversation.settings:
            await self._store.update_settings(conversation_id, owner, settings)
        return conversation.model_copy(update={"system": settings.system, "options": settings.options})

    async def delete(self, conversation_id: str, *, owner: str) -> None:
        """Raises ConversationBusy while an answer streams in it, ConversationNotFound."""
        if self._registry.for_conversation(conversation_id) is not None:
            raise ConversationBusy()
        await self._store.delete(conversation_id, owner)

    async def export_json(self, conversation_id: str, *, owner: str) -> dict[str, Any]:
        return await self._store.export_json(conversation_id, owner)

    async def export_markdown(self, conversation_id: str, *, owner: str) -> str:
        return await self._store.export_markdown(conversation_id, owner)

    async def export_all(self, *, owner: str) -> dict[str, Any]:
        return await self._store.export_all(owner)

    async def import_json(self, data: Mapping[str, Any] | str | bytes, *, owner: str,
                          skip_existing: bool = False) -> list[str]:
        """Raises InvalidImport (ImportTooLarge over a cap on messages or conversations), having
        changed nothing. Every conversation becomes a new one (a copy, if the owner already has
        it) unless `skip_existing`. The file is parsed on a worker thread."""
        return await self._store.import_json(owner, data, skip_existing=skip_existing)

    async def preview_import(self, data: Mapping[str, Any] | str | bytes, *, owner: str) -> list[ImportCandidate]:
        """What an import would bring, and which of it the owner already has. Raises InvalidImport."""
        return await self._store.preview_import(owner, data)

    # --- streams ------------------------------------------------------------------------------

    def validate(self, message: str) -> str:
        """The message as it will be sent (lone surrogates, which the page's websocket can carry,
        made U+FFFD). Raises BadMessage."""
        if not message or not message.strip():
            raise BadMessage("The message is empty. Type something to send.")
        self.validate_length(len(message))
        return well_formed(message)

    def validate_length(self, length: int) -> None:
        """The length check alone: the page knows only the length of a text too long to carry."""
        if length > self._settings.max_message_chars:
            raise BadMessage(f"The message is {length:,} characters long; the limit is "
                             f"{self._settings.max_message_chars:,} (MAX_MESSAGE_CHARS).")

    async def send(
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
        allow_unverified: bool = False,
        via: Via = "api",
    ) -> ActiveStream:
        """Start an answer. Raises BadMessage, SecretAIError (no such model / none available; the
        host not verified: HostNotVerified), ConversationNotFound, MessageNotFound or TooManyStreams
        — all before anything is stored.

        Variants (each a message id in the conversation's active thread):
        `regenerate` answers that answer's question again, kept as an alternative to it;
        `edit` asks `message` in place of that user message (the old one stays as an alternative);
        `continue_from` asks the model to carry on a stopped or interrupted answer.
        `system` / `options` (None: unchanged) become the conversation's settings from this answer on;
        a new conversation starts from DEFAULT_SYSTEM_PROMPT and the model's own defaults;
        `cancel_when_orphaned`: stop the answer when its last follower leaves for good (the API);
        `allow_unverified`: send even to a host that is not verified (`via`: who chose, for the proof).
        """
        message, info = self._checked(message, model, regenerate, edit, continue_from)
        system = _well_formed(system)
        admission = await self.attestation.admit(info, owner=owner, allow_unverified=allow_unverified, via=via)
        conversation = await self._conversation_for(message, owner, conversation_id, system, options,
                                                    variant=regenerate or edit or continue_from)
        turn = await self._turn(conversation, owner, message, regenerate=regenerate, edit=edit,
                                continue_from=continue_from)
        settings = await self._settings_from_now_on(conversation, owner, system, options)
        messages = with_system(settings.system, turn.messages)
        witness = AnswerWitness(self.attestation.attestation_service, info.url, demo=info.demo, admission=admission)
        stream = self._registry.open(lambda stream_id: ActiveStream(
            stream_id, owner=owner, conversation_id=conversation.id, model=info.name, messages=messages,
            service=self._service, limits=self.limits, streaming=streaming,
            cancel_when_orphaned=cancel_when_orphaned, on_end=self._stream_ended, on_checkpoint=self._checkpoint,
            settings=settings, witness=witness), start=False)
        stream.user_message_id = turn.user_message_id
        if turn.prefix is not None:
            stream.seed(turn.prefix.content, turn.prefix.think)
        try:
            # Saved before the first token, under the right question: a crash from here on still
            # leaves the answer in the conversation (as interrupted).
            stream.message_id = await self._store.save_answer(stream.record(), sibling_of=turn.sibling_of)
        except BaseException:
            self._registry.discard(stream.id)
            raise
        stream.start()
        return stream

    def _checked(self, message: str, model: str | None, *variants: str | None) -> tuple[str, ModelInfo]:
        """The cheap refusals, before anything waits or is stored; the message as it will be sent,
        and the model to answer with."""
        regenerate, edit, continue_from = variants
        if sum(v is not None for v in variants) > 1:
            raise BadMessage("Choose one of regenerate, edit and continue.")
        if regenerate is None and continue_from is None:
            message = self.validate(message)
        info = self._service.resolve(model)
        self._registry.reserve()
        return message, info

    async def _conversation_for(self, message: str, owner: str, conversation_id: str | None, system: str | None,
                                options: GenerationOptions | None, variant: str | None) -> StoredConversation:
        if conversation_id is None:
            if variant is not None:
                raise MessageNotFound("There is no such message in a new conversation.")
            defaults = ConversationSettings(system=self._settings.default_system_prompt)
            return await self._store.create(owner, title_from(message), settings=defaults.changed(system, options))
        # An answer's final save lands just after its `done` event, and a client may already be
        # sending the next message: without this wait the model would miss that answer.
        await self._registry.wait_saved(conversation_id, owner)
        if self._registry.for_conversation(conversation_id) is not None:
            raise BadMessage("An answer is still streaming in this conversation. Stop it or wait for it to end.")
        return await self._store.get(conversation_id, owner)

    async def _turn(self, conversation: StoredConversation, owner: str, message: str, *, regenerate: str | None,
                    edit: str | None, continue_from: str | None) -> _Turn:
        """What the model is asked, and where the answer goes in the tree."""
        thread = conversation.messages
        target = regenerate or edit or continue_from
        if target is None:
            user_message_id = await self._store.add_user_turn(conversation.id, owner, message)
            return _Turn([*model_context(thread), ChatTurn(role="user", content=message)], user_message_id)
        index = next((i for i, m in enumerate(thread) if m.id == target), None)
        expected = "user" if edit else "assistant"
        if index is None or thread[index].role != expected:
            raise MessageNotFound(f"No {expected} message {target!r} in this conversation.")
        if regenerate:
            turn = _Turn(model_context(thread[:index]), sibling_of=regenerate)
        elif edit:
            user_message_id = await self._store.add_user_turn(conversation.id, owner, message, sibling_of=edit)
            turn = _Turn([*model_context(thread[:index]), ChatTurn(role="user", content=message)], user_message_id)
        else:
            turn = _Turn(model_context(thread[: index + 1]), sibling_of=continue_from, prefix=thread[index])
        if not turn.messages or turn.messages[-1].role == "system":
            raise BadMessage("There is no question to answer here.")
        return turn

    async def _settings_from_now_on(self, conversation: StoredConversation, owner: str, system: str | None,
                                    options: GenerationOptions | None) -> ConversationSettings:
        """What a request gave becomes the conversation's settings (stored) from this answer on."""
        settings = conversation.settings.changed(system, options)
        if settings != conversation.settings:
            await self._store.update_settings(conversation.id, owner, settings)
        return settings

    def stream(self, stream_id: str, *, owner: str) -> ActiveStream:
        """A stream of this owner's, running or ended lately (STREAM_RETENTION). Raises StreamNotFound."""
        stream = self._registry.get(stream_id)
        if stream is None or stream.owner != owner:
            raise StreamNotFound(stream_id)
        return stream

    def active_streams(self, *, owner: str | None = None) -> list[ActiveStream]:
        """Streams that have not ended (paused ones whose model has finished included)."""
        return self._registry.get_active_streams(owner)

    def stop(self, stream_id: str, *, owner: str) -> ActiveStream:
        """Close the model connection now; the partial answer is kept."""
        stream = self.stream(stream_id, owner=owner)
        stream.cancel()
        return stream

    def pause(self, stream_id: str, *, owner: str) -> ActiveStream:
        """Hold delivery; the model keeps writing into a buffer."""
        stream = self.stream(stream_id, owner=owner)
        stream.pause()
        return stream

    def resume(self, stream_id: str, *, owner: str) -> ActiveStream:
        """Deliver everything held, then continue live."""
        stream = self.stream(stream_id, owner=owner)
        stream.resume()
        return stream

    async def shutdown(self) -> None:
        # First: answers being interrupted must not wait for (or start) an attestation.
        await self.attestation.attestation_service.aclose()
        await self._registry.interrupt_all()
        await self.save_retrier.close()

    # --- saving -------------------------------------------------------------------------------

    async def _checkpoint(self, stream: ActiveStream) -> None:
        await self._store.save_answer(stream.record())

    async def _stream_ended(self, stream: ActiveStream) -> None:
        self._registry.mark_ended(stream)
        record = stream.record()
        log.info("stream %s ended: %s, %d chunks", stream.id, record.status.value, record.chunks)
        try:
            await self._store.save_answer(record)
        except Exception as exc:
            reason = failure_reason(exc)
            log.error("stream %s: saving the answer failed (%s); retrying in the background", stream.id, reason)
            self.save_retrier.retry(record)
            raise SecretAIError(ErrorKind.STORAGE, f"The answer could not be saved ({reason}). What arrived is "
                                "shown but not stored; the server keeps trying to save it.") from None


def _well_formed(text: str | None) -> str | None:
    return None if text is None else well_formed(text)


@dataclass(frozen=True)
class _Turn:
    messages: list[ChatTurn]
    user_message_id: str | None = None
    sibling_of: str | None = None
    prefix: StoredMessage | None = None  # Continue: the partial answer this one carries on
