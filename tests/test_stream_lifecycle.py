"""Stream lifecycle through `HubRouter`: timeouts, pause/resume/cancel, fallback, multi-turn, limits.

Every stream here talks to the loopback model server through the real clients: `AsyncOpenAI` and
`ChatSecret` (the `protocol` fixture runs each test on both).
"""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.conftest import OWNER, ModelScript, eventually
from secretgpt.hub.core.events import FINAL_EVENTS, StreamEvent, StreamStatus
from secretgpt.hub.core.router import BadMessage, HubRouter, TooManyStreams
from secretgpt.hub.core.stream import ActiveStream
from secretgpt.services.ollama_loopback import OllamaLoopbackServer, Reply, Step
from secretgpt.storage import ConversationNotFound

LONG = " ".join(f"word{i}" for i in range(300))


async def drain(stream: ActiveStream, after: int = 0, timeout: float = 15.0) -> list[StreamEvent]:
    async with asyncio.timeout(timeout):
        return [event async for event in stream.events(after)]


def assert_well_formed(events: list[StreamEvent], final: str) -> None:
    """start first, ids 1, 2, 3…, and exactly one final event, last."""
    types = [e.type for e in events]
    assert types[0] == "start"
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert sum(t in FINAL_EVENTS for t in types) == 1, types
    assert types[-1] == final, types


def delivered(events: list[StreamEvent], kind: str = "text") -> str:
    return "".join(e.content for e in events if e.type == kind)


async def connection(server: OllamaLoopbackServer, index: int = -1):
    await eventually(lambda: server.connections, what="the model request")
    return server.connections[index]


# --- a whole answer -------------------------------------------------------------------------


async def test_answer_streams_and_leaves_a_record(hub: HubRouter, script: ModelScript) -> None:
    reply = script.reply = Reply.of("Paris is the capital of France.", "A geography question.")
    stream = await hub.stream_message("Capital of France?", owner=OWNER)
    events = await drain(stream)
    assert_well_formed(events, "done")
    assert events[0].data == {"stream_id": stream.id, "conversation_id": stream.conversation_id, "model": "loopback"}
    assert delivered(events, "think") == reply.thinking
    assert delivered(events) == reply.text
    # All reasoning is delivered before the answer.
    kinds = [e.type for e in events if e.type in ("think", "text")]
    assert kinds == sorted(kinds, key=lambda k: k == "text")

    record = stream.record()
    assert record.status is StreamStatus.COMPLETED
    assert (record.text, record.think) == (reply.text, reply.thinking)
    assert record.model == "loopback" and record.streaming and not record.fallback
    assert record.time_to_first_token is not None and record.think_seconds is not None
    assert record.completion_tokens == len(reply.steps) and record.prompt_tokens is not None
    assert record.done_reason == "stop" and record.error is None and record.ended_at is not None
    assert events[-1].data == record.metadata()

    await stream.wait_saved()
    conversation = await hub.store.get(stream.conversation_id, OWNER)
    assert [(t.role, t.content) for t in conversation.turns] == [("user", "Capital of France?"),
                                                                 ("assistant", reply.text)]
    assert conversation.turns[1].think == reply.thinking
    assert hub.get_active_streams() == []


async def test_chunks_are_coalesced_by_streaming_chunk_size(make_hub, script: ModelScript) -> None:
    hub = make_hub(streaming_chunk_size=5)
    reply = script.reply = Reply.of(" ".join(f"w{i}" for i in range(23)))
    events = await drain(await hub.stream_message("count", owner=OWNER))
    assert_well_formed(events, "done")
    texts = [e for e in events if e.type == "text"]
    assert delivered(events) == reply.text
    assert len(texts) == 5  # 23 tokens in events of 5: 5 + 5 + 5 + 5 + 3


async def test_route_message_without_streaming(hub: HubRouter, script: ModelScript, model_server) -> None:
    reply = script.reply = Reply.of("One piece.", "Quick.")
    record = await asyncio.wait_for(hub.route_message("hi", owner=OWNER), 15)
    assert record.status is StreamStatus.COMPLETED and not record.streaming
    assert (record.text, record.think) == (reply.text, reply.thinking)
    assert model_server.connections[-1].request["stream"] is False


