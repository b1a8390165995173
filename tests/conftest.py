"""Shared fixtures: a scripted loopback model server, the real service/hub on top of it, and the
HTTP API served by a real uvicorn server in the test's event loop.

The only stand-in is at the network edge: the model server is the project's loopback server,
so every test exercises the real client stacks: `AsyncOpenAI` / httpx on the OpenAI-compatible path,
`ChatSecret` / langchain-ollama / ollama / httpx on the Ollama path (the `protocol` fixture).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError

from secretgpt.config import Settings, load_settings
from secretgpt.hub.core.router import HubRouter
from secretgpt.hub.core.stream import ActiveStream
from secretgpt.services.ollama_loopback import OllamaLoopbackServer, Reply
from secretgpt.services.secret_ai import Catalog, ModelInfo, Protocol, SecretAIService
from secretgpt.storage import SqlConversationStore, database_url

MODEL = "loopback"
SECRET_AI_KEY = "test-secret-ai-key"
API_TOKEN = "test-api-token"
OWNER = "tester"

# Every env key Settings reads: cleared so a developer's shell cannot change what tests see.
SETTINGS_ENV_KEYS = [
    str(f.validation_alias.choices[0])  # type: ignore[union-attr]
    for f in Settings.model_fields.values()
    if f.validation_alias is not None
]

# Small limits so failure paths end in about a second. The idle timeout is the one that fires
# "by itself" in tests; the first-token timeout leaves room for a deliberately slow first token.
TEST_LIMITS: dict[str, Any] = {
    "max_concurrent_streams": 2,
    "stream_timeout": 30.0,
    "stream_idle_timeout": 1.0,
    "stream_first_token_timeout": 5.0,
    "stream_detach_grace": 0.2,
    "sse_keepalive_interval": 0.25,
    "streaming_chunk_size": 1,
}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in SETTINGS_ENV_KEYS:
        monkeypatch.delenv(key, raising=False)


class ModelScript:
    """What the loopback model answers: a fixed `Reply`, or a function of the request."""

    def __init__(self) -> None:
        self.reply: Reply | Callable[[dict], Reply] = Reply.of("Hello from the loopback model.", "Let me think.")

    def __call__(self, request: dict) -> Reply:
        reply = self.reply
        return reply if isinstance(reply, Reply) else reply(request)


@pytest.fixture
def script() -> ModelScript:
    return ModelScript()


@pytest.fixture(params=["openai", "ollama"])
def protocol(request: pytest.FixtureRequest) -> Protocol:
    """Every test of the model path runs twice: AsyncOpenAI against an OpenAI-only host (Secret AI
    today), and the real ChatSecret against an Ollama-only one."""
    return request.param


@pytest.fixture
async def model_server(script: ModelScript, protocol: Protocol) -> AsyncIterator[OllamaLoopbackServer]:
    server = OllamaLoopbackServer(script, api_key=SECRET_AI_KEY, models=[MODEL], protocols={protocol})
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values = {"data_dir": tmp_path / "data", "api_token": API_TOKEN, **TEST_LIMITS, **overrides}
        return load_settings(_env_file=None, **values)

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
async def service(model_server: OllamaLoopbackServer, protocol: Protocol,
                  monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[SecretAIService]:
    # Both clients read the key only from the environment.
    monkeypatch.setenv("SECRET_AI_API_KEY", SECRET_AI_KEY)
    built = SecretAIService(Catalog(models=[ModelInfo(name=MODEL, url=model_server.url, protocol=protocol)]),
                            read_timeout=30.0)
    yield built
    await built.aclose()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlConversationStore]:
    """The real conversation store, on SQLite in the test's own directory."""
    opened = await SqlConversationStore.open(database_url(tmp_path / "db"))
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def make_hub(
    service: SecretAIService, store: SqlConversationStore, make_settings: Callable[..., Settings]
) -> AsyncIterator[Callable[..., HubRouter]]:
    hubs: list[HubRouter] = []

    def make(**overrides: Any) -> HubRouter:
        hub = HubRouter(make_settings(**overrides), service, store)
        hubs.append(hub)
        return hub

    yield make
    for hub in hubs:
        await asyncio.wait_for(hub.shutdown(), 10)
        # Final saves run after the end event; let them land before the store closes.
        for stream in list(hub.registry._streams.values()):
            await asyncio.wait_for(stream.wait_saved(), 10)


@pytest.fixture
def hub(make_hub: Callable[..., HubRouter]) -> HubRouter:
    return make_hub()


# --- the HTTP API ---------------------------------------------------------------------------------


@dataclass
class SSEFrame:
    id: int | None
    data: dict[str, Any]

    @property
    def type(self) -> str:
        return str(self.data.get("type"))


_END = object()


