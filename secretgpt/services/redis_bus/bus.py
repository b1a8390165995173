"""`RedisBus`: the stream bus of several SecretGPT instances on one Redis (SECRETGPT_REDIS_URL).

- **Events**: a Redis Stream per stream (`events.py`); kept STREAM_RETENTION after the end.
- **Directory**: each stream's `StreamInfo`, the set of live streams, the conversation each one
  holds (one answer at a time per conversation, deployment-wide) and the model-connection slots
  (MAX_CONCURRENT_STREAMS for the whole deployment), taken and freed atomically (Lua).
- **Controls**: a Redis Stream per instance, read by that instance; a stream's controls go to the
  instance that reads its model (straight to the handler when that is this one).
- **A dead instance**: each instance renews a key every HEARTBEAT s that expires after DEAD_AFTER s.
  Every instance looks for live streams whose instance's key is gone; the first to claim one ends
  it for its readers with one `error` event of kind `interrupted`, and `on_dead` has the answer
  stored as interrupted (so it can be continued).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis

from ...records import Command, ConversationBusy, EventList, Signal, StreamEvent, StreamInfo, TooManyStreams
from .events import SOCKET_TIMEOUT, EventWriter, RedisEventSource, TeeSink

log = logging.getLogger(__name__)

HEARTBEAT = 2.0
DEAD_AFTER = 10.0
INTERRUPTED = ("The instance that read this answer's model stopped; what had arrived is kept, as interrupted. "
               "Continue carries it on.")

# KEYS: slots, conversation key (or ""), this claim's key; ARGV: stream id, limit, now, final-key prefix.
# A conversation whose holder's final event is out is free (its `ended` may not have run yet).
_CLAIM = """
if KEYS[2] ~= '' then
  local holder = redis.call('GET', KEYS[2])
  if holder and holder ~= ARGV[1] and redis.call('EXISTS', ARGV[4] .. holder) == 0 then return -1 end
end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return -2 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
if KEYS[2] ~= '' then
  redis.call('SET', KEYS[2], ARGV[1])
  redis.call('SET', KEYS[3], KEYS[2])
