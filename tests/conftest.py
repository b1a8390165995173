"""Shared fixtures: a scripted loopback model server, the real service/hub on top of it, and the
HTTP API served by a real uvicorn server in the test's event loop.

The only stand-in is at the network edge: the model server is the project's loopback server,
so every test exercises the real client stacks: `AsyncOpenAI` / httpx on the OpenAI-compatible path,
`ChatSecret` / langchain-ollama / ollama / httpx on the Ollama path (the `protocol` fixture).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from secretgpt.config import Settings, load_settings
from secretgpt.hub.chat_hub import ChatHub
from secretgpt.hub import StreamView
from secretgpt.interfaces.http_api import mount_api
from secretgpt.records import ModelApi
from secretgpt.services.loopback_model import LoopbackModelServer, Reply
from secretgpt.services.secret_ai import Catalog, ModelInfo, SecretAIService
from secretgpt.storage import SqlConversationStore, database_url
from tests.support.app_process import SETTINGS_ENV_KEYS
from tests.support.scripted_model import ScriptedModel
from tests.support.servers import (
    PostgresServer, RedisServer, postgres_available, postgres_server, redis_available, redis_server,
)
from tests.support.sse import EventStream, attached, event_stream

MODEL = "loopback"
SECRET_AI_KEY = "test-secret-ai-key"
API_TOKEN = "test-api-token"
OWNER = "tester"

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


@pytest.fixture(params=["openai", "ollama"])
def protocol(request: pytest.FixtureRequest) -> ModelApi:
    """Every test of the model path runs twice: AsyncOpenAI against an OpenAI-only host (Secret AI
    today), and the real ChatSecret against an Ollama-only one."""
    return request.param


@pytest.fixture
def script(protocol: ModelApi) -> ScriptedModel:
    """What the loopback model answers (`script.reply`: a fixed `Reply`, or a function of the request)."""
    return ScriptedModel(Reply.of("Hello from the loopback model.", "Let me think."), api_key=SECRET_AI_KEY,
                         models=[MODEL], protocols={protocol})


@pytest.fixture
async def model_server(script: ScriptedModel) -> AsyncIterator[LoopbackModelServer]:
    await script.start()
    try:
        yield script.server
    finally:
        await script.stop()


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        # `warn`: the loopback model servers are plain http, which `require` (the default) refuses.
        values = {"data_dir": tmp_path / "data", "api_token": API_TOKEN, "attestation_policy": "warn",
                  **TEST_LIMITS, **overrides}
        return load_settings(_env_file=None, **values)

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
async def service(model_server: LoopbackModelServer, protocol: ModelApi,
                  monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[SecretAIService]:
    # Both clients read the key only from the environment.
    monkeypatch.setenv("SECRET_AI_API_KEY", SECRET_AI_KEY)
    built = SecretAIService(Catalog(models=[ModelInfo(name=MODEL, url=model_server.url, protocol=protocol)]),
                            read_timeout=30.0)
    yield built
    await built.aclose()


@pytest.fixture
def db_file(tmp_path: Path) -> Path:
    """Where `store` keeps its SQLite file (tests reopen it, or open it raw)."""
    return tmp_path / "db" / "secretgpt.db"


@pytest.fixture
async def store(db_file: Path) -> AsyncIterator[SqlConversationStore]:
    """The real conversation store, on SQLite in the test's own directory."""
    opened = await SqlConversationStore.open(database_url(db_file.parent))
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def make_hub(
    service: SecretAIService, store: SqlConversationStore, make_settings: Callable[..., Settings]
) -> AsyncIterator[Callable[..., ChatHub]]:
    hubs: list[ChatHub] = []

    def make(**overrides: Any) -> ChatHub:
        hub = ChatHub(make_settings(**overrides), service, store)
        hubs.append(hub)
        return hub

    yield make
    for hub in hubs:
        # Ends every stream and waits until each answer is saved: the store closes next.
        await asyncio.wait_for(hub.shutdown(), 10)


@pytest.fixture
def hub(make_hub: Callable[..., ChatHub]) -> ChatHub:
    return make_hub()


# --- the HTTP API ---------------------------------------------------------------------------------


