"""A minimal HTTP/1.1 model server on 127.0.0.1: Ollama's `/api/chat` (NDJSON) and the
OpenAI-compatible `/v1/chat/completions` (SSE), driven by the same `Reply` scripts.

`protocols={"openai"}` makes it an OpenAI-only host like Secret AI's today (vLLM behind LiteLLM):
`/api/*` then answers 404 `{"detail": "Not Found"}`, as LiteLLM's FastAPI does.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .script import Reply, Step
from .wire import OllamaWire, OpenAIWire, Wire

log = logging.getLogger(__name__)

ReplyFactory = Callable[[dict], Reply]
# Extra GET routes (path -> body): bytes/str as served, a dict as JSON. E.g. a SecretVM's evidence.
Routes = dict[str, bytes | str | dict]
Protocols = frozenset[str] | set[str] | tuple[str, ...]
# (method, path) -> (protocol, what to do)
_ROUTES = {
    ("GET", "/api/tags"): ("ollama", "models"),
    ("GET", "/api/version"): ("ollama", "version"),
    ("POST", "/api/chat"): ("ollama", "chat"),
    ("POST", "/api/show"): ("ollama", "show"),
    ("GET", "/v1/models"): ("openai", "models"),
    ("POST", "/v1/chat/completions"): ("openai", "chat"),
}


@dataclass
class ConnectionLog:
    """What happened on one chat request (`/api/chat` or `/v1/chat/completions`): tests assert on it."""

    request: dict
    headers: dict[str, str]
    protocol: str = "ollama"
    opened_at: float = field(default_factory=time.monotonic)
    chunks_sent: int = 0
    finished: bool = False  # the whole reply was written
    closed_by_client_at: float | None = None
    closed: asyncio.Event = field(default_factory=asyncio.Event)


class LoopbackModelServer:
    """Serve scripted replies. `reply_for(request)` decides each answer."""

    def __init__(self, reply_for: ReplyFactory, *, api_key: str | None = None, models: list[str] | None = None,
                 protocols: Protocols = ("ollama", "openai"), routes: Routes | None = None,
                 written: Callable[[bytes], None] | None = None) -> None:
        self.reply_for = reply_for
        self.routes: Routes = routes if routes is not None else {}
        # Called with each piece of a streamed reply once it is on the wire (a benchmark times its
        # last token by it).
        self.written = written
        self.api_key = api_key
        self.models = models or ["loopback"]
        # Models whose Ollama `/api/show` lists the "vision" capability (the rest: "completion" only).
        self.vision_models: set[str] = set()
        self.protocols = frozenset(protocols)
        self.connections: list[ConnectionLog] = []
        # Every request line, chat or not ("GET /v1/models"): shows what protocol detection asked.
        self.requests: list[str] = []
        # Connections accepted (TLS handshake done, for HTTPS), and every byte read on any of them:
        # tests assert that a refused request never reached the server.
        self.accepted = 0
        self.bytes_received = 0
        # (status, location): answer every request with this redirect (a host that sends prompts on).
        self.redirect: tuple[int, str] | None = None
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task] = set()
        self.port: int = 0
        self.scheme = "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    async def start(self, ssl_context: ssl.SSLContext | None = None, port: int = 0) -> LoopbackModelServer:
        """`ssl_context`: serve HTTPS with it (a server context holding the certificate). `port`: 0
        for any free one; a fixed one lets a host come up where an app already looks for it."""
        self.scheme = "https" if ssl_context is not None else "http"
        self.ssl_context = ssl_context  # a test may load another certificate into it (a swapped key)
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", port, ssl=ssl_context)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
        if self._server is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2):
                    await self._server.wait_closed()

    async def __aenter__(self) -> LoopbackModelServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- HTTP -------------------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.accepted += 1
        try:
            while await self._serve_one(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            # stop() cancels idle keep-alive connections (the clients pool them) and waits for them.
            pass
        finally:
            self._tasks.discard(task)
            with contextlib.suppress(Exception):
                writer.close()

    async def _serve_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            self.bytes_received += len(exc.partial)
            return False
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                key, value = line.split(":", 1)
                headers[key.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0") or 0))
        self.bytes_received += len(head) + len(body)

        self.requests.append(f"{method} {path}")
        if self.redirect is not None:
            status, location = self.redirect
            writer.write(f"HTTP/1.1 {status} X\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n".encode())
            await writer.drain()
            return True
        if method == "GET" and path in self.routes:
            await self._respond_route(writer, self.routes[path])
            return True
        protocol, action = _ROUTES.get((method, path), (None, None))
        if protocol not in self.protocols:
            if "ollama" in self.protocols:
                await self._respond_json(writer, 404, {"error": f"not found: {path}"})
            else:
                await self._respond_json(writer, 404, {"detail": "Not Found"})
            return True
        wire_type = OpenAIWire if protocol == "openai" else OllamaWire
        sent_auth = headers.get("authorization", "")
        if self.api_key is not None and sent_auth != f"Bearer {self.api_key}":
            await self._respond_json(writer, 401, wire_type.error_body(401, "", sent_auth.removeprefix("Bearer ")))
            return True
        if action == "models":
            await self._respond_json(writer, 200, self._model_list(protocol))
            return True
        if action == "show":
            asked = json.loads(body or b"{}").get("model")
            capabilities = ["completion", *(["vision"] if asked in self.vision_models else [])]
            await self._respond_json(writer, 200, {"capabilities": capabilities, "details": {"family": "loopback"}})
            return True
        if action == "version":
            await self._respond_json(writer, 200, {"version": "0.12.6"})
            return True
        request = json.loads(body or b"{}")
        conn = ConnectionLog(request=request, headers=headers, protocol=protocol)
        self.connections.append(conn)
        await self._chat(reader, writer, conn, wire_type(request, conn.opened_at))
        return False

    def _model_list(self, protocol: str) -> dict:
        if protocol == "openai":
            return {"object": "list", "data": [{"id": m, "object": "model", "created": 0, "owned_by": "vllm"}
                                               for m in self.models]}
        return {"models": [{"name": m, "model": m} for m in self.models]}

    async def _respond_json(self, writer: asyncio.StreamWriter, status: int, payload: dict,
                            close: bool = False) -> None:
        data = json.dumps(payload).encode()
        # A chat request's connection is closed after its answer: say so, or a client reuses it.
        connection = "Connection: close\r\n" if close else ""
        writer.write(
            f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n"
            f"{connection}\r\n".encode() + data
        )
        await writer.drain()

    @staticmethod
    async def _respond_route(writer: asyncio.StreamWriter, body: bytes | str | dict) -> None:
        if isinstance(body, dict):
            data, kind = json.dumps(body).encode(), "application/json"
        else:
            data, kind = (body.encode() if isinstance(body, str) else body), "text/plain; charset=utf-8"
        writer.write(f"HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {len(data)}\r\n\r\n".encode() + data)
        await writer.drain()

    async def _chat(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, conn: ConnectionLog,
                    wire: Wire) -> None:
        reply = self.reply_for(conn.request)
        if reply.status != 200:
            body = reply.error_body or json.dumps(wire.error_body(reply.status, reply.error_message))
            data = body.encode()
            writer.write(
                f"HTTP/1.1 {reply.status} X\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode() + data
            )
            await writer.drain()
            return
        # The client sends nothing after its request, so EOF on the reader means it hung up.
        watcher = asyncio.create_task(self._watch_close(reader, conn))
        sender = asyncio.create_task(self._send_reply(writer, conn, reply, wire))
        try:
            await asyncio.wait({watcher, sender}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (watcher, sender):
                task.cancel()
            for task in (watcher, sender):
                with contextlib.suppress(BaseException):
                    await task
            if conn.closed_by_client_at is None and not conn.finished:
                conn.closed_by_client_at = time.monotonic()
            conn.closed.set()

    async def _watch_close(self, reader: asyncio.StreamReader, conn: ConnectionLog) -> None:
        with contextlib.suppress(ConnectionError):
            while await reader.read(65536):
                pass
        if not conn.finished:
            conn.closed_by_client_at = time.monotonic()

    async def _send_reply(self, writer: asyncio.StreamWriter, conn: ConnectionLog, reply: Reply, wire: Wire) -> None:
        inline = wire.inline(reply)
        if not conn.request.get("stream", True):
            await asyncio.sleep(reply.first_token_delay)
            await self._send_whole(writer, conn, reply, wire, inline)
            return
        writer.write(
            f"HTTP/1.1 200 OK\r\nContent-Type: {wire.content_type}\r\nTransfer-Encoding: chunked\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        await writer.drain()
        await asyncio.sleep(reply.first_token_delay)
        interval = 1.0 / reply.tokens_per_second if reply.tokens_per_second else 0.0
        start = time.monotonic()
        pending: list[bytes] = [wire.start(reply)]
        in_think = False
        sent = 0
        for step in reply.steps:
            if step.kind != "chunk":
                if step.kind == "sleep":
                    start += step.seconds
                if await self._control_step(writer, conn, wire, step, pending):
                    return
                continue
            content, thinking = step.content, step.thinking
            if inline:
                content, in_think = _inline(content, thinking, in_think)
                thinking = ""
            pending.append(wire.chunk(reply, content, thinking))
            sent += 1
            conn.chunks_sent = sent
            if interval:
                delay = start + sent * interval - time.monotonic()
                if delay > 0:
                    await self._flush(writer, pending)
                    await asyncio.sleep(delay)
            elif len(pending) >= 64:
                await self._flush(writer, pending)
        tail = "</think>" if inline and in_think else ""
        pending.append(wire.end(reply, sent, tail))
        await self._flush(writer, pending)
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        conn.finished = True

    async def _control_step(self, writer: asyncio.StreamWriter, conn: ConnectionLog, wire: Wire, step: Step,
                            pending: list[bytes]) -> bool:
        """A scripted pause, stall, dropped connection or error line; True if the reply ends here."""
        await self._flush(writer, pending)
        if step.kind == "sleep":
            await asyncio.sleep(step.seconds)
            return False
        if step.kind == "stall":
            await asyncio.Event().wait()
        if step.kind == "drop":
            writer.transport.abort()  # no terminating chunk: the client sees a broken body
            return True
        writer.write(_chunked(wire.stream_error(step.content)) + b"0\r\n\r\n")
        await writer.drain()
        conn.finished = True
        return True

    async def _send_whole(self, writer: asyncio.StreamWriter, conn: ConnectionLog, reply: Reply, wire: Wire,
                          inline: bool) -> None:
        for step in reply.steps:
            if step.kind in ("error", "drop", "stall"):
                if step.kind == "stall":
                    await asyncio.Event().wait()
                if step.kind == "drop":
                    writer.transport.abort()
                    return
                await self._respond_json(writer, 500, wire.error_body(500, step.content), close=True)
                conn.finished = True
                return
        text, thinking = reply.text, reply.thinking
        if inline and thinking:
            text, thinking = f"<think>{thinking}</think>{text}", ""
        await self._respond_json(writer, 200, wire.whole(reply, text, thinking), close=True)
        conn.finished = True

    async def _flush(self, writer: asyncio.StreamWriter, pending: list[bytes]) -> None:
        if not pending:
            return
        data = b"".join(pending)
        pending.clear()
        writer.write(_chunked(data))
        await writer.drain()
        if self.written is not None:
            self.written(data)


def _chunked(data: bytes) -> bytes:
    """One HTTP/1.1 chunk."""
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def _inline(content: str, thinking: str, in_think: bool) -> tuple[str, bool]:
    """Reasoning as old servers sent it: inside <think>…</think> in the content."""
    if thinking and not in_think:
        thinking, in_think = "<think>" + thinking, True
    if content and in_think:
        content, in_think = "</think>" + content, False
    return thinking + content, in_think

