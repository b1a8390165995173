"""`ChatHub`: what the interfaces can do — open, send, stop, pause, resume, rename, delete, export
and import — with the same rules for the page and the API. It is the only one that writes
conversations while they stream; the streams themselves (this instance's, and the deployment's
through the stream bus) are `Streams`'."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..config import Settings
from ..proofs import SignedProof
from ..records import (
    Attachment, CannotSeeImages, Catalog, can_see_images, ConversationNotFound, ConversationSummary, GenerationOptions, ImportCandidate, ModelInfo, StoredConversation, StoredMessage,
    well_formed,
)
from ..services.attestation import AttestationService
from ..services.documents import FileReader
from .admission import Via
from .attestation_desk import AttestationDesk
from .bus import StreamBus
from .deadlines import StreamLimits
from .errors import BadMessage, ConversationBusy, NoProof
from .local_bus import LocalBus
from .ports import ConversationStore, HubObserver, ModelClient, Unobserved
from .readiness import Readiness, readiness
from .stream_view import StreamView
from .streams import StreamPlan, Streams
from .temporary import TemporaryConversations
from .turns import Files, conversation_for, settings_from_now_on, turn_for, with_system
from .witness import AnswerWitness

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OpenConversation:
    conversation: StoredConversation
    stream: StreamView | None  # an answer still streaming in it, to re-attach to


class ChatHub:
    def __init__(self, settings: Settings, service: ModelClient, store: ConversationStore,
                 attestation: AttestationService | None = None, bus: StreamBus | None = None,
                 observer: HubObserver | None = None) -> None:
        self._settings = settings
        self._service = service
        self._store = store
        observer = observer or Unobserved()
        # Attestation of model hosts and answer proofs: the interfaces ask `hub.attestation`.
        self.attestation = AttestationDesk(attestation or AttestationService(settings.attestation),
                                           settings.ensure_data_dir, lambda: self._service.catalog,
                                           policy=settings.attestation_policy, on_attested=observer.host_attested)
        self._streams = Streams(settings, service, store, bus or LocalBus(settings.stream_retention), observer)
        # Attachments are read here, in a child process per file; nothing of them leaves the app
        # but inside a prompt, which goes only where prompts go (admission).
        self.files = FileReader(settings.max_upload_bytes)
        # Temporary chats: in memory, their streams on this process's own bus (never Redis, which
        # may write what it holds to disk); see temporary.py.
        self._temporary = TemporaryConversations()
        self._temporary_streams = Streams(settings, service, self._temporary, LocalBus(settings.stream_retention),
                                          observer)

    def _store_for(self, conversation_id: str | None) -> ConversationStore:
        return self._temporary if self._temporary.holds(conversation_id) else self._store

    def _streams_for(self, conversation_id: str | None) -> Streams:
        return self._temporary_streams if self._temporary.holds(conversation_id) else self._streams

    async def _streams_of(self, stream_id: str) -> Streams:
        """Which streams a stream is one of: a temporary chat's are on this instance's own bus."""
        return self._temporary_streams if await self._temporary_streams.bus.info(stream_id) else self._streams

    @property
    def catalog(self) -> Catalog:
        """The models this server can use (or why there are none)."""
        return self._service.catalog

    @property
    def limits(self) -> StreamLimits:
        """Each stream's time limits (from the settings)."""
        return self._streams.limits

    @property
    def save_retrier(self):  # noqa: ANN201 - the background saves of answers whose final save failed
        return self._streams.save_retrier

    # --- conversations ------------------------------------------------------------------------

    async def open(self, conversation_id: str, *, owner: str) -> OpenConversation:
        """A conversation as stored, with the answer still streaming in it (if any). Raises
        ConversationNotFound."""
        # A stream's final event comes once the answer is stored: a conversation whose answer has
        # not sent it yet comes with that stream, whose view shows the rest.
        conversation = await self._store_for(conversation_id).get(conversation_id, owner)
        return OpenConversation(conversation, await self._streams_for(conversation_id).in_conversation(conversation.id))

    async def conversation(self, conversation_id: str, *, owner: str) -> StoredConversation:
        return await self._store_for(conversation_id).get(conversation_id, owner)

    async def message(self, conversation_id: str, message_id: str, *, owner: str) -> StoredMessage:
        return await self._store_for(conversation_id).message(conversation_id, owner, message_id)

    async def list_conversations(self, *, owner: str, search: str | None = None,
                                 limit: int = 200) -> list[ConversationSummary]:
        return await self._store.list_conversations(owner, search=search, limit=limit)

    async def proof(self, conversation_id: str, message_id: str, *, owner: str) -> SignedProof:
        """The signed proof of one answer. Raises ConversationNotFound, MessageNotFound, NoProof."""
        found = await self._store_for(conversation_id).answer_proof(conversation_id, owner, message_id)
        try:
            return self.attestation.sign(conversation_id, found)
        except ValueError as exc:  # stored data this version cannot read (pydantic's errors included)
            raise NoProof(f"The proof of answer {message_id} cannot be made from what is stored "
                          f"({type(exc).__name__}).") from None

    async def select_alternative(self, conversation_id: str, message_id: str, *, owner: str) -> StoredConversation:
        return await self._store_for(conversation_id).select_alternative(conversation_id, owner, message_id)

    async def rename(self, conversation_id: str, title: str, *, owner: str) -> None:
        """Raises ValueError for an empty title, ConversationNotFound."""
        await self._store_for(conversation_id).rename(conversation_id, owner, well_formed(title))

    async def update_conversation(self, conversation_id: str, *, owner: str, title: str | None = None,
                                  system: str | None = None,
                                  options: GenerationOptions | None = None) -> StoredConversation:
        """Rename and/or change the settings for the next answers (None: unchanged; options are
        replaced as a whole). Returns the conversation as it now is."""
        if title is not None:
            await self.rename(conversation_id, title, owner=owner)
        store = self._store_for(conversation_id)
        conversation = await store.get(conversation_id, owner)
        settings = conversation.settings.changed(None if system is None else well_formed(system), options)
        if settings != conversation.settings:
            await store.update_settings(conversation_id, owner, settings)
        return conversation.model_copy(update={"system": settings.system, "options": settings.options})

    async def delete(self, conversation_id: str, *, owner: str) -> None:
        """Raises ConversationBusy while an answer streams in it, ConversationNotFound."""
        streaming = await self._streams_for(conversation_id).in_conversation(conversation_id)
        if streaming is not None and not streaming.ended:
            raise ConversationBusy()
        await self._store_for(conversation_id).delete(conversation_id, owner)

    async def forget_temporary(self, conversation_id: str, *, owner: str) -> None:
        """A temporary chat's page closed or moved on: its answer (if still streaming) stops, and
        the chat is forgotten. Nothing happens for a stored conversation, or one already gone."""
        if not self._temporary.holds(conversation_id):
            return
        streaming = await self._temporary_streams.in_conversation(conversation_id)
        if streaming is not None and not streaming.ended and streaming.owner == owner:
            await self._temporary_streams.control(streaming.id, "stop", owner=owner)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(10):
                    await streaming.wait()
        with contextlib.suppress(ConversationNotFound):
            await self._temporary.delete(conversation_id, owner)

    async def export_json(self, conversation_id: str, *, owner: str) -> dict[str, Any]:
        """Raises ConversationNotFound, or BadMessage for a temporary chat (it is not kept)."""
        return await self._store_for(conversation_id).export_json(conversation_id, owner)

    async def export_markdown(self, conversation_id: str, *, owner: str) -> str:
        return await self._store_for(conversation_id).export_markdown(conversation_id, owner)

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

    # --- attachments --------------------------------------------------------------------------

    async def add_file(self, name: str | None, data: bytes, *, owner: str) -> Attachment:
        """Read an upload on this machine and keep it for the next message. Raises FileTooLarge,
        UnreadableFile."""
        return await self._store.add_file(owner, await self.files.read(name, data))

    def check_upload_size(self, size: int) -> None:
        """Raises FileTooLarge over MAX_UPLOAD_MB (an upload counts as it arrives)."""
        self.files.check_size(size)

    async def storage_bytes(self, conversation_id: str, *, owner: str) -> int:
        """What a conversation takes in storage, its files included. Raises ConversationNotFound."""
        return await self._store_for(conversation_id).storage_bytes(conversation_id, owner)

    async def _files_for(self, info: ModelInfo, owner: str, file_ids: Sequence[str]) -> Files:
        """The new message's files, checked before anything is sent. Raises FileNotFound,
        CannotSeeImages, BadMessage."""
        vision = can_see_images(info.name, info.vision)
        if not file_ids:
            return Files(budget=self._settings.max_attachment_chars, vision=vision)
        if len(file_ids) > self._settings.max_attachments or len(set(file_ids)) != len(file_ids):
            raise BadMessage(f"A message may carry at most {self._settings.max_attachments} files "
                             "(MAX_ATTACHMENTS), each once.")
        found = await self._store.unsent_files(owner, file_ids)
        images = [a.name for a in found if a.kind == "image"]
        if images and not vision:
            raise CannotSeeImages(f"Nothing was sent: the model {info.name} cannot see images ({', '.join(images)}). "
                                  "Choose a vision model (its name says vl, vision or llava, like qwen3-vl or "
                                  "llama3.2-vision), or remove the image.")
        return Files(new=list(file_ids), budget=self._settings.max_attachment_chars, vision=vision,
                     names=[a.name for a in found])

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
        attachments: Sequence[str] = (),
        temporary: bool = False,
    ) -> StreamView:
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
        `allow_unverified`: send even to a host that is not verified (`via`: who chose, for the proof);
        `attachments`: uploads (`add_file`) with a new or edited question (FileNotFound, CannotSeeImages);
        `temporary`: a new conversation never stored (temporary.py), nor are its follow-ups.
        """
        message, info = self._checked(message, model, regenerate, edit, continue_from, files=bool(attachments))
        temporary = self._temporary_send(conversation_id, temporary, files=bool(attachments))
        files = await self._files_for(info, owner, attachments)
        store, streams = (self._temporary, self._temporary_streams) if temporary else (self._store, self._streams)
        system = None if system is None else well_formed(system)
        admission = await self.attestation.admit(info, owner=owner, allow_unverified=allow_unverified, via=via)
        await streams.claim(stream_id := streams.new_id(), owner, conversation_id)
        try:
            conversation = await conversation_for(
                store, message or ", ".join(files.names), owner, conversation_id, system=system, options=options,
                default_system=self._settings.default_system_prompt, variant=regenerate or edit or continue_from)
            if conversation_id is None:
                await streams.bus.bind(stream_id, conversation.id)
            turn = await turn_for(store, conversation, owner, message, regenerate=regenerate, edit=edit,
                                  continue_from=continue_from, files=files)
            settings = await settings_from_now_on(store, conversation, owner, system, options)
            witness = AnswerWitness(self.attestation.attestation_service, info.url, demo=info.demo,
                                    admission=admission)
            return await streams.launch(stream_id, StreamPlan(
                owner=owner, conversation_id=conversation.id, model=info.name,
                messages=with_system(settings.system, turn.messages), settings=settings, witness=witness,
                streaming=streaming, cancel_when_orphaned=cancel_when_orphaned, user_message_id=turn.user_message_id,
                sibling_of=turn.sibling_of, prefix=turn.prefix))
        except BaseException:
            await streams.bus.release(stream_id)  # (a temporary chat made here is forgotten when idle)
            raise

    def _temporary_send(self, conversation_id: str | None, temporary: bool, *, files: bool) -> bool:
        """Whether this answer goes into a temporary chat (a temporary chat's follow-ups do)."""
        if temporary and conversation_id is not None and not self._temporary.holds(conversation_id):
            raise BadMessage("A stored conversation cannot become temporary; start a new temporary chat.")
        temporary = temporary or self._temporary.holds(conversation_id)
        if temporary and files:
            # An upload waits in the database until it is sent: that would be a byte on disk.
            raise BadMessage("Files cannot go with a temporary chat: uploads are kept on disk until sent.")
        return temporary

    def _checked(self, message: str, model: str | None, *variants: str | None,
                 files: bool = False) -> tuple[str, ModelInfo]:
        """The cheap refusals, before anything waits or is stored; the message as it will be sent
        (it may be empty when files go with it), and the model to answer with."""
        regenerate, edit, continue_from = variants
        if sum(v is not None for v in variants) > 1:
            raise BadMessage("Choose one of regenerate, edit and continue.")
        if files and (regenerate or continue_from):
            raise BadMessage("Files go with a new or edited question, not with regenerate or continue.")
        if files and not message.strip():
            message = ""
        elif regenerate is None and continue_from is None:
            message = self.validate(message)
        return message, self._service.resolve(model)

    async def stream(self, stream_id: str, *, owner: str) -> StreamView:
        """A stream of this owner's, running or ended lately (STREAM_RETENTION), wherever its model
        is read. Raises StreamNotFound."""
        return await (await self._streams_of(stream_id)).view(stream_id, owner=owner)

    async def active_streams(self, *, owner: str | None = None) -> list[StreamView]:
        """Streams that have not ended (paused ones whose model has finished included)."""
        return await self._streams.live(owner) + await self._temporary_streams.live(owner)

    async def stop(self, stream_id: str, *, owner: str) -> StreamView:
        """Close the model connection now; the partial answer is kept."""
        return await (await self._streams_of(stream_id)).control(stream_id, "stop", owner=owner)

    async def pause(self, stream_id: str, *, owner: str) -> StreamView:
        """Hold delivery; the model keeps writing into a buffer."""
        return await (await self._streams_of(stream_id)).control(stream_id, "pause", owner=owner)

    async def resume(self, stream_id: str, *, owner: str) -> StreamView:
        """Deliver everything held, then continue live."""
        return await (await self._streams_of(stream_id)).control(stream_id, "resume", owner=owner)

    async def readiness(self) -> Readiness:
        """Whether this instance can answer: its database, its Redis (if any) and a model are
        there; if not, which is missing (never why in detail: the readiness probe is public)."""
        return await readiness(self._store, self._streams.bus, self._service.catalog)

    async def start(self) -> None:
        """Serve this instance's part of the deployment: controls from other instances, and the end
        of the streams of an instance that stopped (with Redis). Also done on the first send."""
        await self._streams.start()
        await self._temporary_streams.start()

    async def shutdown(self) -> None:
        # First: answers being interrupted must not wait for (or start) an attestation.
        await self.attestation.attestation_service.aclose()
        await self._temporary_streams.shutdown()
        await self._streams.shutdown()
