"""The stream bus: where a stream's events, its place in the directory and its controls meet, so
that any instance can serve any stream. The hub owns this interface; `LocalBus` (one process,
the single-user app) and `RedisBus` (several instances) implement it.

- **Events.** The instance that reads the model writes each delivered event, in order, to the
  stream's log (`open`); any reader follows it from any id (`source`). Kept for
  STREAM_RETENTION after the stream ends.
- **Directory.** Which streams are live, whose they are, where their model is read (`register`,
  `info`, `live`, `in_conversation`), and the deployment-wide limits: one answer at a time per
  conversation, MAX_CONCURRENT_STREAMS model connections at once (`claim`, `model_done`, `ended`).
- **Controls.** Stop, pause, resume, and readers attaching and leaving (for the orphan timer)
  reach the instance that reads the model (`control` → its `on_control` handler).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from ..records import Command, StreamEvent, StreamInfo
from .event_log import EventSink

ControlHandler = Callable[[str, Command], Awaitable[bool]]
DeadHandler = Callable[[StreamInfo], Awaitable[None]]


class EventSource(Protocol):
    """A stream's delivered events, as a reader sees them: the feed reads nothing else."""

    @property
    def last_seq(self) -> int: ...

    def after(self, seq: int) -> list[StreamEvent]:
        """The events with seq > `seq` that have arrived here."""
        ...

    async def changed(self) -> None:
        """Return when more may have arrived (or the stream is gone)."""
        ...

    def gone(self) -> bool:
        """No more will come: the final event is in, or the stream no longer exists."""
        ...

    async def catch_up(self) -> None:
        """Until every event written so far has arrived here."""
        ...


class StreamBus(Protocol):
    instance: str  # this instance's name in the directory

    async def start(self, on_control: ControlHandler, on_dead: DeadHandler | None = None) -> None:
        """Begin serving controls for this instance's streams (`on_control(stream_id, command)`);
        `on_dead(info)`: a stream whose instance stopped is being ended here (store it as interrupted)."""
        ...

    async def close(self) -> None: ...

    async def ping(self) -> None:
        """Raise if what the bus runs on (Redis) cannot be reached (readiness)."""
        ...

    # --- the producer's side ----------------------------------------------------------------

    def open(self, info: StreamInfo) -> EventSink:
        """Where a new stream delivers its events (numbered, in order): to every reader."""
        ...

    async def claim(self, stream_id: str, owner: str, conversation_id: str | None, limit: int) -> None:
        """Take a model-connection slot and the conversation for a stream about to start. Raises
        TooManyStreams (`limit` streams hold a model connection) or ConversationBusy."""
        ...

    async def bind(self, stream_id: str, conversation_id: str) -> None:
        """The conversation a claim (made for a new conversation) ended up in."""
        ...

    async def release(self, stream_id: str) -> None:
        """A claim that never became a stream."""
        ...

    async def register(self, info: StreamInfo) -> None:
        """The stream is stored and starts: it is in the directory from now on."""
        ...

    async def model_done(self, stream_id: str) -> None:
        """The model connection is closed: its slot is free (a paused stream may still deliver)."""
        ...

    async def ended(self, stream_id: str) -> None:
        """The final event is delivered: the conversation is free; the events stay for retention."""
        ...

    # --- everyone's side --------------------------------------------------------------------

    async def info(self, stream_id: str) -> StreamInfo | None:
        """A live stream, or one that ended within STREAM_RETENTION."""
        ...

    async def live(self, owner: str | None = None) -> list[StreamInfo]:
        """Streams that have not ended."""
        ...

    async def in_conversation(self, conversation_id: str) -> StreamInfo | None:
        """The stream still live in a conversation, if any."""
        ...

    def source(self, info: StreamInfo) -> EventSource:
        """The stream's events, as this instance can read them."""
        ...

    async def control(self, info: StreamInfo, command: Command) -> bool:
        """Deliver a control to the instance that reads the stream's model; False if none does."""
        ...
