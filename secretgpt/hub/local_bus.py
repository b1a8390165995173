"""`LocalBus`: the stream bus of one process (SECRETGPT_REDIS_URL unset, the single-user app).

Events stay in each stream's `EventList`, which its readers read directly; the directory is a
dict; a control is a call. Streams ended longer ago than STREAM_RETENTION are forgotten.
"""

from __future__ import annotations

import time

from ..records import Command, ConversationBusy, EventList, StreamInfo, TooManyStreams
from .bus import ControlHandler, DeadHandler, EventSource


class LocalBus:
    instance = "local"

    def __init__(self, retention: float = 600.0) -> None:
        self.retention = retention
        self._logs: dict[str, EventList] = {}
        self._infos: dict[str, StreamInfo] = {}
        self._slots: set[str] = set()  # streams holding a model connection
        self._busy: dict[str, str] = {}  # conversation -> its live stream
        self._ended_at: dict[str, float] = {}
        self._on_control: ControlHandler | None = None

    async def start(self, on_control: ControlHandler, on_dead: DeadHandler | None = None) -> None:
        self._on_control = on_control  # one process: no other instance can stop

    async def close(self) -> None:
        self._on_control = None

    async def ping(self) -> None:
        pass  # in this process: nothing to reach

    def open(self, info: StreamInfo) -> EventList:
        events = self._logs[info.id] = EventList()
        return events

    async def claim(self, stream_id: str, owner: str, conversation_id: str | None, limit: int) -> None:
        self._prune()
        holder = self._busy.get(conversation_id) if conversation_id is not None else None
        if holder is not None and holder != stream_id and not self._finished(holder):
            # (A stream whose final event is out has ended, if its `ended` has not run yet.)
            raise ConversationBusy()
        if sum(1 for held in self._slots if not self._finished(held)) >= limit:
            raise TooManyStreams(limit)
        self._slots.add(stream_id)
        if conversation_id is not None:
            self._busy[conversation_id] = stream_id

    async def bind(self, stream_id: str, conversation_id: str) -> None:
        self._busy[conversation_id] = stream_id

    async def release(self, stream_id: str) -> None:
        self._slots.discard(stream_id)
        self._free_conversation(stream_id)
        self._logs.pop(stream_id, None)

    async def register(self, info: StreamInfo) -> None:
        self._infos[info.id] = info

    async def model_done(self, stream_id: str) -> None:
        self._slots.discard(stream_id)

    async def ended(self, stream_id: str) -> None:
        self._slots.discard(stream_id)
        self._free_conversation(stream_id)
        self._ended_at[stream_id] = time.monotonic()

    def _finished(self, stream_id: str) -> bool:
        """Its final event is out (its `model_done`/`ended` may still be on their way)."""
        log = self._logs.get(stream_id)
        return log is not None and log.closed

    def _free_conversation(self, stream_id: str) -> None:
        for conversation_id, holder in list(self._busy.items()):
            if holder == stream_id:
                del self._busy[conversation_id]

    async def info(self, stream_id: str) -> StreamInfo | None:
        self._prune()
        return self._infos.get(stream_id)

    async def live(self, owner: str | None = None) -> list[StreamInfo]:
        return [info for stream_id, info in self._infos.items()
                if stream_id not in self._ended_at and (owner is None or info.owner == owner)]

    async def in_conversation(self, conversation_id: str) -> StreamInfo | None:
        stream_id = self._busy.get(conversation_id)
        if stream_id is not None and self._finished(stream_id):
            return None
        return self._infos.get(stream_id) if stream_id is not None else None

    def source(self, info: StreamInfo) -> EventSource:
        return self._logs[info.id]

    async def control(self, info: StreamInfo, command: Command) -> bool:
        if self._on_control is None or info.id not in self._infos:
            return False
        return await self._on_control(info.id, command)

    def _prune(self) -> None:
        cutoff = time.monotonic() - self.retention
        for stream_id, ended in list(self._ended_at.items()):
            if ended < cutoff:
                del self._ended_at[stream_id]
                self._infos.pop(stream_id, None)
                self._logs.pop(stream_id, None)
