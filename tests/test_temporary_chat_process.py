"""A temporary chat in a real `python main.py`, over its API: answered as usual (follow-ups,
regenerate), never written to disk — no file of the data dir or the working directory (the
database, its -wal and -shm, NiceGUI's storage, anything) holds a byte of its question or answer,
while it is open, after it is deleted and after the process ends; and with Redis, no key there
holds it either."""

from __future__ import annotations

from pathlib import Path

import redis.asyncio as aioredis

from secretgpt.services.loopback_model import Reply
from tests.support.scripted_model import ScriptedModel
from tests.support.servers import RedisServer
from tests.support.sse import event_stream
from tests.test_app_process import Launch, launch, model, sigterm_exit  # noqa: F401
from tests.test_deleted_text import files_holding

QUESTION = "TMPQUESTION-6021"
ANSWER = "TMPANSWER-3390"
FOLLOW_UP = "TMPFOLLOWUP-8127"
SECRETS = (QUESTION, ANSWER, FOLLOW_UP, QUESTION.lower(), ANSWER.lower(), "tmpanswer", "tmpquestion")
KEPT = "KEPTMARKER-1188"


def anywhere(*folders: Path, text: str) -> list[str]:
    return [name for folder in folders if folder.exists() for name in files_holding(folder, text)]


async def test_a_temporary_chat_leaves_no_byte_on_disk(launch: Launch, model: ScriptedModel) -> None:
    model.replies.extend([Reply.of(f"{ANSWER} " * 200, "TMPREASON-5550 " * 20), Reply.of(f"{ANSWER} again"),
                          Reply.of(f"A stored answer {KEPT}")])
    app = await launch().start()
    folders = (app.data_dir, app.workdir)
    async with app.client() as client:
        async with event_stream(client, {"message": f"{QUESTION} " * 100, "temporary": True}) as sse:
            await sse.ended(30)
        conversation_id = sse.frames[0].data["conversation_id"]
        assert sse.frames[-1].type == "done", sse.frames[-1]
        # A follow-up in it is temporary too.
        followed = await client.post("/api/v1/chat", json={"message": FOLLOW_UP, "conversation_id": conversation_id})
        assert followed.status_code == 200, followed.text
        assert followed.json()["text"] == f"{ANSWER} again"
        # A stored conversation beside it, so the scan below sees what is written.
        stored = await client.post("/api/v1/chat", json={"message": f"Stored question {KEPT}"})
        assert stored.status_code == 200, stored.text

        got = (await client.get(f"/api/v1/conversations/{conversation_id}")).json()
        assert got["temporary"] is True
        assert [m["content"].split()[0] for m in got["messages"]] == [QUESTION, ANSWER, FOLLOW_UP, ANSWER]
        listed = (await client.get("/api/v1/conversations")).json()
        assert conversation_id not in [c["id"] for c in listed]
        assert (await client.get("/api/v1/conversations", params={"search": "tmpanswer"})).json() == []
        refused = await client.get(f"/api/v1/conversations/{conversation_id}/export")
        assert refused.status_code == 422 and "temporary" in refused.json()["detail"]["message"]
        assert QUESTION not in (await client.get("/api/v1/conversations/export")).text

        assert anywhere(*folders, text=KEPT)  # the scan sees what the app writes
        for secret in SECRETS:
            assert anywhere(*folders, text=secret) == [], secret

        assert (await client.delete(f"/api/v1/conversations/{conversation_id}")).status_code == 200
        assert (await client.get(f"/api/v1/conversations/{conversation_id}")).status_code == 404
    assert sigterm_exit(await app.terminate())
    for secret in SECRETS:
        assert anywhere(*folders, text=secret) == [], secret


async def test_a_temporary_chat_stays_out_of_redis(launch: Launch, model: ScriptedModel, redis: RedisServer) -> None:
    model.replies.append(Reply.of(f"{ANSWER} " * 50))
    app = await launch(SECRETGPT_REDIS_URL=redis.url).start()
    async with app.client() as client:
        async with event_stream(client, {"message": QUESTION, "temporary": True}) as sse:
            await sse.ended(30)
        assert sse.frames[-1].type == "done", sse.frames[-1]
        stream_id = sse.frames[0].data["stream_id"]
        # Re-attaching works on the instance that answers it.
        again = await client.get(f"/api/v1/chat/stream/{stream_id}")
        assert again.status_code == 200 and again.text.count("\"type\":\"text\"") > 1 and "\"type\":\"done\"" in again.text
        found = []
        connection = aioredis.from_url(redis.url)
        try:
            async for key in connection.scan_iter(count=1000):
                dumped = await connection.dump(key) or b""
                if QUESTION.encode() in dumped or ANSWER.encode() in dumped or stream_id.encode() in key:
                    found.append(key)
        finally:
            await connection.aclose()
        assert found == []
    assert sigterm_exit(await app.terminate())
