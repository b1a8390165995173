"""What only whole processes show: `python main.py` in a subprocess on a real SQLite file, stopped,
killed with -9 and started again on the same data dir, driven over HTTP.

The model is the loopback Ollama-protocol server in the test process; the app reaches it over TCP
with the real ChatSecret stack, like it would reach Secret AI.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from secretgpt.hub.deadlines import StreamLimits
from secretgpt.services.loopback_model import Reply

from tests.support.app_process import AppProcess
from tests.support.scripted_model import ScriptedModel
from tests.support.sse import event_stream

MODEL = "process-model"
MODEL_KEY = "process-test-model-key"

# How often an answer is saved while it streams (the app uses the default) ...
CHECKPOINT_INTERVAL = StreamLimits().checkpoint_interval
# ... and so the most a kill -9 may lose: the text delivered since the last checkpoint, at most one
# interval, plus 1 s for that checkpoint's write to land and for a loaded 2-core box to schedule it.
MAX_LOSS_SECONDS = CHECKPOINT_INTERVAL + 1.0


@pytest.fixture
async def model() -> AsyncIterator[ScriptedModel]:
    scripted = await ScriptedModel(Reply.of("A default answer.", "Default reasoning."), api_key=MODEL_KEY,
                                   models=[MODEL]).start()
    yield scripted
    await scripted.stop()


Launch = Callable[..., AppProcess]


@pytest.fixture
def launch(tmp_path: Path, model: ScriptedModel) -> Iterator[Launch]:
    """`launch(**env)`: an app on this test's data dir (not started). Each call is a new process on
    the same data dir and port, as a restart would be."""
    apps: list[AppProcess] = []
    port: list[int] = []

    def make(**env: str) -> AppProcess:
        app = AppProcess(tmp_path / "data", tmp_path / "work", model_url=model.server.url, model=MODEL,
                         model_api_key=MODEL_KEY, port=port[0] if port else None, env=env)
        port[:1] = [app.port]
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.cleanup()


def words(n: int, stem: str = "w") -> str:
    return " ".join(f"{stem}{i}" for i in range(n))


async def conversation(client: httpx.AsyncClient, conversation_id: str) -> dict[str, Any]:
    response = await client.get(f"/api/v1/conversations/{conversation_id}")
    assert response.status_code == 200, response.text
    return response.json()


async def chat(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await client.post("/api/v1/chat", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def sigterm_exit(code: int) -> bool:
    # uvicorn shuts down gracefully, then re-raises the signal it caught: -15 is a clean exit.
    return code in (0, -signal.SIGTERM)


# --- persistence across a restart ------------------------------------------------------------------


async def test_a_conversation_survives_a_restart_and_the_model_sees_all_of_it(
        launch: Launch, model: ScriptedModel) -> None:
    first = Reply.of("Paris is the capital of France.", "The user asks about geography.", tokens_per_second=200)
    second = Reply.of("About 2.1 million people live in the city proper.", "Population, not the metro area.")
    third = Reply.of("The Seine.")
    model.replies.extend([first, second, third])
    q1, q2, q3 = "What is the capital of France?", "How many people live there?", "Which river runs through it?"

    app = await launch().start()
    async with app.client() as client:
        async with event_stream(client, {"message": q1}) as sse:  # turn one streamed ...
            await sse.ended(30)
        assert sse.ended_cleanly and sse.frames[-1].type == "done", sse.frames[-1:]
        conversation_id = sse.frames[0].data["conversation_id"]
        streamed = sse.frames[-1].data
        assert (sse.text("think"), sse.text()) == (first.thinking, first.text)
        whole = await chat(client, message=q2, conversation_id=conversation_id)  # ... turn two not
        assert (whole["think"], whole["text"]) == (second.thinking, second.text)
        before = await conversation(client, conversation_id)
        # Read right after `done` / the response: both answers are already stored as they ended.
        assert [(m["status"], m["content"]) for m in before["messages"][1::2]] == [
            ("completed", first.text), ("completed", second.text)]
        listed_before = (await client.get("/api/v1/conversations")).json()
    assert sigterm_exit(await app.terminate())

    app = await launch().start()
    async with app.client() as client:
        after = await conversation(client, conversation_id)
        assert after == before, "the stored conversation changed across the restart"
        assert (await client.get("/api/v1/conversations")).json() == listed_before
        assert [s["id"] for s in listed_before] == [conversation_id]
        assert listed_before[0]["title"] == q1 and listed_before[0]["message_count"] == 4

        messages = after["messages"]
        assert [(m["role"], m["content"]) for m in messages] == [
            ("user", q1), ("assistant", first.text), ("user", q2), ("assistant", second.text)]
        assert_stored_as_reported(messages[1], first, streamed)
        assert_stored_as_reported(messages[3], second, whole["metadata"])
        assert messages[1]["metadata"]["streaming"] is True and messages[3]["metadata"]["streaming"] is False
        assert messages[1]["metadata"]["think_seconds"] is not None

        # The restarted app sends the model the whole thread: answers' text, never their reasoning.
        answer = await chat(client, message=q3, conversation_id=conversation_id)
        assert answer["text"] == third.text and answer["conversation_id"] == conversation_id
        request = model.connections[-1].request
        assert [(m["role"], m["content"]) for m in request["messages"]] == [
            ("user", q1), ("assistant", first.text), ("user", q2), ("assistant", second.text), ("user", q3)]
        sent = json.dumps(request)
        assert first.thinking not in sent and second.thinking not in sent
        grown = await conversation(client, conversation_id)
        assert grown["messages"][:4] == messages
        assert [m["content"] for m in grown["messages"][4:]] == [q3, third.text]
    assert sigterm_exit(await app.terminate())


def assert_stored_as_reported(stored: dict[str, Any], reply: Reply, reported: dict[str, Any]) -> None:
    """A stored answer holds what its stream reported when it ended."""
    meta = stored["metadata"]
    assert stored["think"] == reply.thinking
    assert stored["status"] == "completed" and stored["stream_id"] == reported["stream_id"]
    assert meta["model"] == MODEL
    # Token counts as the model reported them (the loopback counts one per chunk) ...
    assert meta["completion_tokens"] == len(reply.steps) == reported["completion_tokens"]
    assert meta["prompt_tokens"] == reported["prompt_tokens"] is not None
    # ... and the rest of what was reported when the answer ended.
    for key in ("started_at", "first_token_at", "ended_at", "time_to_first_token", "think_seconds",
                "chunks", "done_reason", "streaming"):
        assert meta[key] == reported[key], key


# --- kill -9 mid-answer -------------------------------------------------------------------------------


async def test_kill_9_mid_answer_loses_at_most_the_last_checkpoint_interval(
        launch: Launch, model: ScriptedModel) -> None:
    reply = Reply.of(words(400), "Counting slowly, one word at a time.", tokens_per_second=20)
    model.replies.append(reply)
    app = await launch().start()
    async with app.client() as client, event_stream(client, {"message": "Count to 400, slowly."}) as sse:
        # >= 120 words: 6 s of text at 20 tok/s, so three checkpoints have been written.
        await sse.wait_for(lambda: sse.count("text") >= 120, 30, "120 words")
        first_text = sse.first("text")
        assert first_text is not None and time.monotonic() - first_text.at >= 2.5 * CHECKPOINT_INTERVAL
        killed_at = time.monotonic()
        assert await app.kill() == -signal.SIGKILL
        # The client sees the connection drop, promptly: not a hang, not a clean end.
        await sse.ended(10)
    assert sse.error is not None and not sse.ended_cleanly, "the event stream ended as if nothing happened"
    # "peer closed connection without sending complete message body" (or a reset).
    assert isinstance(sse.error, (httpx.RemoteProtocolError, httpx.ReadError)), repr(sse.error)
    assert sse.ended_at is not None and sse.ended_at - killed_at < 5
    assert not any(f.type in ("done", "cancelled", "error") for f in sse.frames)
    # The model connection died with the app rather than streaming into the void.
    connection = model.connections[-1]
    await asyncio.wait_for(connection.closed.wait(), 10)
    assert not connection.finished and connection.chunks_sent < len(reply.steps)

    conversation_id, stream_id = sse.frames[0].data["conversation_id"], sse.frames[0].data["stream_id"]
    received = sse.text()
    assert reply.text.startswith(received) and sse.text("think") == reply.thinking

    app = await launch().start()
    async with app.client() as client:
        stored = await conversation(client, conversation_id)
        assert [m["role"] for m in stored["messages"]] == ["user", "assistant"]
        assert stored["messages"][0]["content"] == "Count to 400, slowly."
        answer = stored["messages"][1]
        assert answer["status"] == "interrupted" and answer["stream_id"] == stream_id
        assert answer["metadata"]["model"] == MODEL
        saved = answer["content"]
        # Never more than the client was sent, never less than what it had MAX_LOSS_SECONDS before the kill.
        assert received.startswith(saved), "the stored text is not a prefix of what the client received"
        floor = sse.text(before=killed_at - MAX_LOSS_SECONDS)
        assert len(floor) > 100 and saved.startswith(floor), (
            f"lost more than {MAX_LOSS_SECONDS:g} s: stored {len(saved)} chars, received {len(received)}, "
            f"had {len(floor)} by {MAX_LOSS_SECONDS:g} s before the kill")
        assert answer["think"] == reply.thinking
        summary = (await client.get("/api/v1/conversations")).json()
        assert [s["id"] for s in summary] == [conversation_id]

        # An interrupted answer can be continued after the restart: the model gets the partial
        # answer as the last turn, and the continuation is appended to it.
        model.replies.append(Reply.of(" and the rest."))
        continued = await chat(client, conversation_id=conversation_id, continue_from=answer["id"])
        assert continued["status"] == "completed" and continued["text"] == saved + " and the rest."
        sent = model.connections[-1].request["messages"]
        assert [(m["role"], m["content"]) for m in sent] == [("user", "Count to 400, slowly."), ("assistant", saved)]
        thread = (await conversation(client, conversation_id))["messages"]
        assert thread[-1]["content"] == saved + " and the rest." and len(thread[-1]["sibling_ids"]) == 2
    assert sigterm_exit(await app.terminate())


async def test_sigterm_mid_answer_exits_promptly_and_keeps_everything_streamed(
        launch: Launch, model: ScriptedModel) -> None:
    """A graceful stop does better than a crash: the answer is saved whole (not from its last
    checkpoint) and marked interrupted with the reason, and an open SSE stream cannot hold the
    shutdown for as long as the answer would take (uvicorn's graceful limit, 5 s)."""
    reply = Reply.of(words(400), tokens_per_second=20)  # 20 s: far longer than the shutdown may take
    model.replies.append(reply)
    app = await launch().start()
    async with app.client() as client, event_stream(client, {"message": "Count, and be stopped."}) as sse:
        await sse.wait_for(lambda: sse.count("text") >= 30, 30, "30 words")
        stopping = time.monotonic()
        assert sigterm_exit(await app.terminate(timeout=20))
        took = time.monotonic() - stopping
        await sse.ended(10)
    assert took < 12, f"SIGTERM took {took:.1f} s with an SSE stream open"
    assert sse.error is not None or sse.frames[-1].type == "error", "the client was not told"
    connection = model.connections[-1]
    await asyncio.wait_for(connection.closed.wait(), 10)
    assert not connection.finished
    received = sse.text()

    app = await launch().start()
    async with app.client() as client:
        answer = (await conversation(client, sse.frames[0].data["conversation_id"]))["messages"][-1]
    assert answer["status"] == "interrupted"
    assert answer["content"].startswith(received) and reply.text.startswith(answer["content"]), (
        f"stored {len(answer['content'])} chars, the client had {len(received)}")
    assert answer["metadata"]["error_kind"] == "interrupted" and "shut down" in answer["metadata"]["error"]
    assert answer["metadata"]["ended_at"] is not None
    assert sigterm_exit(await app.terminate())


# --- the API's conversations belong to its token ------------------------------------------------------


async def test_a_wrong_token_reads_nothing_and_unknown_ids_are_404(launch: Launch, model: ScriptedModel) -> None:
    app = await launch().start()
    async with app.client() as client, app.client("not-the-token") as intruder, \
            httpx.AsyncClient(base_url=app.url, timeout=30) as anonymous:
        made = await chat(client, message="Keep this between us.")
        conversation_id = made["conversation_id"]
        original = await conversation(client, conversation_id)
        routes = [("GET", f"/api/v1/conversations/{conversation_id}", None),
                  ("GET", f"/api/v1/conversations/{conversation_id}/export", None),
                  ("GET", f"/api/v1/conversations/{conversation_id}/export?format=markdown", None),
                  ("PATCH", f"/api/v1/conversations/{conversation_id}", {"title": "Taken over"}),
                  ("DELETE", f"/api/v1/conversations/{conversation_id}", None),
                  ("GET", "/api/v1/conversations", None),
                  ("GET", "/api/v1/conversations/export", None)]
        for who in (intruder, anonymous):
            for method, path, body in routes:
                response = await who.request(method, path, json=body)
                assert response.status_code == 401, (method, path, response.status_code)
                assert response.json()["detail"]["kind"] == "unauthorized"
                assert "Keep this" not in response.text
        assert await conversation(client, conversation_id) == original  # neither renamed nor deleted

        for method, path, body in routes[:5]:
            path = path.replace(conversation_id, "0123456789abcdef0123456789abcdef")
            response = await client.request(method, path, json=body)
            assert response.status_code == 404, (method, path, response.status_code)
            assert response.json()["detail"]["kind"] == "not_found"
            assert "0123456789abcdef0123456789abcdef" in response.json()["detail"]["message"]
    assert sigterm_exit(await app.terminate())

    # Restarted with another token on the same data dir: the old token's conversations are not its own.
    original_token = app.api_token
    app = await launch(SECRETGPT_API_TOKEN="a-rotated-token").start()
    async with app.client() as client, app.client(original_token) as old:
        assert (await old.get(f"/api/v1/conversations/{conversation_id}")).status_code == 401
        assert (await client.get("/api/v1/conversations")).json() == []
        response = await client.get(f"/api/v1/conversations/{conversation_id}")
        assert response.status_code == 404 and response.json()["detail"]["kind"] == "not_found"
        assert (await client.get(f"/api/v1/conversations/{conversation_id}/export")).status_code == 404
        assert (await client.delete(f"/api/v1/conversations/{conversation_id}")).status_code == 404
        assert (await client.get("/api/v1/conversations/export")).json()["conversations"] == []
        theirs = (await chat(client, message="A rotated token's own chat."))["conversation_id"]
    assert sigterm_exit(await app.terminate())

    # Back on the original token: its conversation is intact, the other one is not visible.
    app = await launch().start()
    assert app.api_token == original_token
    async with app.client() as client:
        assert await conversation(client, conversation_id) == original
        assert [s["id"] for s in (await client.get("/api/v1/conversations")).json()] == [conversation_id]
        assert (await client.get(f"/api/v1/conversations/{theirs}")).status_code == 404
    assert sigterm_exit(await app.terminate())
