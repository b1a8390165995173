"""A large import file does not freeze the server: the 20 000-message chain that took 26 s (and
held every other request up to 24.8 s) imports in seconds through a real `python main.py`, while
other requests are answered; a file over the cap is refused up front, naming it."""

from __future__ import annotations

import asyncio
import json
import statistics
import time

import httpx

from secretgpt.storage.export import MAX_IMPORT_CONVERSATIONS, MAX_IMPORT_MESSAGES
from tests.support.big_exports import AT, chain
from tests.test_app_process import Launch, launch, model, sigterm_exit  # noqa: F401

SENTENCE = "A question and its answer, of a length. "  # 20 000 messages: 4.9 MB, as in the issue
IMPORT_SECONDS = 5.0
# The target is 200 ms; on this shared 2-core box an idle event loop already sees 100 ms hiccups,
# so the bound is generous — and still ~50 times below the 24.8 s waits it replaces.
OTHER_REQUEST_SECONDS = 0.5


async def timed_gets(client: httpx.AsyncClient, until: asyncio.Task, latencies: list[float]) -> None:
    """GET the conversation list again and again until `until` is done, timing each."""
    while not until.done():
        started = time.perf_counter()
        response = await client.get("/api/v1/conversations")
        latencies.append(time.perf_counter() - started)
        assert response.status_code == 200, response.text
        await asyncio.sleep(0.02)


async def test_a_20000_message_chain_imports_in_seconds_while_other_requests_are_answered(launch: Launch) -> None:
    body = json.dumps(chain(20_000, text=SENTENCE)).encode()
    assert 4_500_000 < len(body) < 5_500_000
    app = await launch().start()
    async with app.client() as uploader, app.client() as other:
        await other.get("/api/v1/conversations")  # its connection is open before the import starts
        started = time.perf_counter()
        upload = asyncio.create_task(uploader.post("/api/v1/conversations/import", content=body))
        latencies: list[float] = []
        await timed_gets(other, upload, latencies)
        response = await upload
        took = time.perf_counter() - started
        assert response.status_code == 200, response.text
        print(f"import: {took:.2f} s; {len(latencies)} GETs meanwhile, median "
              f"{statistics.median(latencies) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms")
        assert took < IMPORT_SECONDS
        assert len(latencies) >= 5, "the other requests ran while the import did"
        assert max(latencies) < OTHER_REQUEST_SECONDS

        [conversation_id] = response.json()["conversation_ids"]
        thread = (await other.get(f"/api/v1/conversations/{conversation_id}")).json()["messages"]
        assert len(thread) == 20_000 and thread[-1]["content"] == f"{SENTENCE}message 19999"
        assert (await other.delete(f"/api/v1/conversations/{conversation_id}")).status_code == 200
    assert sigterm_exit(await app.terminate())


async def test_a_file_over_the_cap_is_refused_before_any_work_naming_the_cap(launch: Launch) -> None:
    too_many = chain(MAX_IMPORT_MESSAGES + 1)
    empty = chain(0)["conversation"]
    many_conversations = {"format": "secretgpt.conversations", "version": 1, "app_version": "0.1.0",
                          "exported_at": AT, "conversations": [empty] * (MAX_IMPORT_CONVERSATIONS + 1)}
    app = await launch().start()
    async with app.client() as client:
        for doc, words in [(too_many, f"holds {MAX_IMPORT_MESSAGES + 1:,} messages; SecretGPT imports at most "
                                      f"{MAX_IMPORT_MESSAGES:,} messages per file"),
                           (many_conversations, f"at most {MAX_IMPORT_CONVERSATIONS:,} conversations per file")]:
            started = time.perf_counter()
            response = await client.post("/api/v1/conversations/import", content=json.dumps(doc).encode())
            assert response.status_code == 413, response.text
            assert response.json()["detail"]["kind"] == "too_large"
            assert words in response.json()["detail"]["message"]
            print(f"refused in {time.perf_counter() - started:.2f} s")
        # A file at the cap is imported.
        at_cap = chain(MAX_IMPORT_MESSAGES)
        response = await client.post("/api/v1/conversations/import", content=json.dumps(at_cap).encode())
        assert response.status_code == 200, response.text
        assert (await client.get("/api/v1/conversations")).json()[0]["message_count"] == MAX_IMPORT_MESSAGES
    assert sigterm_exit(await app.terminate())