async def test_multi_turn_sends_the_whole_conversation(hub: HubRouter, script: ModelScript, model_server) -> None:
    first = script.reply = Reply.of("Blue.", "They want a colour.")
    stream = await hub.stream_message("Name a colour.", owner=OWNER)
    await stream.wait()
    script.reply = Reply.of("Green.")
    second = await hub.stream_message("Another one?", owner=OWNER, conversation_id=stream.conversation_id)
    assert (await second.wait()).text == "Green."
    sent = model_server.connections[-1].request["messages"]
    assert [(m["role"], m["content"]) for m in sent] == [
        ("user", "Name a colour."), ("assistant", first.text), ("user", "Another one?")]
    assert first.thinking not in str(sent)


async def test_next_message_right_after_the_end_sees_the_whole_answer(hub: HubRouter, script: ModelScript,
                                                                      model_server) -> None:
    # A client may send the next message the moment it sees `done`: the answer must be in the
    # context by then, even if storing it is still under way.
    conversation_id = None
    for turn in range(6):
        script.reply = Reply.of(f"Answer number {turn}.")
        stream = await hub.stream_message(f"Question {turn}?", owner=OWNER, conversation_id=conversation_id)
        conversation_id = stream.conversation_id
        await stream.wait()
    sent = model_server.connections[-1].request["messages"]
    expected = []
    for turn in range(5):
        expected += [("user", f"Question {turn}?"), ("assistant", f"Answer number {turn}.")]
    assert [(m["role"], m["content"]) for m in sent] == [*expected, ("user", "Question 5?")]


async def test_second_message_while_the_first_streams_is_refused(hub: HubRouter, script: ModelScript) -> None:
    script.reply = Reply.of(LONG, tokens_per_second=50)
    stream = await hub.stream_message("one", owner=OWNER)
    with pytest.raises(BadMessage, match="still streaming"):
        await hub.stream_message("two", owner=OWNER, conversation_id=stream.conversation_id)
    hub.cancel(stream.id, OWNER)
    await stream.wait()


@pytest.mark.parametrize("message", ["", "   \n\t", "x" * 101])
async def test_bad_messages_are_refused_before_anything_is_stored(make_hub, model_server, message: str) -> None:
    hub = make_hub(max_message_chars=100)
    with pytest.raises(BadMessage) as caught:
        await hub.stream_message(message, owner=OWNER)
    if message.strip():
        assert "MAX_MESSAGE_CHARS" in str(caught.value)
    else:
        assert "empty" in str(caught.value)
    assert model_server.connections == [] and hub.get_active_streams() == []


async def test_unknown_conversation(hub: HubRouter) -> None:
    with pytest.raises(ConversationNotFound):
        await hub.stream_message("hi", owner=OWNER, conversation_id="nope")
    stream = await hub.stream_message("hi", owner=OWNER)
    await stream.wait()
    with pytest.raises(ConversationNotFound):  # someone else's conversation
        await hub.stream_message("hi", owner="someone-else", conversation_id=stream.conversation_id)


# --- failures end with one error event and keep the partial answer ----------------------------


async def test_stall_fires_the_idle_timeout(hub: HubRouter, script: ModelScript, model_server) -> None:
    reply = script.reply = Reply.of("Some words before the model").then(Step("stall"))
    stream = await hub.stream_message("hi", owner=OWNER)
    events = await drain(stream)
    assert_well_formed(events, "error")
    assert events[-1].data["kind"] == "timeout"
    assert "STREAM_IDLE_TIMEOUT" in events[-1].data["message"]
    assert delivered(events) == reply.text
    record = stream.record()
    assert record.status is StreamStatus.TIMEOUT and record.text == reply.text and record.error_kind == "timeout"
    # It is the idle limit that ends it, about a second after the last token; not a later one
    # (the first-token limit is 5 s). Generous margin for a loaded machine.
    assert (record.ended_at - record.first_token_at).total_seconds() < hub.limits.idle_timeout + 3
    conn = model_server.connections[-1]
    await asyncio.wait_for(conn.closed.wait(), 5)  # the stalled connection is not left open
    assert not conn.finished


async def test_nothing_at_all_fires_the_first_token_timeout(make_hub, script: ModelScript) -> None:
    hub = make_hub(stream_first_token_timeout=0.8)
    script.reply = Reply(steps=[Step("stall")])
    stream = await hub.stream_message("hi", owner=OWNER)
    events = await drain(stream)
    assert_well_formed(events, "error")
    assert events[-1].data["kind"] == "timeout"
    assert "STREAM_FIRST_TOKEN_TIMEOUT" in events[-1].data["message"]


