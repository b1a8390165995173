"""Stream controls through `ChatHub`: pause, resume and stop act on the model connection; the
concurrency limit and shutdown. Over both model paths (the `protocol` fixture)."""

from __future__ import annotations

import asyncio
import time

import pytest

from secretgpt.hub.chat_hub import ChatHub
from secretgpt.hub.errors import TooManyStreams
from secretgpt.records import StreamEvent
from secretgpt.hub.stream import ActiveStream
from secretgpt.records import StreamStatus
from secretgpt.services.loopback_model import Reply
from tests.conftest import OWNER, TEST_LIMITS, eventually
from tests.support.scripted_model import ScriptedModel
from tests.test_stream_lifecycle import LONG, assert_well_formed, connection, delivered, drain

# --- pause / resume / cancel ------------------------------------------------------------------


class Collector:
    """A live subscriber, recording what it was handed and when."""

    def __init__(self, stream: ActiveStream) -> None:
        self.events: list[StreamEvent] = []
        self.task = asyncio.create_task(self._run(stream))

    async def _run(self, stream: ActiveStream) -> None:
        async for event in stream.follow().events():
            self.events.append(event)

    async def done(self, timeout: float = 15.0) -> list[StreamEvent]:
        await asyncio.wait_for(self.task, timeout)
        return self.events


async def test_pause_holds_delivery_while_the_model_keeps_going(hub: ChatHub, script: ScriptedModel,
                                                                 model_server) -> None:
    reply = script.reply = Reply.of(LONG[:1000], "Plan: count.", tokens_per_second=150)
    stream = await hub.send("count", owner=OWNER)
    seen = Collector(stream)
    await eventually(lambda: any(e.type == "text" for e in seen.events), what="first text")
    assert (await hub.pause(stream.id, owner=OWNER)).paused
    conn = await connection(model_server)
    await eventually(lambda: seen.events and seen.events[-1].type == "paused", what="the paused event")
    delivered_at_pause = len(seen.events)
    sent_at_pause = conn.chunks_sent

    # The model keeps generating into the buffer; nothing reaches the subscriber.
    await eventually(lambda: conn.chunks_sent >= sent_at_pause + 20, what="more tokens while paused")
    await asyncio.sleep(0.2)
    assert len(seen.events) == delivered_at_pause
    assert stream.status is StreamStatus.PAUSED and not stream.ended

    await hub.resume(stream.id, owner=OWNER)
    events = await seen.done()
    assert_well_formed(events, "done")
    types = [e.type for e in events]
    assert types.index("paused") < types.index("resumed")
    assert delivered(events) == reply.text and delivered(events, "think") == reply.thinking
    assert stream.record().text == reply.text and stream.record().paused_seconds > 0.2


async def test_model_finishes_during_a_pause_then_resume_delivers_all_then_done(
        hub: ChatHub, script: ScriptedModel, model_server) -> None:
    reply = script.reply = Reply.of(LONG, tokens_per_second=400)
    stream = await hub.send("count", owner=OWNER)
    seen = Collector(stream)
    await eventually(lambda: any(e.type == "text" for e in seen.events), what="first text")
    await hub.pause(stream.id, owner=OWNER)
    conn = await connection(model_server)
    await eventually(lambda: conn.finished, what="the model to finish")
    await asyncio.sleep(0.1)
    assert seen.events[-1].type == "paused" and not stream.ended
    assert stream.id in [s.id for s in await hub.active_streams()]  # paused streams are still active…
    # …but no longer hold a model connection: both of the limit's slots are free.
    script.reply = Reply.of("short")
    others = [await hub.send(m, owner=OWNER) for m in ("a", "b")]
    for other in others:
        await other.wait()

    await hub.resume(stream.id, owner=OWNER)
    events = await seen.done()
    assert_well_formed(events, "done")
    after_resume = events[[e.type for e in events].index("resumed") + 1:]
    assert [e.type for e in after_resume] == ["text", "done"]  # the held text arrives merged
    assert delivered(events) == reply.text == stream.record().text
    assert stream.record().status is StreamStatus.COMPLETED


async def test_pause_longer_than_the_stream_timeout_ends_the_stream(make_hub, script: ScriptedModel) -> None:
    hub = make_hub(stream_timeout=1.0)
    reply = script.reply = Reply.of("Everything the model wrote is kept.", first_token_delay=0.2)
    stream = await hub.send("hi", owner=OWNER)
    await hub.pause(stream.id, owner=OWNER)
    events = await drain(stream)
    assert_well_formed(events, "error")
    assert events[-1].data["kind"] == "timeout" and "STREAM_TIMEOUT" in events[-1].data["message"]
    assert delivered(events) == reply.text  # held text is delivered before the end
    record = stream.record()
    assert record.status is StreamStatus.PAUSE_TIMEOUT and record.text == reply.text