@dataclass
class ApiServer:
    base_url: str
    hub: ChatHub
    client: httpx.AsyncClient  # carries the right token

    def sse(self, message: str = "hi", *, headers: dict[str, str] | None = None,
            **body: Any) -> contextlib.AbstractAsyncContextManager[EventStream]:
        return event_stream(self.client, {"message": message, **body}, headers=headers)

    def attach(self, stream_id: str,
               last_event_id: int | None = None) -> contextlib.AbstractAsyncContextManager[EventStream]:
        return attached(self.client, stream_id, last_event_id)

    async def stream(self, stream_id: str) -> StreamView:
        """A stream as the hub has it (the API's token owns every stream these tests start)."""
        from secretgpt.interfaces.http_api import owner_for_token

        return await self.hub.stream(stream_id, owner=owner_for_token(API_TOKEN))


def build_app(hub: ChatHub, token: str, keepalive: float) -> FastAPI:
    """The HTTP API exactly as the app mounts it, without the page."""
    app = FastAPI()
    mount_api(app, hub, api_token=token, keepalive=keepalive)
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
async def make_api(make_hub: Callable[..., ChatHub],
                   make_settings: Callable[..., Settings]) -> AsyncIterator[Callable[..., Awaitable[ApiServer]]]:
    async with contextlib.AsyncExitStack() as stack:

        async def make(**overrides: Any) -> ApiServer:
            hub = make_hub(**overrides)
            keepalive = make_settings(**overrides).sse_keepalive_interval
            base_url = await stack.enter_async_context(serve(build_app(hub, API_TOKEN, keepalive)))
            client = await stack.enter_async_context(httpx.AsyncClient(
                base_url=base_url, headers={"Authorization": f"Bearer {API_TOKEN}"}, timeout=15.0))
            return ApiServer(base_url, hub, client)

        yield make


@pytest.fixture
async def api(make_api: Callable[..., Awaitable[ApiServer]]) -> ApiServer:
    return await make_api()


# --- Redis and PostgreSQL, started by the tests (Debian's packages) ----------------------------


def _needs(available: bool, package: str) -> None:
    if not available:
        if os.environ.get("CI"):
            raise RuntimeError(f"CI must install Debian's {package} (.ci/run does)")
        pytest.skip(f"Debian's {package} is not installed (apt-get install {package})")


@pytest.fixture(scope="session")
def redis() -> Iterator[RedisServer]:
    """One redis-server for the session; tests keep apart by their own keys (stream ids are random)."""
    _needs(redis_available(), "redis-server")
    with redis_server() as server:
        yield server


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One PostgreSQL cluster for the session; each test makes its own database in it."""
    _needs(postgres_available(), "postgresql")
    with postgres_server() as server:
        yield server


_databases = itertools.count()


@pytest.fixture
def postgres_url(postgres: PostgresServer) -> str:
    """A new empty database of the session's cluster."""
    return postgres.create_database(f"test_{os.getpid()}_{next(_databases)}")


# --- conversation stores on both backends ------------------------------------------------------

BACKENDS = ("sqlite", "postgresql")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sqlite_only(why): a storage test about SQLite itself (its files, its "
                                       "pragmas): not run on PostgreSQL")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test that uses `backend` (through `make_store`, `new_store_url` or a module's `store`
    built on them) runs on SQLite and on a real PostgreSQL, except those marked sqlite_only."""
    if "backend" in metafunc.fixturenames:
        only_sqlite = metafunc.definition.get_closest_marker("sqlite_only") is not None
        metafunc.parametrize("backend", BACKENDS[:1] if only_sqlite else BACKENDS)


@pytest.fixture
def new_store_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Callable[[], str]:
    """`new_store_url()`: the URL of a new empty database of this test's backend (a SQLite file in
    the test's directory, or a database of the session's PostgreSQL cluster)."""
    made = itertools.count()

    def new() -> str:
        if backend == "postgresql":
            server: PostgresServer = request.getfixturevalue("postgres")
            return server.create_database(f"test_{os.getpid()}_{next(_databases)}")
        return database_url(tmp_path / f"db-{next(made)}")

    return new


@pytest.fixture
async def make_store(new_store_url: Callable[[], str]) -> AsyncIterator[Callable[..., Awaitable[SqlConversationStore]]]:
    """`await make_store()`: a store on a new empty database (`url=`: on that one instead); all are
    closed after the test."""
    opened: list[SqlConversationStore] = []

    async def make(url: str | None = None) -> SqlConversationStore:
        opened.append(await SqlConversationStore.open(url or new_store_url()))
        return opened[-1]

    yield make
    for one in opened:
        await one.close()


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
