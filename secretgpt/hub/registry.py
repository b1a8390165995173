"""`StreamRegistry`: every stream by id, the concurrency limit, and retention of ended streams."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from .stream import ActiveStream
from .errors import TooManyStreams


class StreamRegistry:
    def __init__(self, max_concurrent: int, retention: float = 600.0) -> None:
        self.max_concurrent = max_concurrent
        self.retention = retention
        self._streams: dict[str, ActiveStream] = {}
        self._ended_at: dict[str, float] = {}

    def open(self, build: Callable[[str], ActiveStream], *, start: bool = True) -> ActiveStream:
        """Register (and start) a stream, or raise TooManyStreams (never a silent queue)."""
        self.reserve()
        stream_id = uuid.uuid4().hex
        stream = build(stream_id)
        self._streams[stream_id] = stream
        if start:
            stream.start()
        return stream

    def reserve(self) -> None:
        """Raise TooManyStreams if no stream could be opened now (checked before anything is stored)."""
        self._prune()
        if len(self.upstream_streams()) >= self.max_concurrent:
            raise TooManyStreams(self.max_concurrent)

    def discard(self, stream_id: str) -> None:
        """Forget a stream that never started."""
        self._streams.pop(stream_id, None)

    def get(self, stream_id: str) -> ActiveStream | None:
        return self._streams.get(stream_id)

    def upstream_streams(self) -> list[ActiveStream]:
        """Streams still holding a model connection: these count against the limit."""
        return [s for s in self._streams.values() if not s.upstream_done]

    def get_active_streams(self, owner: str | None = None) -> list[ActiveStream]:
        """Streams not yet ended (including paused ones whose model has finished)."""
        return [s for s in self._streams.values() if not s.ended and (owner is None or s.owner == owner)]

    def for_conversation(self, conversation_id: str) -> ActiveStream | None:
        for stream in reversed(list(self._streams.values())):
            if stream.conversation_id == conversation_id and not stream.ended:
                return stream
        return None

    async def wait_saved(self, conversation_id: str, owner: str) -> None:
        """Until every ended stream of the owner's conversation has been handed to storage (another
        owner's streams are never waited for: how long that takes would tell them apart)."""
        for stream in list(self._streams.values()):
            if stream.conversation_id == conversation_id and stream.owner == owner and stream.ended:
                await stream.wait_saved()

    def mark_ended(self, stream: ActiveStream) -> None:
        self._ended_at[stream.id] = time.monotonic()

    def _prune(self) -> None:
        cutoff = time.monotonic() - self.retention
        for stream_id, ended in list(self._ended_at.items()):
            if ended < cutoff:
                self._ended_at.pop(stream_id, None)
                self._streams.pop(stream_id, None)

    async def interrupt_all(self) -> None:
        for stream in self.get_active_streams():
            stream.interrupt()
        # Until saved, not just ended: the store closes right after this, and a final save still
        # on its way would be lost (the answer left as its last checkpoint).
        for stream in list(self._streams.values()):
            if not stream.saved:
                await stream.wait_saved()
