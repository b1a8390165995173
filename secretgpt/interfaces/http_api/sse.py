"""A stream's events as Server-Sent Events, framed by sse-starlette's `EventSourceResponse`.

Each event is `id: <seq>` and `data: <JSON>`; what is already delivered goes out in one write
(the `EventFeed` hands it over as a batch). The library sends the keep-alive comments, notices a
client that hung up (the feed is closed, and the stream's orphan timer starts) and sets
`X-Accel-Buffering: no` so proxies pass events through at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator

from sse_starlette import EventSourceResponse, ServerSentEvent
from sse_starlette.sse import AppStatus

from ...hub import StreamEvent, StreamView
from ...records import working_for

log = logging.getLogger(__name__)

SEPARATOR = "\n"
KEEP_ALIVE = ServerSentEvent(comment="keep-alive", sep=SEPARATOR)

# On SIGTERM the library would end every event stream at once, cleanly, as if the answer were
# complete. Ours stay open until uvicorn's graceful limit cuts them (the client sees the connection
# break, not an end); the runtime's stop then interrupts and saves the answers.
AppStatus.disable_automatic_graceful_drain()


def event_source(stream: StreamView, after: int, keepalive: float) -> EventSourceResponse:
    """The events with seq > after, live until the final one; `: keep-alive` every `keepalive` s."""
    return EventSourceResponse(_frames(stream, after), sep=SEPARATOR, ping=keepalive,
                               ping_message_factory=lambda: KEEP_ALIVE, headers={"Cache-Control": "no-cache"})


def encode(event: StreamEvent) -> bytes:
    data = json.dumps(event.payload(), ensure_ascii=False, separators=(",", ":"))
    return ServerSentEvent(data, id=str(event.seq), sep=SEPARATOR).encode()


async def _frames(stream: StreamView, after: int) -> AsyncIterator[bytes]:
    # The final event is delivered once the answer is stored: a client that saw it can read it back.
    working_for(stream.id, stream.conversation_id)
    await stream.attach()
    try:
        async for batch in stream.follow(after):
            yield b"".join(encode(event) for event in batch)
    except Exception:
        log.exception("stream %s: reading its events failed", stream.id)
        raise
    finally:
        await asyncio.shield(stream.detach())
