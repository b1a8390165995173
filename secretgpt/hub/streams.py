"""`Streams`: the answers being produced on this instance, and every stream of the deployment
through the stream bus — start one, find one, stop, pause and resume it wherever its model is read.

A stream's model is read by the instance it started on (`ActiveStream`, kept here until it has
ended); its events, its place in the directory and its controls go through the bus, so a reader
or a Stop on any instance reaches it.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass, replace

from ..config import Settings
from ..records import (
    ChatTurn, Command, ConversationNotFound, ConversationSettings, ErrorKind, SecretAIError, StoredMessage,
    StreamInfo, StreamRecord,
)
from ..storage.failures import failure_reason
from .bus import StreamBus
from .deadlines import StreamLimits
from .event_log import EventLog
from .errors import BadMessage, ConversationBusy, StreamNotFound
from .ports import ConversationStore, HubObserver, ModelClient, Unobserved
from .saving import SaveRetrier
from .stream import ActiveStream
from .stream_view import StreamView
from .witness import AnswerWitness

log = logging.getLogger(__name__)

# A Pause or Resume sent to another instance is answered once its event is in (normally ms).
CONTROL_WAIT = 2.0
BUSY = "An answer is still streaming in this conversation. Stop it or wait for it to end."


@dataclass(frozen=True)
class StreamPlan:
    """Everything an answer is made with, decided before it starts."""

    owner: str
    conversation_id: str
    model: str
    messages: list[ChatTurn]
    settings: ConversationSettings
    witness: AnswerWitness
    streaming: bool = True
    cancel_when_orphaned: bool = False
    user_message_id: str | None = None
    sibling_of: str | None = None
    prefix: StoredMessage | None = None  # Continue: the partial answer this one carries on


class Streams:
    def __init__(self, settings: Settings, service: ModelClient, store: ConversationStore, bus: StreamBus,
                 observer: HubObserver | None = None) -> None:
        self._settings = settings
        self.observer = observer or Unobserved()
        self._service = service
        self._store = store
        self.bus = bus
        self.limits = StreamLimits(
            stream_timeout=settings.stream_timeout,
            idle_timeout=settings.stream_idle_timeout,
            first_token_timeout=settings.stream_first_token_timeout,
            detach_grace=settings.stream_detach_grace,
            chunk_size=settings.streaming_chunk_size,
        )
        self.save_retrier = SaveRetrier(self._save_again)
        self._local: dict[str, ActiveStream] = {}  # this instance reads their model
        self._tasks: set[asyncio.Task[None]] = set()
        self._started = False

    async def start(self) -> None:
        if not self._started:
            self._started = True
            await self.bus.start(self._apply, self._interrupted_elsewhere)

    # --- starting one ---------------------------------------------------------------------------

    async def claim(self, stream_id: str, owner: str, conversation_id: str | None) -> None:
        """A model-connection slot and the conversation, deployment-wide. Raises TooManyStreams,
        or BadMessage while the conversation has an answer streaming."""
        await self.start()
        try:
            await self.bus.claim(stream_id, owner, conversation_id, self._settings.max_concurrent_streams)
        except ConversationBusy:
            raise BadMessage(BUSY) from None

    async def launch(self, stream_id: str, plan: StreamPlan) -> StreamView:
        """Store the answer (before its first token, under the right question: a crash from here
        on still leaves it in the conversation, as interrupted) and start it."""
        info = StreamInfo(id=stream_id, owner=plan.owner, conversation_id=plan.conversation_id, model=plan.model,
                          started_at=time.time(), streaming=plan.streaming, user_message_id=plan.user_message_id,
                          instance=self.bus.instance)
        stream = ActiveStream(
            stream_id, owner=plan.owner, conversation_id=plan.conversation_id, model=plan.model,
            messages=plan.messages, service=self._service, limits=self.limits,  # type: ignore[arg-type]
            streaming=plan.streaming, cancel_when_orphaned=plan.cancel_when_orphaned, on_end=self._stream_ended,
            on_checkpoint=self._checkpoint, settings=plan.settings, witness=plan.witness,
            log=EventLog(self.bus.open(info), self.limits.chunk_size),
            on_model_done=lambda: self._spawn(self.bus.model_done(stream_id)))
        stream.user_message_id = plan.user_message_id
        if plan.prefix is not None:
            stream.seed(plan.prefix.content, plan.prefix.think)
        stream.message_id = await self._store.save_answer(stream.record(), sibling_of=plan.sibling_of)
        info = replace(info, message_id=stream.message_id)
        await self.bus.register(info)
        self._local[stream_id] = stream
        stream.start()
        self.observer.stream_started()
        self._spawn(self._retire(stream))
        return self._view(info)

    @staticmethod
    def new_id() -> str:
        return uuid.uuid4().hex

    # --- finding one ----------------------------------------------------------------------------

    async def view(self, stream_id: str, *, owner: str) -> StreamView:
        """A stream of this owner's, running or ended lately (STREAM_RETENTION). Raises StreamNotFound."""
        info = await self.bus.info(stream_id)
        if info is None or info.owner != owner:
            raise StreamNotFound(stream_id)
        return self._view(info)

    async def live(self, owner: str | None = None) -> list[StreamView]:
        return [self._view(info) for info in await self.bus.live(owner)]

    async def in_conversation(self, conversation_id: str) -> StreamView | None:
        info = await self.bus.in_conversation(conversation_id)
        return self._view(info) if info is not None else None

    def _view(self, info: StreamInfo) -> StreamView:
        return StreamView(info, self.bus.source(info), self.bus, self.observer)

    async def control(self, stream_id: str, command: Command, *, owner: str) -> StreamView:
        view = await self.view(stream_id, owner=owner)
        if await self.bus.control(view.info, command) and command in ("pause", "resume"):
            await view.settled(paused=command == "pause", within=CONTROL_WAIT)
        return view

    async def _apply(self, stream_id: str, command: Command) -> bool:
        """A control for a stream whose model this instance reads (from here or another instance)."""
        stream = self._local.get(stream_id)
        if stream is None:
            return False
        if command == "stop":
            return stream.cancel()
        if command == "pause":
            paused = stream.pause()
            if paused:
                self.observer.stream_paused()
            return paused
        if command == "resume":
            return stream.resume()
        if command == "attach":
            stream.attach()
        else:
            stream.detach()
        return True

    # --- ending ---------------------------------------------------------------------------------

    async def _retire(self, stream: ActiveStream) -> None:
        await stream.wait()
        await stream.wait_saved()
        self.observer.stream_ended(stream.record())
        await self.bus.ended(stream.id)
        self._local.pop(stream.id, None)

    def _spawn(self, job: object) -> None:
        task = asyncio.ensure_future(job)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def shutdown(self) -> None:
        for stream in list(self._local.values()):
            stream.interrupt()
        # Until saved, not just ended: the store closes right after this, and a final save still
        # on its way would be lost (the answer left as its last checkpoint).
        for stream in list(self._local.values()):
            await stream.wait_saved()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.save_retrier.close()
        await self.bus.close()

    async def _interrupted_elsewhere(self, info: StreamInfo) -> None:
        """A stream whose instance stopped (found by this one): its answer is kept as interrupted."""
        await self._store.mark_stream_interrupted(info.id)

    async def _checkpoint(self, stream: ActiveStream) -> None:
        try:
            await self._store.save_answer(stream.record())
        except Exception:
            self.observer.save_failed()
            raise

    async def _save_again(self, record: StreamRecord) -> None:
        try:
            await self._store.save_answer(record)
        except ConversationNotFound:
            raise
        except Exception:
            self.observer.save_failed()
            raise

    async def _stream_ended(self, stream: ActiveStream) -> None:
        record = stream.record()
        log.info("stream %s ended: %s, %d chunks", stream.id, record.status.value, record.chunks)
        try:
            await self._store.save_answer(record)
        except Exception as exc:
            self.observer.save_failed()
            self._save_failed(stream.id, record, exc)

    def _save_failed(self, stream_id: str, record: StreamRecord, exc: Exception) -> None:
        reason = failure_reason(exc)
        log.error("stream %s: saving the answer failed (%s); retrying in the background", stream_id, reason)
        self.save_retrier.retry(record)
        raise SecretAIError(ErrorKind.STORAGE, f"The answer could not be saved ({reason}). What arrived is "
                            "shown but not stored; the server keeps trying to save it.") from None

