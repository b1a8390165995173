"""Server-Sent Events as a client sees them: one reader for every test that streams."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx

_END = object()


@dataclass
class Frame:
    id: int | None
    data: dict[str, Any]
    at: float  # time.monotonic() when it arrived

    @property
    def type(self) -> str:
        return str(self.data.get("type"))


class EventStream:
    """Parses an SSE response in a background task, so waiting with a timeout never cuts a frame.

    `frames` holds every data frame in order, `keepalives` counts comment-only frames and
    `malformed` any other line. How the response ended: `ended_cleanly` (the server closed the body
    properly) or `error` (the connection broke).
    """

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.frames: list[Frame] = []
        self.keepalives = 0
        self.malformed: list[str] = []
        self.error: BaseException | None = None
        self.ended_cleanly = False
        self.ended_at: float | None = None
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._arrived = asyncio.Event()
        self._done = asyncio.Event()
        self._task = asyncio.create_task(self._pump())

    async def _pump(self) -> None:
        event_id: int | None = None
        data: list[str] = []
        comment = False
        try:
            async for line in self.response.aiter_lines():
                if line == "":
                    if data:
                        frame = Frame(event_id, json.loads("\n".join(data)), time.monotonic())
                        self.frames.append(frame)
                        self._queue.put_nowait(frame)
                        self._arrived.set()
                    elif comment:
                        self.keepalives += 1
                    event_id, data, comment = None, [], False
                elif line.startswith(":"):
                    comment = True
                elif line.startswith("id: "):
                    event_id = int(line[4:])
                elif line.startswith("data: "):
                    data.append(line[6:])
                else:
                    self.malformed.append(line)
            self.ended_cleanly = True
        except httpx.HTTPError as exc:  # includes the peer closing mid-body
            self.error = exc
        except asyncio.CancelledError:
            pass
        finally:
            self.ended_at = time.monotonic()
            self._done.set()
            self._arrived.set()
            self._queue.put_nowait(_END)

    # --- reading in order -------------------------------------------------------------------------

    async def next(self, timeout: float = 10.0) -> Frame:
        item = await asyncio.wait_for(self._queue.get(), timeout)
        if item is _END:
            self._queue.put_nowait(_END)
            raise EOFError("the server ended the event stream")
        return item

    async def until(self, *types: str, timeout: float = 10.0) -> Frame:
        """Skip to the next frame of one of `types`."""
        async with asyncio.timeout(timeout):
            while True:
                frame = await self.next(timeout)
                if frame.type in types:
                    return frame

    async def rest(self, timeout: float = 15.0) -> list[Frame]:
        """Every remaining frame; the server must end the response within `timeout`."""
        out: list[Frame] = []
        async with asyncio.timeout(timeout):
            while True:
                try:
                    out.append(await self.next(timeout))
                except EOFError:
                    return out

    def pending(self) -> list[Frame]:
        """Frames that arrived and were not read yet (without waiting)."""
        out = []
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if item is _END:
                self._queue.put_nowait(_END)
                break
            out.append(item)
        return out

    # --- looking at everything so far -------------------------------------------------------------

    def text(self, kind: str = "text", *, before: float | None = None) -> str:
        return "".join(f.data["content"] for f in self.frames
                       if f.type == kind and (before is None or f.at < before))

    def count(self, kind: str = "text") -> int:
        return sum(f.type == kind for f in self.frames)

    def first(self, kind: str) -> Frame | None:
        return next((f for f in self.frames if f.type == kind), None)

    async def wait_for(self, condition: Callable[[], Any], timeout: float, what: str) -> None:
        async with asyncio.timeout(timeout):
            while not condition():
                if self._done.is_set():
                    raise AssertionError(f"the event stream ended before {what} (error: {self.error!r})")
                self._arrived.clear()
                await self._arrived.wait()

    async def ended(self, timeout: float) -> None:
        await asyncio.wait_for(self._done.wait(), timeout)

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(BaseException):
            await self._task


@contextlib.asynccontextmanager
async def event_stream(client: httpx.AsyncClient, body: dict[str, Any], *,
                       headers: dict[str, str] | None = None) -> AsyncIterator[EventStream]:
    """POST /api/v1/chat/stream and read its events (the request must have been taken: 200)."""
    async with client.stream("POST", "/api/v1/chat/stream", json=body, headers=headers) as response:
        assert response.status_code == 200, (response.status_code, await response.aread())
        reader = EventStream(response)
        try:
            yield reader
        finally:
            await reader.close()


@contextlib.asynccontextmanager
async def attached(client: httpx.AsyncClient, stream_id: str,
                   last_event_id: int | None = None) -> AsyncIterator[EventStream]:
    """GET /api/v1/chat/stream/{id} (with Last-Event-ID) and read its events."""
    headers = {"Last-Event-ID": str(last_event_id)} if last_event_id is not None else {}
    async with client.stream("GET", f"/api/v1/chat/stream/{stream_id}", headers=headers) as response:
        reader = EventStream(response)
        try:
            yield reader
        finally:
            await reader.close()
