"""Stream lifecycle through `ChatHub`: whole answers, multi-turn, timeouts, failures and the fallback
(pause/resume/stop and limits: test_stream_controls.py).

Every stream here talks to the loopback model server through the real clients: `AsyncOpenAI` and
`ChatSecret` (the `protocol` fixture runs each test on both).
"""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import OWNER, eventually
from tests.support.scripted_model import ScriptedModel
from secretgpt.records import FINAL_EVENTS, StreamEvent
from secretgpt.records import StreamStatus
from secretgpt.hub.chat_hub import ChatHub
from secretgpt.hub.errors import BadMessage
from secretgpt.hub.stream import ActiveStream
from secretgpt.services.loopback_model import LoopbackModelServer, Reply, Step
from secretgpt.records import ConversationNotFound

LONG = " ".join(f"word{i}" for i in range(300))


async def drain(stream: ActiveStream, after: int = 0, timeout: float = 15.0) -> list[StreamEvent]:
    async with asyncio.timeout(timeout):
        return [event async for event in stream.follow(after).events()]


def assert_well_formed(events: list[StreamEvent], final: str) -> None:
    """start first, ids 1, 2, 3…, and exactly one final event, last."""
    types = [e.type for e in events]
    assert types[0] == "start"
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert sum(t in FINAL_EVENTS for t in types) == 1, types
    assert types[-1] == final, types


def delivered(events: list[StreamEvent], kind: str = "text") -> str:
    return "".join(e.content for e in events if e.type == kind)


async def connection(server: LoopbackModelServer, index: int = -1):
    await eventually(lambda: server.connections, what="the model request")
    return server.connections[index]


# --- a whole answer -------------------------------------------------------------------------


async def test_answer_streams_and_leaves_a_record(hub: ChatHub, script: ScriptedModel) -> None:
    reply = script.reply = Reply.of("Paris is the capital of France.", "A geography question.")
    stream = await hub.send("Capital of France?", owner=OWNER)
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
    assert events[-1].data == {**record.metadata(), "message_id": stream.message_id}
    assert record.attestation is not None and record.attestation.status == "unverified"  # plain http

    await stream.wait()
    conversation = await hub.conversation(stream.conversation_id, owner=OWNER)
    assert [(t.role, t.content) for t in conversation.messages] == [("user", "Capital of France?"),
                                                                 ("assistant", reply.text)]
    assert conversation.messages[1].think == reply.thinking
    assert await hub.active_streams() == []


async def test_chunks_are_coalesced_by_streaming_chunk_size(make_hub, script: ScriptedModel) -> None:
    hub = make_hub(streaming_chunk_size=5)
    reply = script.reply = Reply.of(" ".join(f"w{i}" for i in range(23)))
    events = await drain(await hub.send("count", owner=OWNER))
    assert_well_formed(events, "done")
    texts = [e for e in events if e.type == "text"]
    assert delivered(events) == reply.text
    assert len(texts) == 5  # 23 tokens in events of 5: 5 + 5 + 5 + 5 + 3


async def test_whole_answer_without_streaming(hub: ChatHub, script: ScriptedModel, model_server) -> None:
    reply = script.reply = Reply.of("One piece.", "Quick.")
    stream = await hub.send("hi", owner=OWNER, streaming=False)
    record = await asyncio.wait_for(stream.wait(), 15)
    assert record.status is StreamStatus.COMPLETED and not record.streaming
    assert (record.text, record.think) == (reply.text, reply.thinking)
    assert model_server.connections[-1].request["stream"] is False


async def test_multi_turn_sends_the_whole_conversation(hub: ChatHub, script: ScriptedModel, model_server) -> None:
    first = script.reply = Reply.of("Blue.", "They want a colour.")
    stream = await hub.send("Name a colour.", owner=OWNER)
    await stream.wait()
    script.reply = Reply.of("Green.")
    second = await hub.send("Another one?", owner=OWNER, conversation_id=stream.conversation_id)
    assert (await second.wait()).text == "Green."
    sent = model_server.connections[-1].request["messages"]
    assert [(m["role"], m["content"]) for m in sent] == [
        ("user", "Name a colour."), ("assistant", first.text), ("user", "Another one?")]
    assert first.thinking not in str(sent)


async def test_next_message_right_after_the_end_sees_the_whole_answer(hub: ChatHub, script: ScriptedModel,
                                                                      model_server) -> None:
    # A client may send the next message the moment it sees `done`: the answer must be in the
    # context by then, even if storing it is still under way.
    conversation_id = None
    for turn in range(6):
        script.reply = Reply.of(f"Answer number {turn}.")
        stream = await hub.send(f"Question {turn}?", owner=OWNER, conversation_id=conversation_id)
        conversation_id = stream.conversation_id
        await stream.wait()
    sent = model_server.connections[-1].request["messages"]
    expected = []
    for turn in range(5):
        expected += [("user", f"Question {turn}?"), ("assistant", f"Answer number {turn}.")]
    assert [(m["role"], m["content"]) for m in sent] == [*expected, ("user", "Question 5?")]


async def test_second_message_while_the_first_streams_is_refused(hub: ChatHub, script: ScriptedModel) -> None:
    script.reply = Reply.of(LONG, tokens_per_second=50)
    stream = await hub.send("one", owner=OWNER)
    with pytest.raises(BadMessage, match="still streaming"):
        await hub.send("two", owner=OWNER, conversation_id=stream.conversation_id)
    await hub.stop(stream.id, owner=OWNER)
    await stream.wait()


