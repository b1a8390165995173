"""GET /metrics: after real answers through the real API (a completed one, a stopped one, a failed
one, a paused one, one read whole, one whose save failed), Prometheus's own parser reads each of
them counted; without the token it is 401; no label carries text, ids or the token."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from secretgpt.config import Settings
from secretgpt.hub.chat_hub import ChatHub
from secretgpt.interfaces.http_api import mount_api, mount_operations
from secretgpt.metrics import HubMetrics
from secretgpt.services.loopback_model import Reply, Step
from secretgpt.services.secret_ai import SecretAIService
from secretgpt.storage import SqlConversationStore
from tests.conftest import API_TOKEN, MODEL, ApiServer, eventually, serve
from tests.support.scripted_model import ScriptedModel
from tests.test_storage_failure import FailingSaves

LONG = " ".join(f"word{i}" for i in range(400))
SECRET_WORDS = "zebra-secret-question"


@pytest.fixture
def protocol() -> str:
    return "openai"  # what is counted is the hub's; tests/test_api.py covers both model paths


@dataclass
class Watched(ApiServer):
    metrics: HubMetrics

    async def scrape(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """Every sample of /metrics, read by prometheus_client's parser: (name, labels) -> value."""
        response = await self.client.get("/metrics")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/plain")
        return {(s.name, tuple(sorted(s.labels.items()))): s.value
                for family in text_string_to_metric_families(response.text) for s in family.samples}


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
async def make_watched(service: SecretAIService, store: SqlConversationStore,
                       make_settings: Callable[..., Settings]) -> AsyncIterator[Callable[[], Awaitable[Watched]]]:
    async with contextlib.AsyncExitStack() as stack:

        async def make() -> Watched:
            settings = make_settings()
            metrics = HubMetrics()
            hub = ChatHub(settings, service, store, observer=metrics)
            stack.push_async_callback(hub.shutdown)
            app = FastAPI()
            mount_api(app, hub, api_token=API_TOKEN, keepalive=settings.sse_keepalive_interval)
            mount_operations(app, hub, api_token=API_TOKEN, metrics=metrics.render)
            base_url = await stack.enter_async_context(serve(app))
            client = await stack.enter_async_context(httpx.AsyncClient(
                base_url=base_url, headers={"Authorization": f"Bearer {API_TOKEN}"}, timeout=15.0))
            return Watched(base_url, hub, client, metrics)

        yield make


@pytest.fixture
async def watched(make_watched: Callable[[], Awaitable[Watched]]) -> Watched:
    return await make_watched()


async def test_a_completed_a_stopped_and_a_failed_answer_are_each_counted(watched: Watched,
                                                                           script: ScriptedModel) -> None:
    before = await watched.scrape()
    assert value(before, "secretgpt_streams_total", outcome="completed", kind="", mode="streaming") == 0
    assert value(before, "secretgpt_streams_active") == 0

    script.reply = Reply.of("A whole answer.", "Some thought.")
    async with watched.sse(SECRET_WORDS) as sse:
        completed = await sse.rest()
    assert completed[-1].type == "done"

    script.reply = Reply.of(LONG, tokens_per_second=40)
    async with watched.sse(SECRET_WORDS) as sse:
        start = await sse.next()
        stream_id = start.data["stream_id"]
        await sse.until("text")
        during = await watched.scrape()
        assert await watched.client.post("/api/v1/chat/stream/pause", json={"stream_id": stream_id})
        assert (await watched.client.delete(f"/api/v1/chat/stream/{stream_id}")).status_code == 200
        stopped = await sse.rest()
    assert stopped[-1].type == "cancelled"
    assert value(during, "secretgpt_streams_active") == 1
    assert value(during, "secretgpt_sse_clients_attached") == 1

    script.reply = Reply.of("Half of it").then(Step("error", content="CUDA out of memory"))
    async with watched.sse(SECRET_WORDS) as sse:
        failed = await sse.rest()
    assert failed[-1].type == "error" and failed[-1].data["kind"] == "model_error"

    after = await settled(watched)
    assert value(after, "secretgpt_streams_total", outcome="completed", kind="", mode="streaming") == 1
    assert value(after, "secretgpt_streams_total", outcome="cancelled", kind="", mode="streaming") == 1
    assert value(after, "secretgpt_streams_total", outcome="error", kind="model_error", mode="streaming") == 1
    assert value(after, "secretgpt_stream_pauses_total") == 1
    assert value(after, "secretgpt_streams_active") == 0
    assert value(after, "secretgpt_sse_clients_attached") == 0
    # Each had a first token ("Half of it" came before the error) and a duration.
    assert value(after, "secretgpt_time_to_first_token_seconds_count", model=MODEL) == 3
    assert value(after, "secretgpt_stream_duration_seconds_count", model=MODEL) == 3
    chunks = sum(f.type in ("text", "think") for f in completed + stopped)
    assert value(after, "secretgpt_tokens_total", direction="completion") >= chunks > 0
    assert value(after, "secretgpt_tokens_total", direction="prompt") > 0  # the loopback server reports usage
    assert_no_secret_in_labels(after, [SECRET_WORDS, API_TOKEN, "A whole answer", stream_id,
                                       completed[0].data["conversation_id"], start.data["conversation_id"]])


