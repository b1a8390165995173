"""`EventFeed`: the one way to read a stream's events, for the SSE API, the page and tests alike.

A feed remembers how far its reader got. `take()` hands over everything delivered since (the
reader batches what is already there instead of waking per event); `wait()` returns when there is
more, or the stream has ended; `async for batch in feed` does both until the final event.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from .bus import EventSource
from ..records import StreamEvent
from .stream_state import StreamState


class EventFeed:
    """`state`, if given, folds every event taken (a reader following from the start knows the
    stream's text, pause and status from its events alone)."""

    def __init__(self, source: EventSource, after: int = 0, state: StreamState | None = None) -> None:
        self._source = source
        self._seq = max(0, after)
        self.state = state
        self.done = False  # the final event was taken (or the stream is gone without one)

    def take(self) -> list[StreamEvent]:
        """Every event delivered since the last `take`, up to and including the final one."""
        batch = self._source.after(self._seq)
        for index, event in enumerate(batch):
            if event.final:
                batch = batch[: index + 1]
                self.done = True
                break
        if batch:
            self._seq = batch[-1].seq
            if self.state is not None:
                for event in batch:
                    self.state.add(event)
        elif self._source.gone():
            self.done = True
        return batch

    async def wait(self) -> None:
        """Until something can be taken, or there will never be more."""
        if self.done or self._source.last_seq > self._seq or self._source.gone():
            return
        await self._source.changed()

    async def __aiter__(self) -> AsyncIterator[list[StreamEvent]]:
        while not self.done:
            batch = self.take()
            if batch:
                yield batch
            else:
                await self.wait()

    async def events(self) -> AsyncIterator[StreamEvent]:
        """The same, one event at a time."""
        async for batch in self:
            for event in batch:
                yield event
