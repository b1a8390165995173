"""A stream's events in Redis: one Redis Stream per stream, whose entry ids are `0-<seq>` (the SSE
`id:`), so a reader reads from any id with XREAD and an event is never there twice.

`EventWriter` sends what streams deliver, in order, in pipelined batches (one round trip for
whatever piled up meanwhile, so a fast stream costs few); `RedisEventSource` is what a reader on
any instance follows.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeout

from ...records import ChunkKind, EventList, Signal, StreamEvent

log = logging.getLogger(__name__)

# One blocking read waits at most this long, then the reader looks again: below the client's
# socket timeout (SOCKET_TIMEOUT), or the wait would read as a dead connection.
BLOCK_MS = 2000
SOCKET_TIMEOUT = 10.0


def encode(event: StreamEvent) -> dict[str, str]:
    return {"e": json.dumps({"t": str(event.type), "c": event.content, "d": event.data},
                            ensure_ascii=False, separators=(",", ":"))}


def decode(entry_id: bytes | str, fields: dict[Any, Any]) -> StreamEvent:
    raw = fields.get(b"e", fields.get("e"))
    body = json.loads(raw)
    kind = body["t"]
    event_type = ChunkKind(kind) if kind in ChunkKind._value2member_map_ else Signal(kind)
    seq = int((entry_id.decode() if isinstance(entry_id, bytes) else entry_id).split("-")[1])
    return StreamEvent(seq, event_type, body.get("c") or "", body.get("d"))


class EventWriter:
    """Sends delivered events to Redis: each stream's in order, all streams' in one pipeline per
    batch. `flush()` returns once everything delivered so far is in Redis."""

    def __init__(self, redis: Redis, key_of: Any, final_key_of: Any) -> None:
        self._redis = redis
        self._key_of = key_of
        self._final_key_of = final_key_of
        self._pending: list[tuple[str, StreamEvent]] = []
        self._wakeup = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="redis-event-writer")

    async def close(self) -> None:
        await self.flush()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def write(self, stream_id: str, event: StreamEvent) -> None:
        self._pending.append((stream_id, event))
        self._wakeup.set()

    async def flush(self) -> None:
        async with self._lock:
            while self._pending:
                batch, self._pending = self._pending, []
                pipe = self._redis.pipeline(transaction=False)
                for stream_id, event in batch:
                    pipe.xadd(self._key_of(stream_id), encode(event), id=f"0-{event.seq}")
                    if event.final:
                        pipe.set(self._final_key_of(stream_id), "1")
                await pipe.execute()

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            try:
                await self.flush()
            except Exception:  # Redis gone for a moment: the events wait, and go with the next batch
                log.exception("sending stream events to Redis failed; trying again")
                await asyncio.sleep(0.5)
                self._wakeup.set()


class TeeSink:
    """What a stream read here delivers into: its local readers' list, and Redis for the others."""

    def __init__(self, stream_id: str, local: EventList, writer: EventWriter) -> None:
        self._stream_id = stream_id
        self.local = local
        self._writer = writer

    def append(self, event: StreamEvent) -> None:
        self.local.append(event)
        self._writer.write(self._stream_id, event)


class RedisEventSource:
    """A stream's events as a reader on any instance follows them, read from Redis into a local
    `EventList` (a blocking XREAD while the reader waits, never in the background)."""

    def __init__(self, redis: Redis, key: str, exists: Any) -> None:
        self._redis = redis
        self._key = key
        self._exists = exists  # async: is the stream still known (not expired, not reaped)?
        self._events = EventList()
        self._lock = asyncio.Lock()
        self._missing = False

    @property
    def last_seq(self) -> int:
        return self._events.last_seq

    def after(self, seq: int) -> list[StreamEvent]:
        return self._events.after(seq)

    def gone(self) -> bool:
        return self._events.closed or self._missing

    async def changed(self) -> None:
        async with self._lock:
            if self.gone():
                return
            seen = self.last_seq
            try:
                read = await self._redis.xread({self._key: f"0-{seen}"}, block=BLOCK_MS)
            except (RedisTimeout, RedisConnectionError) as exc:
                # Redis away for a moment: the reader waits and asks again (its stream goes on).
                log.warning("reading %s from Redis failed (%s); trying again", self._key, type(exc).__name__)
                await asyncio.sleep(0.5)
                return
            self._take(read)
            if self.last_seq == seen and not await self._exists():
                self._missing = True

    async def catch_up(self) -> None:
        async with self._lock:
            entries = await self._redis.xrange(self._key, min=f"(0-{self.last_seq}", max="+")
            for entry_id, fields in entries:
                self._events.append(decode(entry_id, fields))

    def _take(self, read: Any) -> None:
        for _key, entries in read or []:
            for entry_id, fields in entries:
                event = decode(entry_id, fields)
                if event.seq == self.last_seq + 1:
                    self._events.append(event)
