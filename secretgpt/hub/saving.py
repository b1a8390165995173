"""When an answer is saved: `SaveOrder` keeps one stream's checkpoints and final save in order;
`SaveRetrier` saves an answer whose final save failed again in the background, with backoff, for
as long as the process lives (a full disk gets space back, a database comes back)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from ..records import StreamRecord
from ..records import ConversationNotFound
from ..storage.failures import failure_reason

log = logging.getLogger(__name__)

Save = Callable[[StreamRecord], Awaitable[object]]


class SaveOrder:
    """A streaming answer is saved every `interval` seconds while it grows (a crash loses little
    of it), then once at its end. The two never overlap, so a late checkpoint cannot overwrite the
    end, and a write is never cut in half."""

    def __init__(self, stream_id: str, interval: float, checkpoint: Callable[[], Awaitable[None]] | None,
                 progress: Callable[[], int]) -> None:
        self._stream_id = stream_id
        self._interval = interval
        self._checkpoint = checkpoint
        self._progress = progress  # grows while there is something new to save
        self._lock = asyncio.Lock()
        self._closing = False
        self._saved = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._checkpoint is not None:
            self._task = asyncio.create_task(self._checkpoints(), name=f"stream-checkpoint-{self._stream_id}")

    @property
    def saved(self) -> bool:
        return self._saved.is_set()

    async def wait_saved(self) -> None:
        await self._saved.wait()

    async def final(self, end: Callable[[], Awaitable[None]]) -> None:
        """Run `end` (the final save, and what must follow it before anyone can see the end) once
        no checkpoint is writing."""
        self._closing = True
        if self._task is not None and not self._lock.locked():
            self._task.cancel()  # only while it sleeps
        try:
            async with self._lock:
                await end()
        finally:
            # Even if `end` was cancelled or failed: whoever waits for the save must not wait for good.
            self._saved.set()

    async def _checkpoints(self) -> None:
        assert self._checkpoint is not None
        saved = self._progress()
        try:
            while not self._closing:
                await asyncio.sleep(self._interval)
                if self._progress() == saved:
                    continue
                async with self._lock:
                    if self._closing:
                        return
                    saved = self._progress()
                    try:
                        await self._checkpoint()
                    except Exception:
                        log.exception("stream %s: checkpoint failed", self._stream_id)
        except asyncio.CancelledError:
            pass


class SaveRetrier:
    def __init__(self, save: Save, first_delay: float = 1.0, max_delay: float = 60.0) -> None:
        self._save = save
        self.first_delay = first_delay
        self.max_delay = max_delay
        self._pending: dict[str, tuple[StreamRecord, asyncio.Task[None]]] = {}

    @property
    def pending(self) -> list[str]:
        """Stream ids whose answers are still unsaved."""
        return list(self._pending)

    def retry(self, record: StreamRecord) -> None:
        """Keep trying to save `record` (as it was when the stream ended) until it lands."""
        self._forget(record.stream_id)
        task = asyncio.create_task(self._run(record), name=f"save-retry-{record.stream_id}")
        self._pending[record.stream_id] = (record, task)

    def _forget(self, stream_id: str) -> None:
        entry = self._pending.pop(stream_id, None)
        if entry is not None and entry[1] is not asyncio.current_task():
            entry[1].cancel()

    async def _run(self, record: StreamRecord) -> None:
        delay = self.first_delay
        attempt = 1
        while True:
            await asyncio.sleep(delay)
            attempt += 1
            try:
                await self._save(record)
            except ConversationNotFound:
                log.info("stream %s: its conversation was deleted; no longer trying to save it", record.stream_id)
                break
            except Exception as exc:
                delay = min(delay * 2, self.max_delay)
                log.warning("stream %s: saving the answer failed again (attempt %d: %s); next try in %.0f s",
                            record.stream_id, attempt, failure_reason(exc), delay)
            else:
                log.info("stream %s: the answer was saved after all (attempt %d)", record.stream_id, attempt)
                break
        self._forget(record.stream_id)

    async def close(self) -> None:
        """At shutdown: one last attempt for each answer still unsaved, then stop trying."""
        pending, self._pending = self._pending, {}
        for _, task in pending.values():
            task.cancel()
        await asyncio.gather(*(task for _, task in pending.values()), return_exceptions=True)
        for record, _ in pending.values():
            try:
                await self._save(record)
                log.info("stream %s: the answer was saved at shutdown", record.stream_id)
            except Exception as exc:
                log.error("stream %s: the answer could not be saved before shutdown and is lost (%s)",
                          record.stream_id, failure_reason(exc))
