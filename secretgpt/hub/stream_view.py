"""`StreamView`: a stream as the interfaces see it, wherever its model is read — what it is, its
events from any id, and what they say (`StreamState`). Read-only: stop, pause and resume are the
hub's verbs. The page and the SSE API know streams only through it.
"""

from __future__ import annotations

import asyncio
import contextlib

from ..records import StreamRecord, StreamStatus
from .bus import EventSource, StreamBus
from .event_feed import EventFeed
from .ports import HubObserver, Unobserved
from ..records import StreamInfo
from .stream_state import StreamState


class StreamView:
    def __init__(self, info: StreamInfo, source: EventSource, bus: StreamBus,
                 observer: HubObserver | None = None) -> None:
        self.info = info
        self._source = source
        self._bus = bus
        self._observer = observer or Unobserved()

    # --- what it is -----------------------------------------------------------------------------

    @property
    def id(self) -> str:
        return self.info.id

    @property
    def owner(self) -> str:
        return self.info.owner

    @property
    def conversation_id(self) -> str:
        return self.info.conversation_id

    @property
    def model(self) -> str:
        return self.info.model

    @property
    def message_id(self) -> str | None:
        return self.info.message_id

    @property
    def user_message_id(self) -> str | None:
        return self.info.user_message_id

    # --- its events -----------------------------------------------------------------------------

    def follow(self, after: int = 0) -> EventFeed:
        """Its events with seq > after, live until the final one. From the start (`after=0`) the
        feed's `state` says what the events say."""
        return EventFeed(self._source, after, StreamState(self.info) if after == 0 else None)

    def state(self) -> StreamState:
        """What its events say so far, as they have arrived here (`refresh` to catch up first)."""
        return StreamState.of(self.info, self._source.after(0))

    async def refresh(self) -> StreamState:
        await self._source.catch_up()
        return self.state()

    @property
    def last_seq(self) -> int:
        return self._source.last_seq

    @property
    def ended(self) -> bool:
        return self.state().ended

    @property
    def paused(self) -> bool:
        return self.state().paused

    @property
    def status(self) -> StreamStatus:
        return self.state().status

    @property
    def text(self) -> str:
        return self.state().text

    def record(self) -> StreamRecord:
        return self.state().record()

    async def wait(self) -> StreamRecord:
        """Until the final event (it comes once the answer is stored); the record it completes."""
        feed = self.follow()
        async for _ in feed:
            pass
        assert feed.state is not None
        return feed.state.record()

    async def settled(self, *, paused: bool, within: float) -> StreamState:
        """Until its events say it is (not) paused, or it has ended: a Pause sent to another
        instance is answered once it took effect (at most `within` s)."""
        state = await self.refresh()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                while state.paused != paused and not state.ended:
                    await self._source.changed()
                    state = self.state()
        return state

    # --- its readers ----------------------------------------------------------------------------

    async def attach(self) -> None:
        """A reader is following (a reader that leaves for good lets an API stream be stopped)."""
        await self._bus.control(self.info, "attach")
        self._observer.reader_attached()  # after: a failed attach is never detached

    async def detach(self) -> None:
        self._observer.reader_detached()
        await self._bus.control(self.info, "detach")