async def settled(watched: Watched) -> dict:
    """/metrics once no stream is active (a stream's end is counted right after its final event)."""
    samples: dict = {}

    async def scraped() -> bool:
        nonlocal samples
        samples = await watched.scrape()
        return value(samples, "secretgpt_streams_active") == 0 and value(
            samples, "secretgpt_stream_duration_seconds_count", model=MODEL) > 0

    async with asyncio.timeout(10):
        while not await scraped():
            await asyncio.sleep(0.02)
    return samples


def assert_no_secret_in_labels(samples: dict, secrets: list[str]) -> None:
    labels = {v for (_, pairs) in samples for _, v in pairs}
    assert labels, "no labels at all: the parse found nothing"
    assert [(secret, label) for secret in secrets for label in labels if secret in label] == []


async def test_metrics_without_the_token_is_401(watched: Watched) -> None:
    async with httpx.AsyncClient(base_url=watched.base_url) as anonymous:
        response = await anonymous.get("/metrics")
        assert response.status_code == 401
        assert response.json()["detail"]["kind"] == "unauthorized" and "secretgpt_" not in response.text
        wrong = await anonymous.get("/metrics", headers={"Authorization": "Bearer not-the-token"})
        assert wrong.status_code == 401
    assert (await watched.client.get("/metrics")).status_code == 200


async def test_an_answer_read_whole_counts_as_non_streaming(watched: Watched, script: ScriptedModel) -> None:
    script.reply = Reply.of("Whole, at once.")
    response = await watched.client.post("/api/v1/chat", json={"message": "whole please"})
    assert response.status_code == 200
    after = await settled(watched)
    assert value(after, "secretgpt_streams_total", outcome="completed", kind="", mode="non_streaming") == 1
    assert value(after, "secretgpt_streams_total", outcome="completed", kind="", mode="streaming") == 0


async def test_an_answer_retried_whole_after_streaming_failed_counts_as_non_streaming(
        watched: Watched, script: ScriptedModel) -> None:
    script.reply = Reply(status=500, error_message="boom")  # the retry without streaming fails too
    async with watched.sse() as sse:
        frames = await sse.rest()
    assert frames[-1].data["fallback"] is True
    after = await settled(watched)
    assert value(after, "secretgpt_streams_total", outcome="error", kind="model_error", mode="non_streaming") == 1


async def test_a_failed_save_is_counted_and_the_answer_ends_as_a_storage_error(
        watched: Watched, store: SqlConversationStore, script: ScriptedModel,
        monkeypatch: pytest.MonkeyPatch) -> None:
    failing = FailingSaves(store.save_answer, times=1)
    monkeypatch.setattr(store, "save_answer", failing)
    script.reply = Reply.of("Arrives, but is not stored at first.")
    async with watched.sse() as sse:
        frames = await sse.rest()
    assert frames[-1].type == "error" and frames[-1].data["kind"] == "storage"
    after = await settled(watched)
    assert value(after, "secretgpt_storage_save_failures_total") >= 1
    assert value(after, "secretgpt_streams_total", outcome="error", kind="storage", mode="streaming") == 1
    await eventually(lambda: failing.final_attempts >= 2, what="the background retry")


async def test_a_timeout_is_an_error_of_kind_timeout(watched: Watched, script: ScriptedModel) -> None:
    script.reply = Reply.of("Half of it").then(Step("stall"))
    async with watched.sse() as sse:
        frames = await sse.rest()
    assert frames[-1].data["kind"] == "timeout"
    after = await settled(watched)
    assert value(after, "secretgpt_streams_total", outcome="error", kind="timeout", mode="streaming") == 1


async def test_each_app_counts_its_own(make_watched: Callable[[], Awaitable[Watched]],
                                       script: ScriptedModel) -> None:
    one, other = await make_watched(), await make_watched()
    script.reply = Reply.of("Only on one.")
    async with one.sse() as sse:
        await sse.rest()
    assert value(await settled(one), "secretgpt_streams_total", outcome="completed", kind="", mode="streaming") == 1
    assert value(await other.scrape(), "secretgpt_streams_total", outcome="completed", kind="", mode="streaming") == 0


def test_host_status_is_one_for_the_last_status_only() -> None:
    metrics = HubMetrics()
    metrics.host_attested("https://host.example:443", "verified")
    metrics.host_attested("https://host.example:443", "failed")
    metrics.host_attested("https://other.example:443", "unverified")
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in text_string_to_metric_families(metrics.render()[0].decode()) for s in f.samples}
    assert value(samples, "secretgpt_attestation_host_status", origin="https://host.example:443", status="failed") == 1
    assert value(samples, "secretgpt_attestation_host_status", origin="https://host.example:443",
                 status="verified") == 0
    assert value(samples, "secretgpt_attestation_host_status", origin="https://other.example:443",
                 status="unverified") == 1
    assert value(samples, "secretgpt_attestation_checks_total", status="verified") == 1
    assert value(samples, "secretgpt_attestation_checks_total", status="failed") == 1
