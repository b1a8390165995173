"""`ActiveStream`: one answer being produced, and its lifecycle — produce, pause, resume, stop.

Its other jobs live beside it: what it delivered (`EventLog`, made by the stream bus and read
through it by every reader), what it
produced and when (`Tally`), its deadlines (`Watchdog`), when it is saved (`SaveOrder`) and what
happens when its client leaves (`OrphanTimer`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from ..records import (
    AnswerAttestation, AnswerProvenance, ChatTurn, ChunkKind, ConversationSettings, EventList, Signal, StreamChunk,
    StreamEvent, StreamRecord, StreamStatus, working_for,
)
from ..services.secret_ai import ErrorKind, SecretAIError, SecretAIService
from .deadlines import EndReason, StreamLimits, Watchdog
from .event_log import EventLog
from .endings import final_event, storage_error
from .orphan import OrphanTimer
from .saving import SaveOrder
from .tally import Tally
from .witness import AnswerWitness

log = logging.getLogger(__name__)

# Errors worth one non-streaming retry when they happen before the first token.
FALLBACK_KINDS = frozenset({ErrorKind.MODEL, ErrorKind.INTERRUPTED})
STOPPED = EndReason(StreamStatus.STOPPED, "Stopped.")
SHUTDOWN = EndReason(StreamStatus.INTERRUPTED, "The server shut down while answering.")

StreamCallback = Callable[["ActiveStream"], Awaitable[None]]


def _interrupted() -> SecretAIError:
    return SecretAIError(ErrorKind.INTERRUPTED, "The server stopped while answering.")


class ActiveStream:
    """Runs the model read in its own task; subscribers follow the event log at their own pace.

    The log holds what was *delivered*. While paused, chunks go to a held buffer (the model keeps
    generating) and join the log on resume, so a replay shows exactly what a live client saw.
    """

    def __init__(self, stream_id: str, *, owner: str, conversation_id: str, model: str, messages: list[ChatTurn],
                 service: SecretAIService, limits: StreamLimits, streaming: bool = True,
                 cancel_when_orphaned: bool = False, on_end: StreamCallback | None = None,
                 on_checkpoint: StreamCallback | None = None, settings: ConversationSettings | None = None,
                 witness: AnswerWitness | None = None, log: EventLog | None = None,
                 on_model_done: Callable[[], None] | None = None) -> None:
        self.id = stream_id
        self.owner = owner
        self.conversation_id = conversation_id
        self.model = model
        self.streaming = streaming
        self.settings = settings or ConversationSettings()
        self._messages = messages  # the system prompt, if any, is the first
        self._service = service
        self._on_end = on_end
        self.witness = witness  # which connection streamed it, under which attestation (None: not attested)
        self._attested: tuple[AnswerAttestation, AnswerProvenance, dict | None] | None = None
        # Where the answer is stored (set by the hub when it first saves it).
        self.message_id: str | None = None
        self.user_message_id: str | None = None

        # Into the bus, for its readers (alone, without a bus: an in-memory list).
        self.log = log if log is not None else EventLog(EventList(), limits.chunk_size)
        self._on_model_done = on_model_done  # its model connection is closed (a slot is free)
        self._kinds_seen: set[ChunkKind] = set()
        self.tally = Tally(streaming)
        self.status = StreamStatus.CONNECTING
        self.upstream_done = False  # the model connection is closed
        self._error: SecretAIError | None = None
        self._fallback = False
        self._stop_reason: EndReason | None = None
        self._finished = asyncio.Event()
        self._finishing = False
        self._task: asyncio.Task[None] | None = None
        self._ender: asyncio.Task[None] | None = None  # holds an ending task started from a sync caller
        self._watchdog = Watchdog(limits, self.tally, lambda: self.upstream_done, self._deadline_passed)
        self._orphan = OrphanTimer(limits.detach_grace, cancel_when_orphaned, self._orphaned)
        checkpoint = (lambda: on_checkpoint(self)) if on_checkpoint is not None else None
        self._saves = SaveOrder(stream_id, limits.checkpoint_interval, checkpoint, lambda: self.tally.chunks)

    # --- lifecycle ----------------------------------------------------------------------------

    def seed(self, text: str, think: str = "") -> None:
        """Before start: begin from an earlier partial answer (Continue); it is part of this answer
        (its proof says how much of it was carried over)."""
        self.tally.seed(text, think)

    def start(self) -> None:
        self.log.append(StreamEvent(0, Signal.START, data={
            "stream_id": self.id, "conversation_id": self.conversation_id, "model": self.model}))
        for kind, seeded in ((ChunkKind.THINK, self.think), (ChunkKind.TEXT, self.text)):
            if seeded:
                self.log.append(StreamEvent(0, kind, seeded))
        self._task = asyncio.create_task(self._produce(), name=f"stream-{self.id}")
        self._task.add_done_callback(self._produce_done)
        self._watchdog.start(self.id)
        self._saves.start()

    def pause(self) -> bool:
        if self.ended or self.paused or self._finishing:
            return False
        self.tally.pause()
        self._watchdog.poke()
        self.log.flush()
        self.log.holding = True
        self.status = StreamStatus.PAUSED
        self.log.append(StreamEvent(0, Signal.PAUSED))
        return True

    def resume(self) -> bool:
        if self.ended or not self.paused:
            return False
        self.tally.end_pause()
        self._watchdog.poke()
        self.log.holding = False
        self.log.append(StreamEvent(0, Signal.RESUMED))
        self.log.release()
        if not self.upstream_done:
            self.status = StreamStatus.STREAMING if self.tally.first_token is not None else StreamStatus.CONNECTING
        else:
            # The model finished during the pause and `_produce` left the ending to us.
            self._ender = asyncio.get_running_loop().create_task(self._finish())
        return True

    def cancel(self) -> bool:
        """Stop: close the model connection now; keep what arrived."""
        if self.ended or self._finishing:
            return False
        self._stop(STOPPED)
        return True

    def interrupt(self) -> None:
        """The server is shutting down: end the answer as interrupted (it can be continued later)."""
        if not self.ended:
            self._stop(SHUTDOWN)

    def _stop(self, reason: EndReason) -> None:
        if self._finishing:
            # The answer is already ending: its final save may be under way in the producing
            # task, and cancelling that would lose the save and leave `wait_saved` hanging.
            return
        if self._stop_reason is None:
            self._stop_reason = reason
        if self._task is not None and not self._task.done():
            self._task.cancel()
        elif self.upstream_done and not self.ended:
            # The model had finished but delivery was held by a pause: end delivery now.
            self._ender = asyncio.get_running_loop().create_task(self._finish())

    # --- state --------------------------------------------------------------------------------

    @property
    def ended(self) -> bool:
        return self._finished.is_set()

    @property
    def paused(self) -> bool:
        return self.tally.paused

    @property
    def saved(self) -> bool:
        return self._saves.saved

    async def wait_saved(self) -> None:
        """Until the final record has been handed to storage."""
        await self._saves.wait_saved()

    async def wait(self) -> StreamRecord:
        await self._finished.wait()
        return self.record()

    @property
    def text(self) -> str:
        return self.tally.text

    @property
    def think(self) -> str:
        return self.tally.think

    @property
    def last_seq(self) -> int:
        return self.log.last_seq

    @property
    def think_seconds(self) -> float | None:
        """How long the model has reasoned so far (None: not yet, or not streaming)."""
        return self.tally.think_seconds

    @property
    def tokens_per_second(self) -> float | None:
        return self.tally.tokens_per_second

    # --- subscribers ----------------------------------------------------------------------------

    def attach(self) -> None:
        self._orphan.attach()

    def detach(self) -> None:
        if not self.ended:
            self._orphan.detach()

    def _orphaned(self) -> None:
        if not self.ended:
            log.info("stream %s: no client left, closing the model connection", self.id)
            self._stop(EndReason(StreamStatus.STOPPED, "The client disconnected."))

    # --- the record ---------------------------------------------------------------------------

    def record(self) -> StreamRecord:
        tally, usage = self.tally, self.tally.usage
        return StreamRecord(
            stream_id=self.id,
            conversation_id=self.conversation_id,
            owner=self.owner,
            model=self.model,
            status=self.status,
            streaming=self.streaming,
            text=tally.text,
            think=tally.think,
            started_at=tally.started_at,
            first_token_at=tally.first_token_at,
            ended_at=tally.ended_at,
            time_to_first_token=tally.time_to_first_token,
            think_seconds=tally.think_seconds,
            paused_seconds=tally.paused_seconds,
            chunks=tally.chunks,
            prompt_tokens=usage.prompt_tokens if usage else None,
            completion_tokens=(usage.completion_tokens if usage else None) or tally.chunks or None,
            done_reason=usage.done_reason if usage else None,
            error_kind=self._error.kind.value if self._error else None,
            error=self._error.message if self._error else None,
            fallback=self._fallback,
            settings=self.settings,
            **self._attestation_fields(),
        )

    def _attestation_fields(self) -> dict[str, object]:
        if self._attested is None:
            return {}
        attestation, provenance, evidence = self._attested
        return {"attestation": attestation, "provenance": provenance, "evidence": evidence}

    # --- producing ----------------------------------------------------------------------------

    async def _produce(self) -> None:
        working_for(self.id, self.conversation_id)
        try:
            with self.witness.watching() if self.witness else contextlib.nullcontext():
                await self._read_model(self.streaming)
        except asyncio.CancelledError:
            reason = self._stop_reason
            if reason is None:  # not ours: the app is shutting down
                self.status, self._error = StreamStatus.INTERRUPTED, _interrupted()
                await self._finish()
                raise
            self._stopped_by(reason)
        except SecretAIError as exc:
            self.status, self._error = StreamStatus.ERROR, exc
        except Exception as exc:  # a bug must still end the stream with an error event, never a hang
            log.exception("stream %s failed", self.id)
            self.status = StreamStatus.ERROR
            self._error = SecretAIError(ErrorKind.MODEL, f"Internal error: {type(exc).__name__}")
        else:
            self.status = StreamStatus.COMPLETED
        await self._model_ended()

    def _stopped_by(self, reason: EndReason) -> None:
        self.status = reason.status
        if reason.status is StreamStatus.INTERRUPTED:
            self._error = SecretAIError(ErrorKind.INTERRUPTED, reason.message)
        elif reason.status is not StreamStatus.STOPPED:
            self._error = SecretAIError(ErrorKind.TIMEOUT, reason.message)

    def _produce_done(self, task: asyncio.Task[None]) -> None:
        # A task cancelled before its first step (e.g. a stop right after the start) never enters
        # `_produce`, so none of its handlers run: end the stream here, or it would never end and
        # would hold a MAX_CONCURRENT_STREAMS slot for good.
        if task.cancelled() and not self.upstream_done and not self.ended:
            self._ender = asyncio.get_running_loop().create_task(self._cancelled_before_start())

    async def _cancelled_before_start(self) -> None:
        working_for(self.id, self.conversation_id)
        if self._stop_reason is not None:
            self._stopped_by(self._stop_reason)
        else:
            self.status, self._error = StreamStatus.INTERRUPTED, _interrupted()
        await self._model_ended()

    async def _model_ended(self) -> None:
        self.upstream_done = True
        if self._on_model_done is not None:
            self._on_model_done()
        self.tally.model_ended()
        self._watchdog.poke()
        if self.paused and self._stop_reason is None:
            # Delivery stays held until resume, stop, or the pause outlasts the stream timeout.
            self.log.flush()
            return
        await self._finish()

    async def _read_model(self, streaming: bool) -> None:
        source = self._service.stream_invoke(self._messages, self.model, stream=streaming,
                                             options=self.settings.options)
        try:
            async for chunk in source:
                if not isinstance(chunk, StreamChunk):
                    self.tally.usage = chunk
                    continue
                if self.tally.add(chunk):
                    # The watchdog sleeps toward the first-token deadline; the idle one is sooner.
                    self._watchdog.poke()
                    if self.witness is not None:
                        self.witness.first_chunk()
                    if not self.paused:
                        self.status = StreamStatus.STREAMING
                self.log.deliver(chunk.kind, chunk.content, self._first_of_kind(chunk.kind))
        except SecretAIError as exc:
            if streaming and self.tally.first_token is None and exc.kind in FALLBACK_KINDS:
                log.info("stream %s: streaming failed before the first token (%s); retrying without streaming",
                         self.id, exc.kind.value)
                self._fallback = True
                await source.aclose()
                await self._read_model(False)
                return
            raise
        finally:
            await source.aclose()
        self.log.flush()

    def _first_of_kind(self, kind: ChunkKind) -> dict[str, float] | None:
        """With the first reasoning and the first text: when it came (seconds since the start), so
        every reader can time the thinking from the events alone."""
        if kind in self._kinds_seen:
            return None
        self._kinds_seen.add(kind)
        return {"t": round(self.tally.last_activity - self.tally.started, 3)}

    async def _deadline_passed(self, reason: EndReason) -> None:
        if reason.status is StreamStatus.PAUSE_TIMEOUT and self.upstream_done:
            self._stop_reason = reason
            self.status = reason.status
            self._error = SecretAIError(ErrorKind.TIMEOUT, reason.message)
            await self._finish()
            return
        self._stop(reason)
        await self._finished.wait()

    # --- the end ------------------------------------------------------------------------------

    async def _finish(self) -> None:
        if self.ended or self._finishing:
            return
        working_for(self.id, self.conversation_id)  # in an ending task of its own, or the producing one
        self._finishing = True  # pause/stop from here on would race the end
        self.tally.end()
        self.log.release()
        self.log.flush()
        self._orphan.cancel()
        self._watchdog.cancel()
        if self.witness is not None:
            attestation, evidence = await self.witness.conclude()
            self._attested = (attestation, self.witness.provenance(self.tally, self._messages), evidence)
        # Saved before the final event goes out: a client told "done" can read the answer back,
        # and one whose answer was not saved is told so instead.
        await self._saves.final(self._save_and_announce)

    async def _save_and_announce(self) -> None:
        if self._on_end is not None:
            try:
                await self._on_end(self)
            except Exception as exc:
                self._save_failed(exc)
        self.log.append(self._final_event())
        self._finished.set()

    def _final_event(self) -> StreamEvent:
        return final_event(self.status, {**self.record().metadata(), "message_id": self.message_id}, self._error)

    def _save_failed(self, exc: Exception) -> None:
        """The answer stays on screen and in this stream's record, but is not stored: say so."""
        if not (isinstance(exc, SecretAIError) and exc.kind is ErrorKind.STORAGE):
            log.error("stream %s: saving the answer failed: %s", self.id, type(exc).__name__)
        self._error, self.status = storage_error(exc, self._error), StreamStatus.ERROR
