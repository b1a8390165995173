"""Two instances in one test process — two hubs, each with its own `RedisBus`, on one real Redis
(Debian's redis-server, started by the tests) and one store — against the loopback model server,
over both model paths: a stream read by A is followed, stopped, paused and resumed from B; the
limits hold across both; a dead A's stream ends for B's readers as interrupted, and is stored so.
(The same with two real `python main.py` processes: test_scale_process.py.)"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from secretgpt.hub import BadMessage, ChatHub, StreamView, TooManyStreams
from secretgpt.records import StreamStatus
from secretgpt.services.loopback_model import Reply
from secretgpt.services.redis_bus import RedisBus
from tests.conftest import OWNER, eventually
from tests.support.scripted_model import ScriptedModel
from tests.support.servers import RedisServer
from tests.test_stream_lifecycle import LONG, assert_well_formed, connection, delivered, drain


@pytest.fixture
async def pair(redis: RedisServer, service, store, make_settings: Callable[..., Any]) -> AsyncIterator[
        tuple[ChatHub, ChatHub]]:
    """Instances A and B: their own bus (one Redis, a key prefix of this test's), one store."""
    prefix = f"test-{uuid.uuid4().hex[:8]}:"
    settings = make_settings()
    hubs = [ChatHub(settings, service, store, bus=RedisBus(redis.url, prefix=prefix, retention=60,
                                                          heartbeat=0.2, dead_after=1.0)) for _ in range(2)]
    for hub in hubs:
        await hub.start()
    yield hubs[0], hubs[1]
    for hub in hubs:
        await asyncio.wait_for(hub.shutdown(), 15)


async def test_a_stream_read_on_a_is_followed_whole_on_b_from_any_id(pair, script: ScriptedModel) -> None:
    a, b = pair
    reply = script.reply = Reply.of(LONG[:600], "Thinking it over.", tokens_per_second=300)
    stream = await a.send("count", owner=OWNER)
    elsewhere = await b.stream(stream.id, owner=OWNER)
    events = await drain(elsewhere)
    assert_well_formed(events, "done")
    assert delivered(events) == reply.text and delivered(events, "think") == reply.thinking
    # A reader that had seen the first n events asks for the rest: nothing twice, nothing missing.
    rest = await drain(elsewhere, after=7)
    assert [e.seq for e in rest] == list(range(8, len(events) + 1))
    record = await (await b.stream(stream.id, owner=OWNER)).wait()  # a new view: read from Redis
    assert record.status is StreamStatus.COMPLETED and record.text == reply.text
    assert record.think_seconds is not None  # timing from the events alone


async def test_stop_on_b_closes_as_model_connection(pair, script: ScriptedModel, model_server) -> None:
    a, b = pair
    script.reply = Reply.of(LONG, tokens_per_second=40)
    stream = await a.send("count slowly", owner=OWNER)
    conn = await connection(model_server)
    await eventually(lambda: conn.chunks_sent >= 3, what="some text")
    stopped_at = time.monotonic()
    await b.stop(stream.id, owner=OWNER)
    await asyncio.wait_for(conn.closed.wait(), 5)
    assert conn.closed_by_client_at is not None and conn.closed_by_client_at - stopped_at < 1.0
    record = await (await b.stream(stream.id, owner=OWNER)).wait()
    assert record.status is StreamStatus.STOPPED and LONG.startswith(record.text) and record.text


async def test_pause_on_b_holds_as_delivery_and_resume_releases_it_all(pair, script: ScriptedModel,
                                                                       model_server) -> None:
    a, b = pair
    reply = script.reply = Reply.of(LONG[:900], tokens_per_second=150)
    stream = await a.send("count", owner=OWNER)
    on_b = await b.stream(stream.id, owner=OWNER)
    feed = on_b.follow()
    seen: list = []

    async def read() -> None:
        async for batch in feed:
            seen.extend(batch)

    reader = asyncio.create_task(read())
    await eventually(lambda: any(e.type == "text" for e in seen), what="first text")
    await b.pause(stream.id, owner=OWNER)
    await eventually(lambda: seen and seen[-1].type == "paused", what="the paused event, on B")
    conn = await connection(model_server)
    held_from = len(seen)
    sent = conn.chunks_sent
    await eventually(lambda: conn.chunks_sent >= sent + 15, what="the model writing on while paused")
    await asyncio.sleep(0.3)
    assert len(seen) == held_from  # nothing delivered meanwhile, on either instance
    await b.resume(stream.id, owner=OWNER)
    await asyncio.wait_for(reader, 15)
    assert_well_formed(seen, "done")
    assert delivered(seen) == reply.text


async def test_the_limits_hold_across_instances(pair, script: ScriptedModel) -> None:
    a, b = pair
    script.reply = Reply.of(LONG, tokens_per_second=20)
    first = await a.send("one", owner=OWNER)
    with pytest.raises(BadMessage, match="still streaming"):  # one answer at a time per conversation
        await b.send("again", owner=OWNER, conversation_id=first.conversation_id)
    second = await b.send("two", owner=OWNER)
    with pytest.raises(TooManyStreams):  # MAX_CONCURRENT_STREAMS (2 here) for the whole deployment
        await a.send("three", owner=OWNER)
    assert {s.id for s in await a.active_streams(owner=OWNER)} == {first.id, second.id}
    await a.stop(second.id, owner=OWNER)  # A stops B's
    await (await a.stream(second.id, owner=OWNER)).wait()
    third = await a.send("three", owner=OWNER)
    for stream in (first, third):
        await b.stop(stream.id, owner=OWNER)
        await (await b.stream(stream.id, owner=OWNER)).wait()
    # Once ended, the conversation takes its next answer at once, on either instance.
    script.reply = Reply.of("Next.")
    follow_up = await b.send("next", owner=OWNER, conversation_id=first.conversation_id)
    assert (await follow_up.wait()).text == "Next."


async def test_a_dead_instances_stream_ends_as_interrupted_for_every_reader(
        redis: RedisServer, service, store, make_settings: Callable[..., Any], script: ScriptedModel,
        model_server) -> None:
    prefix = f"test-{uuid.uuid4().hex[:8]}:"
    settings = make_settings()
    buses = [RedisBus(redis.url, prefix=prefix, retention=60, heartbeat=0.2, dead_after=1.0) for _ in range(2)]
    a, b = (ChatHub(settings, service, store, bus=bus) for bus in buses)
    await a.start()
    await b.start()
    script.reply = Reply.of(LONG, tokens_per_second=20)
    stream = await a.send("count slowly", owner=OWNER)
    on_b: StreamView = await b.stream(stream.id, owner=OWNER)
    conn = await connection(model_server)
    await eventually(lambda: conn.chunks_sent >= 3, what="some text")
    await asyncio.sleep(0.3)
    assert (await on_b.refresh()).text  # it reached Redis, and B
    kill_minus_9(a, buses[0], stream.id)
    started = time.monotonic()
    events = await drain(on_b, timeout=15)
    assert events[-1].type == "error" and events[-1].data["kind"] == "interrupted"
    assert sum(e.final for e in events) == 1 and time.monotonic() - started < 10
    stored = (await b.conversation(stream.conversation_id, owner=OWNER)).messages[-1]
    assert stored.status is StreamStatus.INTERRUPTED and LONG.startswith(stored.content)
    await b.shutdown()
    await buses[0]._redis.aclose()  # noqa: SLF001


def kill_minus_9(hub: ChatHub, bus: RedisBus, stream_id: str) -> None:
    """What kill -9 does to an instance, in-process: its heartbeat, its controls and its event
    writer stop, and its stream ends nothing, saves nothing and says nothing more. (The real
    thing, with two processes: test_scale_process.py.)"""
    for task in [*bus._tasks, bus._writer._task]:  # noqa: SLF001
        task.cancel()
    victim = hub._streams._local.pop(stream_id)  # noqa: SLF001

    async def nothing() -> None:
        return None

    victim._finish = nothing  # type: ignore[method-assign]  # noqa: SLF001
    victim._watchdog.cancel()  # noqa: SLF001
    if victim._saves._task is not None:  # noqa: SLF001
        victim._saves._task.cancel()  # noqa: SLF001
    victim._task.cancel()  # noqa: SLF001
