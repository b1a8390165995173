"""The HTTP API, served by a real uvicorn server, over both model paths (`AsyncOpenAI` and
`ChatSecret`) to the loopback model."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.conftest import TEST_LIMITS, ApiServer, eventually
from tests.support.scripted_model import ScriptedModel
from tests.support.sse import EventStream, Frame
from secretgpt.records import FINAL_EVENTS
from secretgpt.records import StreamStatus
from secretgpt.services.loopback_model import LoopbackModelServer, Reply, Step
from secretgpt.services.secret_ai import Catalog, ModelInfo, SecretAIService
from tests.support.app_process import free_port

LONG = " ".join(f"word{i}" for i in range(300))


def assert_event_stream(frames: list[Frame], final: str, first_id: int = 1) -> None:
    """`id:` increases by one; exactly one final event, and it is the last frame."""
    assert [f.id for f in frames] == list(range(first_id, first_id + len(frames)))
    types = [f.type for f in frames]
    assert sum(t in FINAL_EVENTS for t in types) == 1, types
    assert types[-1] == final, types


def text_in(frames: list[Frame], kind: str = "text") -> str:
    return "".join(f.data["content"] for f in frames if f.type == kind)


async def model_request(server: LoopbackModelServer, index: int = -1):
    await eventually(lambda: len(server.connections) >= (index + 1 if index >= 0 else 1), what="model request")
    return server.connections[index]


# --- streaming ----------------------------------------------------------------------------------


async def test_sse_frames(api: ApiServer, script: ScriptedModel) -> None:
    reply = script.reply = Reply.of("Streaming over SSE works.", "Check the frame format.")
    async with api.sse("Does it stream?") as sse:
        response = sse.response
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        assert response.headers["x-accel-buffering"] == "no"
        frames = await sse.rest()
    assert sse.malformed == []
    assert_event_stream(frames, "done")
    start, done = frames[0], frames[-1]
    assert start.type == "start" and start.data["stream_id"] and start.data["conversation_id"]
    assert start.data["model"] == "loopback"
    assert all(f.data["content"] for f in frames if f.type in ("think", "text"))
    assert text_in(frames, "think") == reply.thinking and text_in(frames) == reply.text
    assert sum(f.type == "text" for f in frames) > 1, "token by token, not one lump"
    # `done` carries the metadata (not the text, which the client already has).
    assert done.data["stream_id"] == start.data["stream_id"]
    assert done.data["status"] == "completed" and done.data["model"] == "loopback"
    assert done.data["chunks"] == len(reply.steps) and done.data["time_to_first_token"] is not None
    assert "text" not in done.data and "owner" not in done.data
    record = (await api.stream(start.data["stream_id"])).record()
    assert (record.text, record.think) == (reply.text, reply.thinking)


async def test_curl_style_form_encoded_body_is_read_as_json(api: ApiServer, script: ScriptedModel) -> None:
    # `curl -d '{"message":"hi"}'` sends application/x-www-form-urlencoded.
    reply = script.reply = Reply.of("Hi from curl.")
    async with api.client.stream("POST", "/api/v1/chat/stream", content=b'{"message":"hi"}',
                                 headers={"Content-Type": "application/x-www-form-urlencoded"}) as response:
        assert response.status_code == 200
        sse = EventStream(response)
        frames = await sse.rest()
    assert_event_stream(frames, "done")
    assert text_in(frames) == reply.text


async def test_multi_turn_over_the_api(api: ApiServer, script: ScriptedModel, model_server) -> None:
    first = script.reply = Reply.of("Blue.", "A colour.")
    async with api.sse("Name a colour.") as sse:
        frames = await sse.rest()
    conversation_id = frames[0].data["conversation_id"]
    script.reply = Reply.of("Green.")
    async with api.sse("Another?", conversation_id=conversation_id) as sse:
        frames = await sse.rest()
    assert frames[0].data["conversation_id"] == conversation_id and text_in(frames) == "Green."
    sent = model_server.connections[-1].request["messages"]
    assert [(m["role"], m["content"]) for m in sent] == [
        ("user", "Name a colour."), ("assistant", first.text), ("user", "Another?")]


async def test_fallback_to_non_streaming_before_the_first_token(api: ApiServer, script: ScriptedModel,
                                                                model_server) -> None:
    good = Reply.of("Delivered whole.", "Thought whole.")
    script.reply = lambda request: (Reply(status=500, error_message="no streaming today")
                                    if request.get("stream", True) else good)
    async with api.sse() as sse:
        frames = await sse.rest()
    assert_event_stream(frames, "done")
    assert text_in(frames) == good.text and text_in(frames, "think") == good.thinking
    assert frames[-1].data["fallback"] is True
    assert [c.request["stream"] for c in model_server.connections] == [True, False]


# --- failures: one `error` event, partial text kept, never a hang or a 500 -------------------


@pytest.mark.parametrize(("reply", "kind", "partial"), [
    (Reply.of("Half of it").then(Step("error", content="CUDA out of memory")), "model_error", "Half of it"),
    (Reply.of("Half of it").then(Step("drop")), "interrupted", "Half of it"),
    (Reply.of("Half of it").then(Step("stall")), "timeout", "Half of it"),
    (Reply(status=500, error_message="boom"), "model_error", ""),
], ids=["error-line", "dropped", "stalled", "http-500"])
async def test_failures_end_the_event_stream_with_one_error(api: ApiServer, script: ScriptedModel,
                                                            reply: Reply, kind: str, partial: str) -> None:
    script.reply = reply
    async with api.sse() as sse:
        assert sse.response.status_code == 200
        frames = await sse.rest()
    assert_event_stream(frames, "error")
    error = frames[-1].data
    assert error["kind"] == kind and error["message"]
    assert error["status"] in ("error", "timeout")
    assert text_in(frames) == partial
    assert (await api.stream(frames[0].data["stream_id"])).record().text == partial


async def test_model_server_rejecting_the_key_over_sse(api: ApiServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_AI_API_KEY", "wrong-key")
    async with api.sse() as sse:
        frames = await sse.rest()
    assert_event_stream(frames, "error")
    assert frames[-1].data["kind"] == "auth" and "SECRET_AI_API_KEY" in frames[-1].data["message"]


async def test_unreachable_model_server_over_sse(api: ApiServer, service: SecretAIService) -> None:
    port = free_port()  # nobody listens on it
    service.catalog = Catalog(models=[ModelInfo(name="loopback", url=f"http://127.0.0.1:{port}")])
    async with api.sse() as sse:
        frames = await sse.rest()
    assert_event_stream(frames, "error")
    assert frames[-1].data["kind"] == "unreachable" and str(port) in frames[-1].data["message"]
    # No protocol given: SECRET_AI_PROTOCOL=auto asked both APIs, and the error says so.
    assert "/v1/models" in frames[-1].data["message"] and "/api/tags" in frames[-1].data["message"]
    assert frames[-1].data["fallback"] is False


# --- pause / resume / cancel / disconnect ---------------------------------------------------


async def test_pause_sends_keepalives_and_nothing_else_then_resume_delivers_all(
        api: ApiServer, script: ScriptedModel, model_server) -> None:
    reply = script.reply = Reply.of(LONG[:1200], tokens_per_second=150)
    async with api.sse() as sse:
        stream_id = (await sse.next()).data["stream_id"]
        await sse.until("text")
        response = await api.client.post("/api/v1/chat/stream/pause", json={"stream_id": stream_id})
        assert response.status_code == 200 and response.json()["paused"] is True
        await sse.until("paused")
        conn = await model_request(model_server)
        sent, keepalives = conn.chunks_sent, sse.keepalives
        # The model keeps going; the client gets keep-alive comments only.
        await eventually(lambda: conn.chunks_sent >= sent + 20 and sse.keepalives >= keepalives + 2,
                         what="tokens and keep-alives while paused")
        assert sse.pending() == []
        listed = (await api.client.get("/api/v1/chat/streams")).json()
        assert [(s["stream_id"], s["paused"], s["status"]) for s in listed] == [(stream_id, True, "paused")]

        response = await api.client.post("/api/v1/chat/stream/resume", json={"stream_id": stream_id})
        assert response.status_code == 200 and response.json()["paused"] is False
        await sse.rest()
    assert_event_stream(sse.frames, "done")
    assert text_in(sse.frames) == reply.text
    types = [f.type for f in sse.frames]
    assert types.index("paused") < types.index("resumed")


async def test_keepalives_while_waiting_for_the_first_token(api: ApiServer, script: ScriptedModel) -> None:
    assert TEST_LIMITS["sse_keepalive_interval"] == 0.25
    reply = script.reply = Reply.of("Finally.", first_token_delay=1.0)
    async with api.sse() as sse:
        await sse.next()  # start
        first = await sse.next()
        assert first.type == "text" and sse.keepalives >= 1
        frames = await sse.rest()
    assert text_in([first, *frames]) == reply.text


async def test_cancel_closes_the_model_connection_within_half_a_second(api: ApiServer, script: ScriptedModel,
                                                                       model_server) -> None:
    script.reply = Reply.of(LONG, tokens_per_second=50)
    async with api.sse() as sse:
        stream_id = (await sse.next()).data["stream_id"]
        await sse.until("text")
        await sse.until("text")
        conn = await model_request(model_server)
        cancelled_at = time.monotonic()
        response = await api.client.delete(f"/api/v1/chat/stream/{stream_id}")
        assert response.status_code == 200 and response.json()["status"] == "stopped"
        await asyncio.wait_for(conn.closed.wait(), 5)
        assert conn.closed_by_client_at - cancelled_at < 0.5 and not conn.finished
        await sse.rest()
    assert_event_stream(sse.frames, "cancelled")
    record = (await api.stream(stream_id)).record()
    assert record.status is StreamStatus.STOPPED
    assert record.text and record.text == text_in(sse.frames) and LONG.startswith(record.text)
    assert (await api.client.get("/api/v1/chat/streams")).json() == []


async def test_client_disconnect_closes_the_model_connection(api: ApiServer, script: ScriptedModel,
                                                             model_server) -> None:
    assert api.hub.limits.detach_grace == 0.2
    script.reply = Reply.of(LONG, tokens_per_second=50)
    async with api.sse() as sse:
        stream_id = (await sse.next()).data["stream_id"]
        await sse.until("text")
        conn = await model_request(model_server)
    # Leaving the block closed the HTTP response: the browser tab is gone.
    await asyncio.wait_for(conn.closed.wait(), 5)
    assert not conn.finished
    stream = await api.stream(stream_id)
    record = await asyncio.wait_for(stream.wait(), 5)
    assert record.status is StreamStatus.STOPPED and record.text and LONG.startswith(record.text)
    assert [e.type for e in stream.follow().take()][-1] == "cancelled"


async def test_reattach_within_the_grace_period_continues_where_it_left_off(make_api, script: ScriptedModel,
                                                                             model_server) -> None:
    api = await make_api(stream_detach_grace=10)
    reply = script.reply = Reply.of(" ".join(f"w{i}" for i in range(60)), tokens_per_second=60)
    async with api.sse() as sse:
        stream_id = (await sse.next()).data["stream_id"]
        await sse.until("text")
        await sse.until("text")
    seen = list(sse.frames)
    last_id = seen[-1].id
    async with api.attach(stream_id, last_event_id=last_id) as again:
        assert again.response.status_code == 200
        rest = await again.rest()
    assert rest[0].id == last_id + 1, "only later events are replayed"
    assert_event_stream(seen + rest, "done")
    assert text_in(seen + rest) == reply.text
    assert model_server.connections[-1].finished


async def test_reattach_replays_after_last_event_id(api: ApiServer, script: ScriptedModel) -> None:
    script.reply = Reply.of("Replay me from where I was.", "Replayable.")
    async with api.sse() as sse:
        frames = await sse.rest()
    stream_id = frames[0].data["stream_id"]
    for last in (0, 3, len(frames) - 1):
        async with api.attach(stream_id, last_event_id=last) as again:
            replay = await again.rest()
        assert [(f.id, f.data) for f in replay] == [(f.id, f.data) for f in frames[last:]]
    async with api.attach(stream_id) as again:  # no Last-Event-ID: everything
        assert [f.data for f in await again.rest()] == [f.data for f in frames]
    response = await api.client.get(f"/api/v1/chat/stream/{stream_id}", headers={"Last-Event-ID": "seven"})
    assert response.status_code == 422 and response.json()["detail"]["kind"] == "bad_request"


async def test_concurrency_limit_is_a_429_with_a_clear_message(api: ApiServer, script: ScriptedModel) -> None:
    assert TEST_LIMITS["max_concurrent_streams"] == 2
    script.reply = Reply.of(LONG, tokens_per_second=20)
    async with api.sse("one") as first, api.sse("two") as second:
        ids = [(await first.next()).data["stream_id"], (await second.next()).data["stream_id"]]
        response = await api.client.post("/api/v1/chat/stream", json={"message": "three"})
        assert response.status_code == 429
        detail = response.json()["detail"]
        assert detail["kind"] == "too_many_streams" and "MAX_CONCURRENT_STREAMS" in detail["message"]
        assert "limit 2" in detail["message"]
        response = await api.client.post("/api/v1/chat", json={"message": "three"})
        assert response.status_code == 429
        for stream_id in ids:
            assert (await api.client.delete(f"/api/v1/chat/stream/{stream_id}")).status_code == 200
        assert [f.type for f in await first.rest()][-1] == "cancelled"
        assert [f.type for f in await second.rest()][-1] == "cancelled"
    script.reply = Reply.of("Room again.")
    async with api.sse("four") as sse:
        assert text_in(await sse.rest()) == "Room again."


# --- non-streaming ----------------------------------------------------------------------------


async def test_non_streaming_chat(api: ApiServer, script: ScriptedModel, model_server) -> None:
    reply = script.reply = Reply.of("The whole answer at once.", "Thinking at once.")
    response = await api.client.post("/api/v1/chat", json={"message": "hi"})
    assert response.status_code == 200
    body = response.json()
    assert (body["text"], body["think"], body["status"], body["model"]) == (
        reply.text, reply.thinking, "completed", "loopback")
    assert body["stream_id"] and body["conversation_id"] and body["metadata"]["streaming"] is False
    assert model_server.connections[-1].request["stream"] is False
    # The stored answer's id, so a program can read it back and fetch its proof.
    stored = (await api.client.get(f"/api/v1/conversations/{body['conversation_id']}")).json()["messages"]
    assert body["message_id"] == stored[-1]["id"] and stored[-1]["role"] == "assistant"
    proof = await api.client.get(f"/api/v1/conversations/{body['conversation_id']}/messages/"
                                 f"{body['message_id']}/proof")
    assert proof.status_code == 200
    assert proof.json()["proof"]["message_id"] == body["message_id"]
    assert proof.json()["proof"]["answer"]["text"] == reply.text


async def test_proofs_of_a_missing_message_and_of_a_question_say_so_plainly(api: ApiServer) -> None:
    body = (await api.client.post("/api/v1/chat", json={"message": "hi"})).json()
    conversation_id = body["conversation_id"]
    base = f"/api/v1/conversations/{conversation_id}/messages"
    missing = await api.client.get(f"{base}/no-such-id/proof")
    assert missing.status_code == 404
    assert missing.json()["detail"] == {"message": "No message 'no-such-id' in this conversation.",
                                        "kind": "not_found"}
    question = (await api.client.get(f"/api/v1/conversations/{conversation_id}")).json()["messages"][0]
    assert question["role"] == "user"
    asked = await api.client.get(f"{base}/{question['id']}/proof")
    assert asked.status_code == 404
    assert asked.json()["detail"] == {"message": f"Message {question['id']} is a question; only answers have "
                                                 "proofs.", "kind": "no_proof"}
    assert (await api.client.get(f"{base}/{body['message_id']}/proof")).status_code == 200


async def test_non_streaming_failure_is_a_clear_error_not_a_500(api: ApiServer,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_AI_API_KEY", "wrong-key")
    response = await api.client.post("/api/v1/chat", json={"message": "hi"})
    assert response.status_code == 502
    assert response.json()["error"]["kind"] == "auth"
    assert "SECRET_AI_API_KEY" in response.json()["error"]["message"]


async def test_non_streaming_stall_is_a_504(make_api, script: ScriptedModel) -> None:
    api = await make_api(stream_first_token_timeout=0.8)
    script.reply = Reply(steps=[Step("stall")])
    response = await api.client.post("/api/v1/chat", json={"message": "hi"})
    assert response.status_code == 504 and response.json()["error"]["kind"] == "timeout"
