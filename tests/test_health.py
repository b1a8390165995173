"""GET /healthz (alive, no token, nothing else said) and GET /readyz (200 when the database, Redis
if configured, and a model are there; 503 naming the one that is not), on real servers: a
PostgreSQL database that goes away, a redis-server that stops, a catalog with no model."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from secretgpt.config import Settings
from secretgpt.hub.chat_hub import ChatHub
from secretgpt.interfaces.http_api import mount_operations
from secretgpt.metrics import HubMetrics
from secretgpt.services.redis_bus import RedisBus
from secretgpt.services.secret_ai import Catalog, SecretAIService
from secretgpt.storage import SqlConversationStore
from tests.conftest import API_TOKEN, serve
from tests.support.servers import PostgresServer, redis_server


@pytest.fixture
def protocol() -> str:
    return "openai"  # no answer is asked for here


@contextlib.asynccontextmanager
async def probes(hub: ChatHub) -> AsyncIterator[httpx.AsyncClient]:
    """The operations routes as the app mounts them, and a client with no token at all."""
    app = FastAPI()
    mount_operations(app, hub, api_token=API_TOKEN, metrics=HubMetrics().render)
    await hub.start()
    try:
        async with serve(app) as base_url, httpx.AsyncClient(base_url=base_url, timeout=15.0) as client:
            yield client
    finally:
        await hub.shutdown()


async def test_healthz_says_alive_and_nothing_else(settings: Settings, service: SecretAIService,
                                                   store: SqlConversationStore) -> None:
    async with probes(ChatHub(settings, service, store)) as client:
        response = await client.get("/healthz")
        assert response.status_code == 200 and response.json() == {"status": "ok"}
        assert response.headers["cache-control"] == "no-store"
        ready = await client.get("/readyz")
        assert ready.status_code == 200 and ready.json() == {"status": "ready"}


async def test_readyz_is_503_naming_the_model_while_there_is_none(settings: Settings, service: SecretAIService,
                                                                  store: SqlConversationStore) -> None:
    models = service.catalog
    async with probes(ChatHub(settings, service, store)) as client:
        service.catalog = Catalog(error="Looking for models…")
        response = await client.get("/readyz")
        assert response.status_code == 503
        assert response.json() == {"status": "not ready", "missing": "model", "reason": "no model is available yet"}
        assert (await client.get("/healthz")).status_code == 200  # alive all the same
        service.catalog = models
        assert (await client.get("/readyz")).status_code == 200


async def test_readyz_is_503_naming_the_database_once_it_is_gone(
        settings: Settings, service: SecretAIService, postgres: PostgresServer, postgres_url: str) -> None:
    store = await SqlConversationStore.open(postgres_url)
    name = postgres_url.rsplit("/", 1)[1]
    try:
        async with probes(ChatHub(settings, service, store)) as client:
            assert (await client.get("/readyz")).status_code == 200
            admin = await asyncpg.connect(postgres.url().replace("postgresql+asyncpg", "postgresql"))
            try:
                await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            finally:
                await admin.close()
            response = await client.get("/readyz")
            assert response.status_code == 503
            body = response.json()
            assert body["missing"] == "database" and body["reason"] == "the database does not answer"
            assert "secretgpt:" not in response.text and str(postgres.port) not in response.text  # no URL, password
    finally:
        await store.close()


async def test_readyz_is_503_naming_redis_once_it_stops(make_settings: Callable[..., Settings],
                                                        service: SecretAIService,
                                                        store: SqlConversationStore) -> None:
    with redis_server() as redis:
        settings = make_settings(redis_url=redis.url)
        bus = RedisBus(redis.url, retention=settings.stream_retention)
        async with probes(ChatHub(settings, service, store, bus=bus)) as client:
            assert (await client.get("/readyz")).status_code == 200
            redis.process.terminate()
            redis.process.wait(10)
            response = await client.get("/readyz")
            assert response.status_code == 503 and response.json()["missing"] == "redis"
            assert (await client.get("/healthz")).status_code == 200