end
return 1
"""
# KEYS: conversation key; ARGV: stream id. Frees the conversation only if this stream holds it.
_FREE = "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end return 1"

ControlHandler = Callable[[str, Command], Awaitable[bool]]
DeadHandler = Callable[[StreamInfo], Awaitable[None]]


class RedisBus:
    def __init__(self, url: str, *, retention: float = 600.0, prefix: str = "secretgpt:",
                 heartbeat: float = HEARTBEAT, dead_after: float = DEAD_AFTER) -> None:
        self._redis = Redis.from_url(url, socket_timeout=SOCKET_TIMEOUT)
        self._p = prefix
        self.retention = retention
        self.heartbeat, self.dead_after = heartbeat, dead_after
        self.instance = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._writer = EventWriter(self._redis, self._events_key, self._final_key)
        self._local: dict[str, EventList] = {}  # streams read here: their readers here read this
        self._on_control: ControlHandler | None = None
        self._on_dead: DeadHandler | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._claim = self._redis.register_script(_CLAIM)
        self._free = self._redis.register_script(_FREE)

    # --- keys -----------------------------------------------------------------------------------

    def _events_key(self, stream_id: str) -> str:
        return f"{self._p}events:{stream_id}"

    def _final_key(self, stream_id: str) -> str:
        return f"{self._p}final:{stream_id}"

    def _info_key(self, stream_id: str) -> str:
        return f"{self._p}info:{stream_id}"

    def _conversation_key(self, conversation_id: str) -> str:
        return f"{self._p}conversation:{conversation_id}"

    def _claim_key(self, stream_id: str) -> str:
        return f"{self._p}claim:{stream_id}"

    def _alive_key(self, instance: str) -> str:
        return f"{self._p}alive:{instance}"

    def _control_key(self, instance: str) -> str:
        return f"{self._p}control:{instance}"

    @property
    def _slots(self) -> str:
        return f"{self._p}slots"

    @property
    def _live(self) -> str:
        return f"{self._p}live"

    # --- life -----------------------------------------------------------------------------------

    async def start(self, on_control: ControlHandler, on_dead: DeadHandler | None = None) -> None:
        self._on_control, self._on_dead = on_control, on_dead
        await self._redis.set(self._alive_key(self.instance), "1", px=int(self.dead_after * 1000))
        self._writer.start()
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._controls(), name="redis-bus-controls"),
                       loop.create_task(self._watch(), name="redis-bus-heartbeat")]

    async def close(self) -> None:
        await self._writer.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self._redis.delete(self._alive_key(self.instance), self._control_key(self.instance))
        await self._redis.aclose()

    async def ping(self) -> None:
        await self._redis.ping()

    async def live_ids(self) -> set[str]:
        """Streams the directory holds as live (any instance's), for the start-up's interrupted marks."""
        return {m.decode() for m in await self._redis.smembers(self._live)}

    # --- the producer's side --------------------------------------------------------------------

    def open(self, info: StreamInfo) -> TeeSink:
        local = self._local[info.id] = EventList()
        return TeeSink(info.id, local, self._writer)

    async def claim(self, stream_id: str, owner: str, conversation_id: str | None, limit: int) -> None:
        conversation = self._conversation_key(conversation_id) if conversation_id else ""
        taken = await self._claim(keys=[self._slots, conversation, self._claim_key(stream_id)],
                                  args=[stream_id, limit, time.time(), self._final_key("")])
        if taken == -1:
            raise ConversationBusy()
        if taken == -2:
            raise TooManyStreams(limit)

    async def bind(self, stream_id: str, conversation_id: str) -> None:
        key = self._conversation_key(conversation_id)
        pipe = self._redis.pipeline(transaction=True)
        pipe.set(key, stream_id)
        pipe.set(self._claim_key(stream_id), key)
        await pipe.execute()

    async def release(self, stream_id: str) -> None:
        self._local.pop(stream_id, None)
        conversation = await self._redis.get(self._claim_key(stream_id))
        if conversation is not None:
            await self._free(keys=[conversation.decode()], args=[stream_id])
        await self._redis.delete(self._claim_key(stream_id), self._events_key(stream_id))
        await self._redis.zrem(self._slots, stream_id)

    async def register(self, info: StreamInfo) -> None:
        pipe = self._redis.pipeline(transaction=True)
        pipe.set(self._info_key(info.id), json.dumps(info.to_json()))
        pipe.sadd(self._live, info.id)
        await pipe.execute()

    async def model_done(self, stream_id: str) -> None:
        await self._redis.zrem(self._slots, stream_id)

    async def ended(self, stream_id: str) -> None:
        await self._writer.flush()  # the final event is in Redis before the stream is let go
        info = await self.info(stream_id)
        await self._let_go(stream_id, info)
        self._local.pop(stream_id, None)

    async def _let_go(self, stream_id: str, info: StreamInfo | None) -> None:
        retention = max(1, int(self.retention))
        pipe = self._redis.pipeline(transaction=False)
        pipe.zrem(self._slots, stream_id)
        pipe.srem(self._live, stream_id)
        for key in (self._events_key(stream_id), self._final_key(stream_id), self._info_key(stream_id)):
            pipe.expire(key, retention)
        await pipe.execute()
        if info is not None:
            await self._free(keys=[self._conversation_key(info.conversation_id)], args=[stream_id])
        await self._redis.delete(self._claim_key(stream_id))

    # --- everyone's side ------------------------------------------------------------------------

    async def info(self, stream_id: str) -> StreamInfo | None:
        raw = await self._redis.get(self._info_key(stream_id))
        return StreamInfo.from_json(json.loads(raw)) if raw else None

    async def live(self, owner: str | None = None) -> list[StreamInfo]:
        ids = sorted(await self.live_ids())
        if not ids:
            return []
        raws = await self._redis.mget([self._info_key(i) for i in ids])
        infos = [StreamInfo.from_json(json.loads(raw)) for raw in raws if raw]
        return [i for i in infos if owner is None or i.owner == owner]

    async def in_conversation(self, conversation_id: str) -> StreamInfo | None:
        holder = await self._redis.get(self._conversation_key(conversation_id))
        if holder is None or await self._redis.exists(self._final_key(holder.decode())):
            return None
        return await self.info(holder.decode())

    def source(self, info: StreamInfo) -> EventList | RedisEventSource:
        local = self._local.get(info.id)
        if local is not None:  # read here: its readers here read what it delivers, no round trip
            return local
        return RedisEventSource(self._redis, self._events_key(info.id),
                                lambda: self._redis.exists(self._info_key(info.id)))

    async def control(self, info: StreamInfo, command: Command) -> bool:
        if info.instance == self.instance:
            return await self._on_control(info.id, command) if self._on_control else False
        if not await self._redis.exists(self._alive_key(info.instance)):
            return False
        await self._redis.xadd(self._control_key(info.instance), {"s": info.id, "c": command}, maxlen=10_000)
        return True

    # --- background -----------------------------------------------------------------------------

    async def _controls(self) -> None:
        """Controls sent to this instance, applied as they come."""
        key, last = self._control_key(self.instance), "$"
        while True:
            try:
                read = await self._redis.xread({key: last}, block=int(self.heartbeat * 1000))
            except Exception:
                log.exception("reading controls from Redis failed")
                await asyncio.sleep(self.heartbeat)
                continue
            for _key, entries in read or []:
                for entry_id, fields in entries:
                    last = entry_id
                    if self._on_control is not None:
                        await self._on_control(fields[b"s"].decode(), fields[b"c"].decode())  # type: ignore[arg-type]

    async def _watch(self) -> None:
        """Renew this instance's heartbeat; end the streams of instances whose heartbeat is gone."""
        while True:
            try:
                await self._redis.set(self._alive_key(self.instance), "1", px=int(self.dead_after * 1000))
                await self._reap()
            except Exception:
                log.exception("the Redis heartbeat failed")
            await asyncio.sleep(self.heartbeat)

    async def _reap(self) -> None:
        for info in await self.live():
            if info.instance == self.instance or await self._redis.exists(self._alive_key(info.instance)):
                continue
            if not await self._redis.set(f"{self._p}reaped:{info.id}", self.instance, nx=True,
                                         ex=max(1, int(self.retention))):
                continue  # another instance got to it first
            log.warning("stream %s: its instance %s stopped; ending it as interrupted", info.id, info.instance)
            if self._on_dead is not None:
                await self._on_dead(info)
            await self._end_for_readers(info)

    async def _end_for_readers(self, info: StreamInfo) -> None:
        if not await self._redis.exists(self._final_key(info.id)):
            last = await self._redis.xrevrange(self._events_key(info.id), count=1)
            seq = int(last[0][0].decode().split("-")[1]) + 1 if last else 1
            data = {"stream_id": info.id, "conversation_id": info.conversation_id, "model": info.model,
                    "message_id": info.message_id, "status": "interrupted", "kind": "interrupted",
                    "message": INTERRUPTED}
            self._writer.write(info.id, StreamEvent(seq, Signal.ERROR, data=data))
            await self._writer.flush()
        await self._let_go(info.id, info)
