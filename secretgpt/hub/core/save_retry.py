"""`SaveRetrier`: an answer whose final save failed is saved again in the background, with backoff,
for as long as the process lives (a full disk gets space back, a database comes back)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from ...storage import ConversationNotFound
from ...storage.failures import failure_reason
from .events import StreamRecord

log = logging.getLogger(__name__)

Save = Callable[[StreamRecord], Awaitable[object]]


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
