"""`ActiveStream`: one answer being produced, its delivery log, and its pause/resume/cancel."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from ...services.secret_ai import ChatTurn, ChunkKind, ConversationSettings, ErrorKind, SecretAIError, SecretAIService
from .event_log import EventLog
from .events import FINAL_EVENTS, StreamEvent, StreamRecord, StreamStatus

log = logging.getLogger(__name__)

# Errors worth one non-streaming retry when they happen before the first token.
FALLBACK_KINDS = frozenset({ErrorKind.MODEL, ErrorKind.INTERRUPTED})


@dataclass(frozen=True)
class StreamLimits:
    stream_timeout: float = 300.0
    idle_timeout: float = 60.0
    first_token_timeout: float = 120.0
    detach_grace: float = 30.0
    chunk_size: int = 1  # upstream chunks coalesced into one event
    checkpoint_interval: float = 2.0  # seconds between saves of a streaming answer


class _Deadline(Exception):
    def __init__(self, status: StreamStatus, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


StreamCallback = Callable[["ActiveStream"], Awaitable[None]]


class ActiveStream:
    """Runs the upstream read in its own task; subscribers read the event log at their own pace.

    The log holds what was *delivered*. While paused, chunks go to a held buffer (the model keeps
    generating) and join the log on resume, so a replay shows exactly what a live client saw.
    """

    def __init__(
        self,
        stream_id: str,
        *,
        owner: str,
        conversation_id: str,
        model: str,
        messages: list[ChatTurn],
        service: SecretAIService,
        limits: StreamLimits,
        streaming: bool = True,
        cancel_when_orphaned: bool = False,
        on_end: StreamCallback | None = None,
        on_checkpoint: StreamCallback | None = None,
        on_upstream_end: Callable[[ActiveStream], None] | None = None,
        settings: ConversationSettings | None = None,
    ) -> None:
        self.id = stream_id
        self.owner = owner
        self.conversation_id = conversation_id
        self.model = model
        self.streaming = streaming
        self.cancel_when_orphaned = cancel_when_orphaned
        self._messages = messages  # the system prompt, if any, is the first
        self.settings = settings or ConversationSettings()
        self._service = service
        self._limits = limits
        self._on_end = on_end
        self._on_checkpoint = on_checkpoint
        # Where the answer is stored (set by the router when it first saves it).
        self.message_id: str | None = None
        self.user_message_id: str | None = None
        self._on_upstream_end = on_upstream_end

        self.log = EventLog(limits.chunk_size)
        self._text: list[str] = []
        self._think: list[str] = []
        self._chunks = 0

        self.status = StreamStatus.CONNECTING
        self.started_at = datetime.now(timezone.utc)
        self._started_mono = time.monotonic()
        self._last_activity = self._started_mono
        self.first_token_at: datetime | None = None
        self._first_token_mono: float | None = None
        self._think_started: float | None = None
        self._think_ended: float | None = None
        self.ended_at: datetime | None = None
        self._paused_since: float | None = None
        self._paused_total = 0.0
        self._usage: dict[str, object] = {}
        self._error: SecretAIError | None = None
        self._fallback = False
        self.upstream_done = False
        self._stop_reason: _Deadline | None = None
        self._subscribers = 0
        self._orphan_timer: asyncio.TimerHandle | None = None
        self._finished = asyncio.Event()
        self._finishing = False
        self._saved = asyncio.Event()
        self._checkpointer: asyncio.Task | None = None
        # Checkpoint and final save never overlap, so a late checkpoint cannot overwrite the end.
        self._save_lock = asyncio.Lock()
        self._control = asyncio.Event()  # wakes the watchdog when deadlines change
        self._task: asyncio.Task | None = None
        self._watchdog: asyncio.Task | None = None
        self._ender: asyncio.Task | None = None

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        self.log.append(StreamEvent(0, "start", data={
            "stream_id": self.id, "conversation_id": self.conversation_id, "model": self.model}))
        for kind, seeded in (("think", self.think), ("text", self.text)):
            if seeded:
                self.log.append(StreamEvent(0, kind, seeded))  # type: ignore[arg-type]
        self._task = asyncio.create_task(self._produce(), name=f"stream-{self.id}")
        self._task.add_done_callback(self._produce_done)
        self._watchdog = asyncio.create_task(self._watch(), name=f"stream-watchdog-{self.id}")
        if self._on_checkpoint is not None:
            self._checkpointer = asyncio.create_task(self._checkpoints(), name=f"stream-checkpoint-{self.id}")

    def seed(self, text: str, think: str = "") -> None:
        """Before start: begin from an earlier partial answer (Continue); it is part of this answer."""
        if think:
            self._think.append(think)
        if text:
            self._text.append(text)

    @property
    def saved(self) -> bool:
        return self._saved.is_set()

    async def wait_saved(self) -> None:
        """Until the final record has been handed to storage."""
        await self._saved.wait()

    @property
    def ended(self) -> bool:
        return self._finished.is_set()

    @property
    def paused(self) -> bool:
        return self._paused_since is not None

    async def wait(self) -> StreamRecord:
        await self._finished.wait()
        return self.record()

    def pause(self) -> bool:
        if self.ended or self.paused or self._finishing:
            return False
        self._paused_since = time.monotonic()
        self._control.set()
        self.log.flush()
        self.log.holding = True
        self.status = StreamStatus.PAUSED
        self.log.append(StreamEvent(0, "paused"))
        return True

    def resume(self) -> bool:
        if self.ended or not self.paused:
            return False
        self._end_pause()
        self._control.set()
        self.log.holding = False
        self.log.append(StreamEvent(0, "resumed"))
        self.log.release()
        if not self.upstream_done:
            self.status = StreamStatus.STREAMING if self._first_token_mono else StreamStatus.CONNECTING
        else:
            # The model finished during the pause and `_produce` left the ending to us.
            self._ender = asyncio.get_running_loop().create_task(self._finish())
        return True

    def cancel(self) -> bool:
        """Stop: close the model connection now; keep what arrived."""
        if self.ended or self._finishing:
            return False
        self._stop(_Deadline(StreamStatus.STOPPED, "Stopped."))
        return True

    def interrupt(self) -> None:
        """The server is shutting down: end the answer as interrupted (it can be continued later)."""
        if not self.ended:
            self._stop(_Deadline(StreamStatus.INTERRUPTED, "The server shut down while answering."))

    def _stop(self, reason: _Deadline) -> None:
        if self._stop_reason is None:
            self._stop_reason = reason
        if self._task is not None and not self._task.done():
            self._task.cancel()
        elif self.upstream_done and not self.ended:
            # The model had finished but delivery was held by a pause: end delivery now.
            asyncio.get_running_loop().create_task(self._finish())

    # --- subscribers ----------------------------------------------------------------------------

    def attach(self) -> None:
        self._subscribers += 1
        if self._orphan_timer is not None:
            self._orphan_timer.cancel()
            self._orphan_timer = None

    def detach(self) -> None:
        self._subscribers = max(0, self._subscribers - 1)
        if self._subscribers == 0 and self.cancel_when_orphaned and not self.ended:
            loop = asyncio.get_running_loop()
            self._orphan_timer = loop.call_later(self._limits.detach_grace, self._orphaned)

    def _orphaned(self) -> None:
        self._orphan_timer = None
        if self._subscribers == 0 and not self.ended:
            log.info("stream %s: no client left, closing the model connection", self.id)
            self._stop(_Deadline(StreamStatus.STOPPED, "The client disconnected."))

    def events_after(self, seq: int) -> list[StreamEvent]:
        return self.log.after(seq)

    async def changed(self) -> None:
        """Return when the next event is delivered."""
        await self.log.changed()

    async def events(self, after: int = 0) -> AsyncIterator[StreamEvent]:
        """Every delivered event with seq > after, live until the final one."""
        seq = max(0, after)
        while True:
            for event in self.log.after(seq):
                seq = event.seq
                yield event
                if event.type in FINAL_EVENTS:
                    return
            if self.ended:
                return
            await self.log.changed()

    @property
    def think_seconds(self) -> float | None:
        """How long the model reasoned (so far, while it still is); unknown without streaming."""
        if self._think_started is None or not self.streaming:
            return None
        end = self._think_ended if self._think_ended is not None else time.monotonic()
        return end - self._think_started

    @property
    def tokens_per_second(self) -> float | None:
        if self._first_token_mono is None:
            return None
        elapsed = time.monotonic() - self._first_token_mono - self._paused_total
        if self._paused_since is not None:
            elapsed -= time.monotonic() - self._paused_since
        return self._chunks / elapsed if elapsed > 0.2 else None

    @property
    def last_seq(self) -> int:
        return self.log.last_seq

    # --- the record ---------------------------------------------------------------------------

    @property
    def text(self) -> str:
        return "".join(self._text)

    @property
    def think(self) -> str:
        return "".join(self._think)

    def record(self) -> StreamRecord:
        usage = self._usage
        return StreamRecord(
            stream_id=self.id,
            conversation_id=self.conversation_id,
            owner=self.owner,
            model=self.model,
            status=self.status,
            streaming=self.streaming,
            text=self.text,
            think=self.think,
            started_at=self.started_at,
            first_token_at=self.first_token_at,
            ended_at=self.ended_at,
            time_to_first_token=(self._first_token_mono - self._started_mono) if self._first_token_mono else None,
            think_seconds=usage.get("think_seconds") or self.think_seconds,  # type: ignore[arg-type]
            paused_seconds=self._paused_total + ((time.monotonic() - self._paused_since) if self._paused_since else 0),
            chunks=self._chunks,
            prompt_tokens=usage.get("prompt_tokens"),  # type: ignore[arg-type]
            completion_tokens=usage.get("completion_tokens") or self._chunks or None,  # type: ignore[arg-type]
            done_reason=usage.get("done_reason"),  # type: ignore[arg-type]
            error_kind=self._error.kind.value if self._error else None,
            error=self._error.message if self._error else None,
            fallback=self._fallback,
            settings=self.settings,
        )

    # --- internals ----------------------------------------------------------------------------

    def _end_pause(self) -> None:
        if self._paused_since is not None:
            self._paused_total += time.monotonic() - self._paused_since
            self._paused_since = None

    async def _produce(self) -> None:
        try:
            await self._read_upstream(self.streaming)
        except asyncio.CancelledError:
            reason = self._stop_reason
            if reason is None:  # not ours: the app is shutting down
                self.status = StreamStatus.INTERRUPTED
                self._error = SecretAIError(ErrorKind.INTERRUPTED, "The server stopped while answering.")
                await self._finish()
                raise
            self._stopped_by(reason)
        except SecretAIError as exc:
            self._error = exc
            self.status = StreamStatus.ERROR
        except Exception as exc:  # a bug must still end the stream with an error event, never a hang
            log.exception("stream %s failed", self.id)
            self._error = SecretAIError(ErrorKind.MODEL, f"Internal error: {type(exc).__name__}")
            self.status = StreamStatus.ERROR
        else:
            self.status = StreamStatus.COMPLETED
        await self._upstream_ended()

    def _stopped_by(self, reason: _Deadline) -> None:
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
        if self._stop_reason is not None:
            self._stopped_by(self._stop_reason)
        else:
            self.status = StreamStatus.INTERRUPTED
            self._error = SecretAIError(ErrorKind.INTERRUPTED, "The server stopped while answering.")
        await self._upstream_ended()

    async def _upstream_ended(self) -> None:
        self.upstream_done = True
        self._control.set()
        if self._on_upstream_end is not None:
            self._on_upstream_end(self)
        if self.paused and self._stop_reason is None:
            # Delivery stays held until resume, stop, or the pause outlasts the stream timeout.
            self.log.flush()
            return
        await self._finish()

    async def _read_upstream(self, streaming: bool) -> None:
        source = self._service.stream_invoke(self._messages, self.model, stream=streaming,
                                             options=self.settings.options)
        try:
            async for chunk in source:
                self._last_activity = time.monotonic()
                if chunk.kind is ChunkKind.DONE:
                    self._usage = chunk.usage
                    continue
                if self._first_token_mono is None:
                    self._first_token_mono = self._last_activity
                    self.first_token_at = datetime.now(timezone.utc)
                    # The watchdog sleeps toward the first-token deadline; the idle one is sooner.
                    self._control.set()
                    if not self.paused:
                        self.status = StreamStatus.STREAMING
                self._chunks += 1
                if chunk.kind is ChunkKind.THINK:
                    self._think.append(chunk.content)
                    if self._think_started is None:
                        self._think_started = self._last_activity
                else:
                    self._text.append(chunk.content)
                    if self._think_started is not None and self._think_ended is None:
                        self._think_ended = self._last_activity
                self.log.deliver(chunk.kind.value, chunk.content)
        except SecretAIError as exc:
            if streaming and self._first_token_mono is None and exc.kind in FALLBACK_KINDS:
                log.info("stream %s: streaming failed before the first token (%s); retrying without streaming",
                         self.id, exc.kind.value)
                self._fallback = True
                await source.aclose()
                await self._read_upstream(False)
                return
            raise
        finally:
            await source.aclose()
        self.log.flush()

    async def _watch(self) -> None:
        """One timer for all deadlines, so the per-token path only records a timestamp."""
        limits = self._limits
        try:
            while not self.ended:
                now = time.monotonic()
                deadlines: list[tuple[float, _Deadline]] = []
                if not self.upstream_done:
                    deadlines.append((self._started_mono + limits.stream_timeout, _Deadline(
                        StreamStatus.TIMEOUT, f"The answer took longer than {limits.stream_timeout:g} s (STREAM_TIMEOUT).")))
                    if self._first_token_mono is None:
                        deadlines.append((self._started_mono + limits.first_token_timeout, _Deadline(
                            StreamStatus.TIMEOUT,
                            f"The model sent nothing for {limits.first_token_timeout:g} s (STREAM_FIRST_TOKEN_TIMEOUT).")))
                    else:
                        deadlines.append((self._last_activity + limits.idle_timeout, _Deadline(
                            StreamStatus.TIMEOUT,
                            f"The model stopped sending for {limits.idle_timeout:g} s (STREAM_IDLE_TIMEOUT).")))
                if self._paused_since is not None:
                    deadlines.append((self._paused_since + limits.stream_timeout, _Deadline(
                        StreamStatus.PAUSE_TIMEOUT,
                        f"Paused for longer than {limits.stream_timeout:g} s (STREAM_TIMEOUT); the stream was ended.")))
                if not deadlines:
                    await self._control.wait()
                    self._control.clear()
                    continue
                when, reason = min(deadlines, key=lambda d: d[0])
                if now >= when:
                    log.info("stream %s: %s", self.id, reason.status.value)
                    if reason.status is StreamStatus.PAUSE_TIMEOUT and self.upstream_done:
                        self._stop_reason = reason
                        self.status = reason.status
                        self._error = SecretAIError(ErrorKind.TIMEOUT, reason.message)
                        await self._finish()
                        return
                    self._stop(reason)
                    await self._finished.wait()
                    return
                # Sleep to the earliest deadline; pause/resume/upstream end wake us sooner. Token
                # arrivals do not: a moved idle deadline is simply re-checked when the old one is due.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._control.wait(), when - now)
                self._control.clear()
        except asyncio.CancelledError:
            pass

    async def _finish(self) -> None:
        if self.ended or self._finishing:
            return
        self._finishing = True  # pause/stop from here on would race the end
        self._end_pause()
        self.log.release()
        self.log.flush()
        self.ended_at = datetime.now(timezone.utc)
        if self._orphan_timer is not None:
            self._orphan_timer.cancel()
        if self._watchdog is not None and self._watchdog is not asyncio.current_task():
            self._watchdog.cancel()
        if self._checkpointer is not None and not self._save_lock.locked():
            self._checkpointer.cancel()  # only while it sleeps: a write is never cut in half
        async with self._save_lock:
            # Saved before the final event goes out: a client told "done" can read the answer
            # back, and one whose answer was not saved is told so instead.
            if self._on_end is not None:
                try:
                    await self._on_end(self)
                except Exception as exc:
                    self._save_failed(exc)
            self.log.append(self._final_event())
            self._finished.set()
        self._saved.set()

    def _final_event(self) -> StreamEvent:
        meta = self.record().metadata()
        if self.status is StreamStatus.COMPLETED:
            return StreamEvent(0, "done", data=meta)
        if self.status is StreamStatus.STOPPED:
            return StreamEvent(0, "cancelled", data=meta)
        err = self._error or SecretAIError(ErrorKind.INTERRUPTED, "The stream ended unexpectedly.")
        return StreamEvent(0, "error", data={**meta, "message": err.message, "kind": err.kind.value})

    def _save_failed(self, exc: Exception) -> None:
        """The answer stays on screen and in this stream's record, but is not stored: say so."""
        if isinstance(exc, SecretAIError) and exc.kind is ErrorKind.STORAGE:
            error = exc
        else:
            log.error("stream %s: saving the answer failed: %s", self.id, type(exc).__name__)
            error = SecretAIError(ErrorKind.STORAGE, f"The answer could not be saved ({type(exc).__name__}). "
                                  "What arrived is shown but not stored.")
        if self._error is not None:  # the answer had already failed: say both
            error = SecretAIError(ErrorKind.STORAGE, f"{error.message} (Before that: {self._error.message})")
        self._error = error
        self.status = StreamStatus.ERROR

    async def _checkpoints(self) -> None:
        """Save the answer every few seconds while it streams, so a crash loses little of it."""
        saved_chunks = self._chunks
        try:
            while not self.ended:
                await asyncio.sleep(self._limits.checkpoint_interval)
                if self._chunks == saved_chunks or self._on_checkpoint is None:
                    continue
                async with self._save_lock:
                    if self.ended:
                        return
                    saved_chunks = self._chunks
                    try:
                        await self._on_checkpoint(self)
                    except Exception:
                        log.exception("stream %s: checkpoint failed", self.id)
        except asyncio.CancelledError:
            pass