async def test_cancel_closes_the_model_connection_at_once(hub: ChatHub, script: ScriptedModel,
                                                          model_server) -> None:
    script.reply = Reply.of(LONG, tokens_per_second=50)
    stream = await hub.send("hi", owner=OWNER)
    seen = Collector(stream)
    await eventually(lambda: sum(e.type == "text" for e in seen.events) >= 3, what="some text")
    conn = await connection(model_server)
    cancelled_at = time.monotonic()
    await hub.stop(stream.id, owner=OWNER)
    await asyncio.wait_for(conn.closed.wait(), 5)
    assert conn.closed_by_client_at is not None and conn.closed_by_client_at - cancelled_at < 0.5
    assert not conn.finished
    events = await seen.done()
    assert_well_formed(events, "cancelled")
    record = stream.record()
    assert record.status is StreamStatus.STOPPED and record.error is None
    assert record.text and LONG.startswith(record.text) and record.text == delivered(events)
    assert events[-1].data["status"] == "stopped"
    again = await hub.stop(stream.id, owner=OWNER)  # a second stop changes nothing
    assert again.ended and again.record().text == record.text and len(again.follow().take()) == len(events)


async def test_cancel_before_the_first_token(hub: ChatHub, script: ScriptedModel, model_server) -> None:
    script.reply = Reply.of("Never seen.", first_token_delay=3.0)
    stream = await hub.send("hi", owner=OWNER)
    conn = await connection(model_server)
    cancelled_at = time.monotonic()
    await hub.stop(stream.id, owner=OWNER)
    events = await drain(stream)
    await asyncio.wait_for(conn.closed.wait(), 5)
    assert conn.closed_by_client_at - cancelled_at < 0.5
    assert_well_formed(events, "cancelled")
    assert stream.record().text == "" and not stream.record().fallback
    assert len(model_server.connections) == 1


async def test_cancel_while_paused_keeps_what_was_buffered(hub: ChatHub, script: ScriptedModel,
                                                           model_server) -> None:
    script.reply = Reply.of(LONG, tokens_per_second=100)
    stream = await hub.send("hi", owner=OWNER)
    seen = Collector(stream)
    await eventually(lambda: any(e.type == "text" for e in seen.events), what="first text")
    await hub.pause(stream.id, owner=OWNER)
    conn = await connection(model_server)
    await eventually(lambda: seen.events[-1].type == "paused", what="the paused event")
    shown = delivered(seen.events)
    sent_at_pause = conn.chunks_sent
    # The model keeps writing into the held buffer.
    await eventually(lambda: conn.chunks_sent >= sent_at_pause + 5, what="tokens while paused")
    await asyncio.sleep(0.2)  # and the client side reads them
    await hub.stop(stream.id, owner=OWNER)
    await asyncio.wait_for(conn.closed.wait(), 5)
    events = await seen.done()
    assert_well_formed(events, "cancelled")
    record = stream.record()
    assert delivered(events) == record.text and LONG.startswith(record.text)
    assert record.text.startswith(shown) and len(record.text.split()) >= len(shown.split()) + 5  # the buffer too


# --- concurrency ------------------------------------------------------------------------------


async def test_concurrency_limit(hub: ChatHub, script: ScriptedModel) -> None:
    assert TEST_LIMITS["max_concurrent_streams"] == 2
    script.reply = Reply.of(LONG, tokens_per_second=20)
    first = await hub.send("one", owner=OWNER)
    second = await hub.send("two", owner=OWNER)
    with pytest.raises(TooManyStreams, match="MAX_CONCURRENT_STREAMS"):
        await hub.send("three", owner=OWNER)
    assert len(await hub.active_streams()) == 2
    await hub.stop(first.id, owner=OWNER)
    await first.wait()
    third = await hub.send("three", owner=OWNER)  # a slot is free again
    for stream in (second, third):
        await hub.stop(stream.id, owner=OWNER)
        assert (await asyncio.wait_for(stream.wait(), 10)).status is StreamStatus.STOPPED


async def test_shutdown_ends_every_stream(hub: ChatHub, script: ScriptedModel, model_server) -> None:
    script.reply = Reply.of(LONG, tokens_per_second=20)
    streams = [await hub.send(m, owner=OWNER) for m in ("a", "b")]
    await eventually(lambda: len(model_server.connections) == 2, what="both requests")
    await asyncio.wait_for(hub.shutdown(), 10)
    assert all(s.ended for s in streams)
    for conn in model_server.connections:
        await asyncio.wait_for(conn.closed.wait(), 5)


async def test_shutdown_while_an_answer_is_being_saved_keeps_the_save(
        hub: ChatHub, script: ScriptedModel, store, monkeypatch: pytest.MonkeyPatch) -> None:
    """A shutdown that lands during an answer's final save lets the save finish: cancelling it
    would lose the answer's end and leave the shutdown waiting for a save that never comes."""
    script.reply = Reply.of("Every word is saved.")
    gate, reached = asyncio.Event(), asyncio.Event()
    save = store.save_answer

    async def slow_final_save(record, **kwargs):
        if record.status.ended:
            reached.set()
            await gate.wait()
        return await save(record, **kwargs)

    monkeypatch.setattr(store, "save_answer", slow_final_save)
    stream = await hub.send("hi", owner=OWNER)
    await asyncio.wait_for(reached.wait(), 10)
    shutdown = asyncio.create_task(hub.shutdown())
    await asyncio.sleep(0.05)
    gate.set()
    await asyncio.wait_for(shutdown, 10)
    assert stream.ended and stream.record().status is StreamStatus.COMPLETED
    stored = await hub.conversation(stream.conversation_id, owner=OWNER)
    assert stored.messages[-1].content == "Every word is saved."
    assert stored.messages[-1].status is StreamStatus.COMPLETED
