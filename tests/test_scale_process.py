"""Two real `python main.py` instances on one PostgreSQL and one Redis (Debian's, started by the
tests), one loopback model server, driven over the HTTP API as a load balancer would spread a
team's requests: what one instance stores the other reads; a stream started on A is re-attached on
B with Last-Event-ID, complete and nothing twice; Stop and Pause on B act on A's model connection;
kill -9 of A ends B's readers' stream as interrupted; both start at once on an empty database."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from secretgpt.services.loopback_model import Reply
from tests.support.app_process import AppProcess
from tests.support.scripted_model import ScriptedModel
from tests.support.servers import RedisServer
from tests.support.sse import attached, event_stream
from tests.support.team import TOKEN, team

MODEL = "team-model"
MODEL_KEY = "team-model-key"
WORDS = " ".join(f"word{i}" for i in range(400))

@pytest.fixture
async def model() -> AsyncIterator[ScriptedModel]:
    scripted = await ScriptedModel(Reply.of("A default answer."), api_key=MODEL_KEY, models=[MODEL],
                                   protocols={"openai"}).start()
    yield scripted
    await scripted.stop()


@pytest.fixture
async def instances(tmp_path: Path, model: ScriptedModel, redis: RedisServer,
                    postgres_url: str) -> AsyncIterator[tuple[AppProcess, AppProcess]]:
    """A and B, both started at once on the empty database."""
    async with team(tmp_path, model_url=model.server.url, model=MODEL, model_api_key=MODEL_KEY,
                    redis_url=redis.url, database_url=postgres_url, STREAM_DETACH_GRACE="30") as pair:
        yield pair


async def test_a_conversation_made_on_a_is_read_on_b(instances: tuple[AppProcess, AppProcess],
                                                     model: ScriptedModel) -> None:
    a, b = instances
    model.replies.append(Reply.of("Stored once, read anywhere."))
    async with a.client(TOKEN) as on_a, b.client(TOKEN) as on_b:
        answer = (await on_a.post("/api/v1/chat", json={"message": "Keep this"})).json()
        read = await on_b.get(f"/api/v1/conversations/{answer['conversation_id']}")
        assert read.status_code == 200
        assert [m["content"] for m in read.json()["messages"]] == ["Keep this", "Stored once, read anywhere."]
        found = (await on_b.get("/api/v1/conversations", params={"search": "keep"})).json()
        assert [c["id"] for c in found] == [answer["conversation_id"]]


async def test_a_stream_started_on_a_reattaches_on_b_complete_and_once(
        instances: tuple[AppProcess, AppProcess], model: ScriptedModel) -> None:
    a, b = instances
    model.replies.append(Reply.of(WORDS[:1500], "Counting.", tokens_per_second=100))
    async with a.client(TOKEN) as on_a, b.client(TOKEN) as on_b:
        async with event_stream(on_a, {"message": "count"}) as first:
            await first.wait_for(lambda: first.count("text") >= 20, 30, "20 words on A")
        seen = first.frames[:]  # the client left A after these (or a few more)
        stream_id, last_id = seen[0].data["stream_id"], seen[-1].id
        async with attached(on_b, stream_id, last_id) as rest:
            more = await rest.rest(timeout=60)
        ids = [f.id for f in seen + more]
        assert ids == list(range(1, len(ids) + 1))  # nothing twice, nothing missing
        assert more[-1].type == "done"
        text = "".join(f.data.get("content", "") for f in seen + more if f.type == "text")
        assert text == WORDS[:1500]


async def test_stop_on_b_closes_as_model_connection(instances: tuple[AppProcess, AppProcess],
                                                    model: ScriptedModel) -> None:
    a, b = instances
    model.replies.append(Reply.of(WORDS, tokens_per_second=20))
    async with a.client(TOKEN) as on_a, b.client(TOKEN) as on_b:
        async with event_stream(on_a, {"message": "count slowly"}) as sse:
            start = await sse.until("start", timeout=30)
            await sse.wait_for(lambda: sse.count("text") >= 3, 30, "some text")
            connection = model.connections[-1]
            stopped_at = time.monotonic()
            assert (await on_b.delete(f"/api/v1/chat/stream/{start.data['stream_id']}")).status_code == 200
            await asyncio.wait_for(connection.closed.wait(), 5)
            assert connection.closed_by_client_at - stopped_at < 1.0 and not connection.finished
            final = (await sse.rest(timeout=30))[-1]
        assert final.type == "cancelled"


async def test_pause_on_b_holds_as_delivery_and_resume_releases_all(
        instances: tuple[AppProcess, AppProcess], model: ScriptedModel) -> None:
    a, b = instances
    model.replies.append(Reply.of(WORDS[:1200], tokens_per_second=100))
    async with a.client(TOKEN) as on_a, b.client(TOKEN) as on_b:
        async with event_stream(on_a, {"message": "count"}) as sse:
            start = await sse.until("start", timeout=30)
            await sse.wait_for(lambda: sse.count("text") >= 5, 30, "some text")
            ref = {"stream_id": start.data["stream_id"]}
            assert (await on_b.post("/api/v1/chat/stream/pause", json=ref)).json()["paused"] is True
            await sse.wait_for(lambda: sse.frames[-1].type == "paused", 10, "the paused event")
            held_at, connection = len(sse.frames), model.connections[-1]
            sent = connection.chunks_sent
            await asyncio.sleep(1.0)
            assert connection.chunks_sent > sent + 20  # the model writes on …
            assert len(sse.frames) == held_at  # … and nothing is delivered
            await on_b.post("/api/v1/chat/stream/resume", json=ref)
            frames = await sse.rest(timeout=30)
        assert frames[-1].type == "done"
        assert "".join(f.data.get("content", "") for f in sse.frames if f.type == "text") == WORDS[:1200]


async def test_kill_9_of_a_ends_bs_readers_stream_as_interrupted(
        instances: tuple[AppProcess, AppProcess], model: ScriptedModel) -> None:
    a, b = instances
    model.replies.append(Reply.of(WORDS, tokens_per_second=20))
    async with a.client(TOKEN) as on_a, b.client(TOKEN) as on_b:
        async with event_stream(on_a, {"message": "count slowly"}) as on_a_sse:
            start = await on_a_sse.until("start", timeout=30)
            stream_id, conversation_id = start.data["stream_id"], start.data["conversation_id"]
            async with attached(on_b, stream_id) as reader:
                await reader.wait_for(lambda: reader.count("text") >= 5, 30, "text on B")
                assert await a.kill() == -signal.SIGKILL
                killed_at = time.monotonic()
                frames = await reader.rest(timeout=40)
        assert frames[-1].type == "error" and frames[-1].data["kind"] == "interrupted", b.log_tail()
        assert time.monotonic() - killed_at < 30
        stored = (await on_b.get(f"/api/v1/conversations/{conversation_id}")).json()["messages"][-1]
        assert stored["status"] == "interrupted" and WORDS.startswith(stored["content"])