class SSEReader:
    """Parses an SSE response in a background task, so waiting with a timeout never cuts a frame.

    `frames` holds every data frame in order; `keepalives` counts comment-only frames.
    """

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.frames: list[SSEFrame] = []
        self.keepalives = 0
        self.malformed: list[str] = []
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._task = asyncio.create_task(self._pump())

    async def _pump(self) -> None:
        event_id: int | None = None
        data: list[str] = []
        comment = False
        try:
            async for line in self.response.aiter_lines():
                if line == "":
                    if data:
                        frame = SSEFrame(event_id, json.loads("\n".join(data)))
                        self.frames.append(frame)
                        self._queue.put_nowait(frame)
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
        except (httpx.HTTPError, asyncio.CancelledError):
            pass
        finally:
            self._queue.put_nowait(_END)

    async def next(self, timeout: float = 10.0) -> SSEFrame:
        item = await asyncio.wait_for(self._queue.get(), timeout)
        if item is _END:
            self._queue.put_nowait(_END)
            raise EOFError("the server ended the event stream")
        return item

    async def until(self, *types: str, timeout: float = 10.0) -> SSEFrame:
        """Skip to the next frame of one of `types`."""
        async with asyncio.timeout(timeout):
            while True:
                frame = await self.next(timeout)
                if frame.type in types:
                    return frame

    async def rest(self, timeout: float = 15.0) -> list[SSEFrame]:
        """Every remaining frame; the server must end the response within `timeout`."""
        out: list[SSEFrame] = []
        async with asyncio.timeout(timeout):
            while True:
                try:
                    out.append(await self.next(timeout))
                except EOFError:
                    return out

    def pending(self) -> list[SSEFrame]:
        """Frames that arrived and were not read yet (without waiting)."""
        out = []
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if item is _END:
                self._queue.put_nowait(_END)
                break
            out.append(item)
        return out

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(BaseException):
            await self._task


@dataclass
class ApiServer:
    base_url: str
    hub: HubRouter
    client: httpx.AsyncClient  # carries the right token

    @contextlib.asynccontextmanager
    async def sse(self, message: str = "hi", *, headers: dict[str, str] | None = None,
                  **body: Any) -> AsyncIterator[SSEReader]:
        async with self.client.stream("POST", "/api/v1/chat/stream", json={"message": message, **body},
                                      headers=headers) as response:
            reader = SSEReader(response)
            try:
                yield reader
            finally:
                await reader.close()

    @contextlib.asynccontextmanager
    async def attach(self, stream_id: str, last_event_id: int | None = None) -> AsyncIterator[SSEReader]:
        headers = {"Last-Event-ID": str(last_event_id)} if last_event_id is not None else {}
        async with self.client.stream("GET", f"/api/v1/chat/stream/{stream_id}", headers=headers) as response:
            reader = SSEReader(response)
            try:
                yield reader
            finally:
                await reader.close()

    def stream(self, stream_id: str) -> ActiveStream:
        found = self.hub.registry.get(stream_id)
        assert found is not None, f"no stream {stream_id}"
        return found


def build_app(hub: HubRouter, token: str, keepalive: float) -> FastAPI:
    from secretgpt.interfaces.web_ui.api import create_api, token_guard
    from secretgpt.interfaces.web_ui.app import _validation_error
    from secretgpt.interfaces.web_ui.conversations_api import create_conversations_api

    app = FastAPI()
    app.include_router(create_api(hub, token, keepalive))
    app.include_router(create_conversations_api(hub, token_guard(token)))
    app.add_exception_handler(RequestValidationError, _validation_error)
    return app


@contextlib.asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[str]:
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off",
                            timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    # Leave pytest's Ctrl-C handling alone (several servers may run in one test).
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(15):
            while not server.started:
                if task.done():
                    task.result()
                await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 10)


@pytest.fixture
async def make_api(make_hub: Callable[..., HubRouter]) -> AsyncIterator[Callable[..., Awaitable[ApiServer]]]:
    async with contextlib.AsyncExitStack() as stack:

        async def make(**overrides: Any) -> ApiServer:
            hub = make_hub(**overrides)
            base_url = await stack.enter_async_context(
                serve(build_app(hub, API_TOKEN, hub.settings.sse_keepalive_interval)))
            client = await stack.enter_async_context(httpx.AsyncClient(
                base_url=base_url, headers={"Authorization": f"Bearer {API_TOKEN}"}, timeout=15.0))
            return ApiServer(base_url, hub, client)

        yield make


@pytest.fixture
async def api(make_api: Callable[..., Awaitable[ApiServer]]) -> ApiServer:
    return await make_api()


# --- small async helpers --------------------------------------------------------------------------


async def eventually(condition: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll until `condition()` is truthy (generous timeout: the box may be loaded)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = condition()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)