async def test_slow_first_token_within_the_first_token_timeout(hub: HubRouter, script: ModelScript) -> None:
    # The first token takes longer than the idle timeout (1 s) but less than the first-token one (5 s).
    assert hub.limits.idle_timeout < 2.0 < hub.limits.first_token_timeout
    reply = script.reply = Reply.of("Worth the wait.", "Slowly.", first_token_delay=2.0)
    stream = await hub.stream_message("hi", owner=OWNER)
    events = await drain(stream)
    assert_well_formed(events, "done")
    assert delivered(events) == reply.text
    record = stream.record()
    assert record.status is StreamStatus.COMPLETED and record.time_to_first_token >= 1.9


async def test_stream_timeout_bounds_the_whole_answer(make_hub, script: ModelScript) -> None:
    hub = make_hub(stream_timeout=1.0)
    script.reply = Reply.of(LONG, tokens_per_second=30)  # steady tokens: the idle timeout never fires
    stream = await hub.stream_message("hi", owner=OWNER)
    events = await drain(stream)
    assert_well_formed(events, "error")
    assert "STREAM_TIMEOUT" in events[-1].data["message"]
    assert stream.record().status is StreamStatus.TIMEOUT
    assert delivered(events) and LONG.startswith(delivered(events)) and stream.record().text == delivered(events)


@pytest.mark.parametrize(("reply", "kind", "partial"), [
    (Reply.of("The first half").then(Step("error", content="CUDA out of memory")), "model_error", "The first half"),
    (Reply.of("Half an answer").then(Step("drop")), "interrupted", "Half an answer"),
], ids=["error-line", "dropped"])
async def test_failure_mid_answer_keeps_the_partial_text(hub: HubRouter, script: ModelScript, model_server,
                                                         reply: Reply, kind: str, partial: str) -> None:
    script.reply = reply
    stream = await hub.stream_message("hi", owner=OWNER)
    events = await drain(stream)
    assert_well_formed(events, "error")
    final = events[-1].data
    assert final["kind"] == kind and final["message"]
    assert final["text"] if "text" in final else True  # metadata never replaces the message
    assert delivered(events) == partial
    record = stream.record()
    assert record.status is StreamStatus.ERROR and record.text == partial and record.error_kind == kind
    assert not record.fallback and len(model_server.connections) == 1  # text had arrived: no retry
    await stream.wait_saved()
    conversation = await hub.store.get(stream.conversation_id, OWNER)
    assert conversation.turns[-1].content == partial


