"""A final save that fails is reported, not hidden, and retried until it lands.

The store's write is patched at the storage boundary (the real store underneath, the real API
and model server around it); tests/test_security_process.py fills a real tmpfs instead.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from secretgpt.records import StreamRecord, StreamStatus
from secretgpt.services.loopback_model import Reply
from secretgpt.storage import SqlConversationStore
from tests.conftest import ApiServer, eventually
from tests.support.scripted_model import ScriptedModel

DISK_FULL = OperationalError("UPDATE messages SET content=? ...", ("the secret answer",),
                             Exception("database or disk is full"))


class FailingSaves:
    """Wraps the store's save_answer: the final save (a record that has ended) fails `times` times."""

    def __init__(self, save: Callable[..., Awaitable[str]], times: int) -> None:
        self.save = save
        self.left = times
        self.final_attempts = 0

    async def __call__(self, record: StreamRecord, **kwargs: Any) -> str:
        if record.status.ended:
            self.final_attempts += 1
            if self.left > 0:
                self.left -= 1
                raise DISK_FULL
        return await self.save(record, **kwargs)


@pytest.fixture
def failing(api: ApiServer, store: SqlConversationStore,
            monkeypatch: pytest.MonkeyPatch) -> Callable[[int], FailingSaves]:
    def make(times: int) -> FailingSaves:
        wrapper = FailingSaves(store.save_answer, times)
        monkeypatch.setattr(store, "save_answer", wrapper)
        api.hub.save_retrier.first_delay = 0.05
        return wrapper

    return make


async def test_a_failed_final_save_ends_the_stream_with_a_storage_error_and_is_retried(
        api: ApiServer, script: ScriptedModel, failing: Callable[[int], FailingSaves],
        caplog: pytest.LogCaptureFixture) -> None:
    reply = script.reply = Reply.of("Every word of this answer arrived.", "Reasoning too.")
    saves = failing(3)
    caplog.set_level(logging.INFO)
    async with api.sse("Will it be kept?") as sse:
        frames = await sse.rest()
    final = frames[-1]
    assert final.type == "error" and final.data["kind"] == "storage", final.data
    assert "could not be saved" in final.data["message"] and "database or disk is full" in final.data["message"]
    assert final.data["status"] == "error"
    assert not any(f.type == "done" for f in frames)
    # Everything streamed was delivered: the client has the answer even though storage does not.
    assert "".join(f.data["content"] for f in frames if f.type == "text") == reply.text
    stream = await api.stream(frames[0].data["stream_id"])
    assert stream.status is StreamStatus.ERROR and stream.text == reply.text

    # In the background: two more failures, then the save lands, as the answer was when it ended.
    await eventually(lambda: not api.hub.save_retrier.pending, timeout=10, what="the retried save")
    assert saves.final_attempts == 4
    stored = await api.hub.conversation(frames[0].data["conversation_id"], owner=stream.owner)
    answer = stored.messages[-1]
    assert (answer.content, answer.think, answer.status) == (reply.text, reply.thinking, StreamStatus.COMPLETED)
    assert "saved after all (attempt 4)" in caplog.text
    # The log names the cause, never the SQL parameters (they carry message text).
    assert "the secret answer" not in caplog.text


async def test_the_non_streaming_api_says_500_with_the_text_when_the_save_fails(
        api: ApiServer, script: ScriptedModel, failing: Callable[[int], FailingSaves]) -> None:
    reply = script.reply = Reply.of("Kept in the response at least.")
    failing(1)
    response = await api.client.post("/api/v1/chat", json={"message": "hi"})
    assert response.status_code == 500, response.text
    body = response.json()
    assert body["text"] == reply.text and body["status"] == "error"
    assert body["error"]["kind"] == "storage" and "could not be saved" in body["error"]["message"]
    await eventually(lambda: not api.hub.save_retrier.pending, timeout=10, what="the retried save")


async def test_an_answer_still_unsaved_at_shutdown_gets_one_last_try(
        api: ApiServer, script: ScriptedModel, failing: Callable[[int], FailingSaves]) -> None:
    script.reply = Reply.of("Saved on the way out.")
    saves = failing(1)
    api.hub.save_retrier.first_delay = 3600  # the background retry would not come in time
    async with api.sse("hi") as sse:
        frames = await sse.rest()
    assert frames[-1].data["kind"] == "storage"
    assert api.hub.save_retrier.pending
    await api.hub.shutdown()
    assert saves.final_attempts == 2 and not api.hub.save_retrier.pending
    stored = await api.hub.conversation(frames[0].data["conversation_id"],
                                        owner=(await api.stream(frames[0].data["stream_id"])).owner)
    assert stored.messages[-1].content == "Saved on the way out."