@pytest.mark.parametrize("message", ["", "   \n\t", "x" * 101])
async def test_bad_messages_are_refused_before_anything_is_stored(make_hub, model_server, message: str) -> None:
    hub = make_hub(max_message_chars=100)
    with pytest.raises(BadMessage) as caught:
        await hub.send(message, owner=OWNER)
    if message.strip():
        assert "MAX_MESSAGE_CHARS" in str(caught.value)
    else:
        assert "empty" in str(caught.value)
    assert model_server.connections == [] and await hub.active_streams() == []


async def test_unknown_conversation(hub: ChatHub) -> None:
    with pytest.raises(ConversationNotFound):
        await hub.send("hi", owner=OWNER, conversation_id="nope")
    stream = await hub.send("hi", owner=OWNER)
    await stream.wait()
    with pytest.raises(ConversationNotFound):  # someone else's conversation
        await hub.send("hi", owner="someone-else", conversation_id=stream.conversation_id)


# --- failures end with one error event and keep the partial answer ----------------------------


async def test_stall_fires_the_idle_timeout(hub: ChatHub, script: ScriptedModel, model_server) -> None:
    reply = script.reply = Reply.of("Some words before the model").then(Step("stall"))
    stream = await hub.send("hi", owner=OWNER)
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


async def test_nothing_at_all_fires_the_first_token_timeout(make_hub, script: ScriptedModel) -> None:
    hub = make_hub(stream_first_token_timeout=0.8)
    script.reply = Reply(steps=[Step("stall")])
    stream = await hub.send("hi", owner=OWNER)
    events = await drain(stream)
    assert_well_formed(events, "error")
    assert events[-1].data["kind"] == "timeout"
    assert "STREAM_FIRST_TOKEN_TIMEOUT" in events[-1].data["message"]


async def test_slow_first_token_within_the_first_token_timeout(hub: ChatHub, script: ScriptedModel) -> None:
    # The first token takes longer than the idle timeout (1 s) but less than the first-token one (5 s).
    assert hub.limits.idle_timeout < 2.0 < hub.limits.first_token_timeout
    reply = script.reply = Reply.of("Worth the wait.", "Slowly.", first_token_delay=2.0)
    stream = await hub.send("hi", owner=OWNER)
    events = await drain(stream)
    assert_well_formed(events, "done")
    assert delivered(events) == reply.text
    record = stream.record()
    assert record.status is StreamStatus.COMPLETED and record.time_to_first_token >= 1.9


async def test_stream_timeout_bounds_the_whole_answer(make_hub, script: ScriptedModel) -> None:
    hub = make_hub(stream_timeout=1.0)
    script.reply = Reply.of(LONG, tokens_per_second=30)  # steady tokens: the idle timeout never fires
    stream = await hub.send("hi", owner=OWNER)
    events = await drain(stream)
    assert_well_formed(events, "error")
    assert "STREAM_TIMEOUT" in events[-1].data["message"]
    assert stream.record().status is StreamStatus.TIMEOUT
    assert delivered(events) and LONG.startswith(delivered(events)) and stream.record().text == delivered(events)


@pytest.mark.parametrize(("reply", "kind", "partial"), [
    (Reply.of("The first half").then(Step("error", content="CUDA out of memory")), "model_error", "The first half"),
    (Reply.of("Half an answer").then(Step("drop")), "interrupted", "Half an answer"),
], ids=["error-line", "dropped"])
async def test_failure_mid_answer_keeps_the_partial_text(hub: ChatHub, script: ScriptedModel, model_server,
                                                         reply: Reply, kind: str, partial: str) -> None:
    script.reply = reply
    stream = await hub.send("hi", owner=OWNER)
    events = await drain(stream)
    assert_well_formed(events, "error")
    final = events[-1].data
    assert final["kind"] == kind and final["message"]
    assert final["text"] if "text" in final else True  # metadata never replaces the message
    assert delivered(events) == partial
    record = stream.record()
    assert record.status is StreamStatus.ERROR and record.text == partial and record.error_kind == kind
    assert not record.fallback and len(model_server.connections) == 1  # text had arrived: no retry
    await stream.wait()
    conversation = await hub.conversation(stream.conversation_id, owner=OWNER)
    assert conversation.messages[-1].content == partial


async def test_model_server_rejects_the_key(hub: ChatHub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_AI_API_KEY", "wrong-key")
    stream = await hub.send("hi", owner=OWNER)
    events = await drain(stream)
    assert_well_formed(events, "error")
    assert events[-1].data["kind"] == "auth"
    assert "SECRET_AI_API_KEY" in events[-1].data["message"]
    assert stream.record().text == "" and not stream.record().fallback


async def test_http_500_falls_back_once_then_reports_the_error(hub: ChatHub, script: ScriptedModel,
                                                               model_server) -> None:
    script.reply = Reply(status=500, error_message="model runner crashed")
    stream = await hub.send("hi", owner=OWNER)
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
async def test_fallback_to_non_streaming_before_the_first_token(hub: ChatHub, script: ScriptedModel,
                                                                model_server, failure: Reply) -> None:
    good = Reply.of("Delivered in one piece.", "Fallback thinking.")
    script.reply = lambda request: failure if request.get("stream", True) else good
    stream = await hub.send("hi", owner=OWNER)
    events = await drain(stream)
    assert_well_formed(events, "done")
    assert delivered(events) == good.text and delivered(events, "think") == good.thinking
    record = stream.record()
    assert record.fallback and record.status is StreamStatus.COMPLETED and record.text == good.text
    assert events[-1].data["fallback"] is True
    assert [c.request["stream"] for c in model_server.connections] == [True, False]