async def test_model_server_rejects_the_key(hub: HubRouter, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_AI_API_KEY", "wrong-key")
    stream = await hub.stream_message("hi", owner=OWNER)
    events = await drain(stream)
    assert_well_formed(events, "error")
    assert events[-1].data["kind"] == "auth"
    assert "SECRET_AI_API_KEY" in events[-1].data["message"]
    assert stream.record().text == "" and not stream.record().fallback


async def test_http_500_falls_back_once_then_reports_the_error(hub: HubRouter, script: ModelScript,
                                                               model_server) -> None:
    script.reply = Reply(status=500, error_message="model runner crashed")
    stream = await hub.stream_message("hi", owner=OWNER)
    events = await drain(stream)
    assert_well_formed(events, "error")
    assert events[-1].data["kind"] == "model_error" and "model runner crashed" in events[-1].data["message"]
    assert [c.request["stream"] for c in model_server.connections] == [True, False]
    assert stream.record().fallback


@pytest.mark.parametrize("failure", [
    Reply(status=500, error_message="streaming is broken"),
    Reply(steps=[Step("drop")]),
    Reply(steps=[Step("error", content="stream setup failed")]),
], ids=["http-500", "dropped", "error-line"])
async def test_fallback_to_non_streaming_before_the_first_token(hub: HubRouter, script: ModelScript,
                                                                model_server, failure: Reply) -> None:
    good = Reply.of("Delivered in one piece.", "Fallback thinking.")
    script.reply = lambda request: failure if request.get("stream", True) else good
    stream = await hub.stream_message("hi", owner=OWNER)
    events = await drain(stream)
    assert_well_formed(events, "done")
    assert delivered(events) == good.text and delivered(events, "think") == good.thinking
    record = stream.record()
    assert record.fallback and record.status is StreamStatus.COMPLETED and record.text == good.text
    assert events[-1].data["fallback"] is True
    assert [c.request["stream"] for c in model_server.connections] == [True, False]


# --- pause / resume / cancel ------------------------------------------------------------------


class Collector:
    """A live subscriber, recording what it was handed and when."""

    def __init__(self, stream: ActiveStream) -> None:
        self.events: list[StreamEvent] = []
        self.task = asyncio.create_task(self._run(stream))

    async def _run(self, stream: ActiveStream) -> None:
        async for event in stream.events():
            self.events.append(event)

    async def done(self, timeout: float = 15.0) -> list[StreamEvent]:
        await asyncio.wait_for(self.task, timeout)
        return self.events


async def test_pause_holds_delivery_while_the_model_keeps_going(hub: HubRouter, script: ModelScript,
                                                                 model_server) -> None:
    reply = script.reply = Reply.of(LONG[:1000], "Plan: count.", tokens_per_second=150)
    stream = await hub.stream_message("count", owner=OWNER)
    seen = Collector(stream)
    await eventually(lambda: any(e.type == "text" for e in seen.events), what="first text")
    assert hub.pause(stream.id, OWNER).paused
    conn = await connection(model_server)
    await eventually(lambda: seen.events and seen.events[-1].type == "paused", what="the paused event")
    delivered_at_pause = len(seen.events)
    sent_at_pause = conn.chunks_sent

    # The model keeps generating into the buffer; nothing reaches the subscriber.
    await eventually(lambda: conn.chunks_sent >= sent_at_pause + 20, what="more tokens while paused")
    await eventually(lambda: len(stream.text) > len(delivered(seen.events)) + 20, what="a buffer")
    await asyncio.sleep(0.2)
    assert len(seen.events) == delivered_at_pause
    assert stream.status is StreamStatus.PAUSED and not stream.ended

    hub.resume(stream.id, OWNER)
    events = await seen.done()
    assert_well_formed(events, "done")
    types = [e.type for e in events]
    assert types.index("paused") < types.index("resumed")
    assert delivered(events) == reply.text and delivered(events, "think") == reply.thinking
    assert stream.record().text == reply.text and stream.record().paused_seconds > 0.2


async def test_model_finishes_during_a_pause_then_resume_delivers_all_then_done(
        hub: HubRouter, script: ModelScript, model_server) -> None:
    reply = script.reply = Reply.of(LONG, tokens_per_second=400)
    stream = await hub.stream_message("count", owner=OWNER)
    seen = Collector(stream)
    await eventually(lambda: any(e.type == "text" for e in seen.events), what="first text")
    hub.pause(stream.id, OWNER)
    await eventually(lambda: stream.upstream_done, what="the model to finish")
    conn = await connection(model_server)
    assert conn.finished
    await asyncio.sleep(0.1)
    assert seen.events[-1].type == "paused" and not stream.ended
    assert stream in hub.get_active_streams()  # paused streams are still active…
    assert stream not in hub.registry.upstream_streams()  # …but no longer hold a model connection

    hub.resume(stream.id, OWNER)
    events = await seen.done()
    assert_well_formed(events, "done")
    after_resume = events[[e.type for e in events].index("resumed") + 1:]
    assert [e.type for e in after_resume] == ["text", "done"]  # the held text arrives merged
    assert delivered(events) == reply.text == stream.record().text
    assert stream.record().status is StreamStatus.COMPLETED


async def test_pause_longer_than_the_stream_timeout_ends_the_stream(make_hub, script: ModelScript) -> None:
    hub = make_hub(stream_timeout=1.0)
    reply = script.reply = Reply.of("Everything the model wrote is kept.", first_token_delay=0.2)
    stream = await hub.stream_message("hi", owner=OWNER)
    hub.pause(stream.id, OWNER)
    events = await drain(stream)
    assert_well_formed(events, "error")
    assert events[-1].data["kind"] == "timeout" and "STREAM_TIMEOUT" in events[-1].data["message"]
    assert delivered(events) == reply.text  # held text is delivered before the end
    record = stream.record()
    assert record.status is StreamStatus.PAUSE_TIMEOUT and record.text == reply.text


async def test_cancel_closes_the_model_connection_at_once(hub: HubRouter, script: ModelScript,
                                                          model_server) -> None:
    script.reply = Reply.of(LONG, tokens_per_second=50)
    stream = await hub.stream_message("hi", owner=OWNER)
    seen = Collector(stream)
    await eventually(lambda: sum(e.type == "text" for e in seen.events) >= 3, what="some text")
    conn = await connection(model_server)
    cancelled_at = time.monotonic()
    hub.cancel(stream.id, OWNER)
    await asyncio.wait_for(conn.closed.wait(), 5)
    assert conn.closed_by_client_at is not None and conn.closed_by_client_at - cancelled_at < 0.5
    assert not conn.finished
    events = await seen.done()
    assert_well_formed(events, "cancelled")
    record = stream.record()
    assert record.status is StreamStatus.STOPPED and record.error is None
    assert record.text and LONG.startswith(record.text) and record.text == delivered(events)
    assert events[-1].data["status"] == "stopped"
    assert not hub.cancel(stream.id, OWNER).cancel()  # a second cancel is a no-op


async def test_cancel_before_the_first_token(hub: HubRouter, script: ModelScript, model_server) -> None:
    script.reply = Reply.of("Never seen.", first_token_delay=3.0)
    stream = await hub.stream_message("hi", owner=OWNER)
    conn = await connection(model_server)
    cancelled_at = time.monotonic()
    hub.cancel(stream.id, OWNER)
    events = await drain(stream)
    await asyncio.wait_for(conn.closed.wait(), 5)
    assert conn.closed_by_client_at - cancelled_at < 0.5
    assert_well_formed(events, "cancelled")
    assert stream.record().text == "" and not stream.record().fallback
    assert len(model_server.connections) == 1


async def test_cancel_while_paused_keeps_what_was_buffered(hub: HubRouter, script: ModelScript,
                                                           model_server) -> None:
    script.reply = Reply.of(LONG, tokens_per_second=100)
    stream = await hub.stream_message("hi", owner=OWNER)
    seen = Collector(stream)
    await eventually(lambda: any(e.type == "text" for e in seen.events), what="first text")
    hub.pause(stream.id, OWNER)
    conn = await connection(model_server)
    words_at_pause = len(stream.text.split())
    # Wait for the client side (not just the server) to have buffered more.
    await eventually(lambda: len(stream.text.split()) >= words_at_pause + 5, what="tokens while paused")
    buffered = stream.text
    hub.cancel(stream.id, OWNER)
    await asyncio.wait_for(conn.closed.wait(), 5)
    events = await seen.done()
    assert_well_formed(events, "cancelled")
    record = stream.record()
    assert delivered(events) == record.text and LONG.startswith(record.text)
    assert record.text.startswith(buffered)


# --- concurrency ------------------------------------------------------------------------------


async def test_concurrency_limit(hub: HubRouter, script: ModelScript) -> None:
    assert hub.settings.max_concurrent_streams == 2
    script.reply = Reply.of(LONG, tokens_per_second=20)
    first = await hub.stream_message("one", owner=OWNER)
    second = await hub.stream_message("two", owner=OWNER)
    with pytest.raises(TooManyStreams, match="MAX_CONCURRENT_STREAMS"):
        await hub.stream_message("three", owner=OWNER)
    assert len(hub.get_active_streams()) == 2
    hub.cancel(first.id, OWNER)
    await first.wait()
    third = await hub.stream_message("three", owner=OWNER)  # a slot is free again
    for stream in (second, third):
        hub.cancel(stream.id, OWNER)
        assert (await asyncio.wait_for(stream.wait(), 10)).status is StreamStatus.STOPPED


async def test_shutdown_ends_every_stream(hub: HubRouter, script: ModelScript, model_server) -> None:
    script.reply = Reply.of(LONG, tokens_per_second=20)
    streams = [await hub.stream_message(m, owner=OWNER) for m in ("a", "b")]
    await eventually(lambda: len(model_server.connections) == 2, what="both requests")
    await asyncio.wait_for(hub.shutdown(), 10)
    assert all(s.ended for s in streams)
    for conn in model_server.connections:
        await asyncio.wait_for(conn.closed.wait(), 5)
