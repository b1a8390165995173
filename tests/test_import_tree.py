"""Import files of any shape cost linear time, off the event loop: long chains, children listed
before their parents, parent_id loops; a thread deeper than SQLite's trigger limit can be deleted;
lone surrogates in a file become U+FFFD instead of failing."""

from __future__ import annotations

import asyncio
import gc
import json
import time
from collections.abc import Awaitable, Callable, Iterator
from types import SimpleNamespace

import pytest

from secretgpt.records import InvalidImport
from secretgpt.storage import SqlConversationStore
from secretgpt.storage.tree_shape import parents_first, tree_problem
from tests.support.big_exports import chain

OWNER = "owner"
# An idle event loop on this shared 2-core box already sees 100 ms hiccups; parsing 20 000 messages
# on the loop took 26 s.
LOOP_GAP_SECONDS = 0.5


@pytest.fixture
async def store(make_store: Callable[[], Awaitable[SqlConversationStore]]) -> SqlConversationStore:
    """On SQLite and on PostgreSQL (tests/conftest.py)."""
    return await make_store()


async def longest_gap(work: asyncio.Future) -> float:
    """The longest the event loop went without running this coroutine while `work` ran."""
    gap, last = 0.0, time.perf_counter()
    while not work.done():
        await asyncio.sleep(0.005)
        now = time.perf_counter()
        gap, last = max(gap, now - last), now
    await work
    return gap


@pytest.fixture
def frozen_start_up() -> Iterator[None]:
    """As the app does once it has started (interfaces/app.py): what exists so far is left out of
    full garbage collections, which here would walk everything every test module made."""
    gc.freeze()
    yield
    gc.unfreeze()


@pytest.mark.usefixtures("frozen_start_up")
async def test_the_preview_and_the_import_leave_the_event_loop_free(store: SqlConversationStore) -> None:
    # The page's import dialog previews a file (the same check) before importing it.
    body = json.dumps(chain(20_000, text="Some words of a message. ")).encode()
    preview = asyncio.ensure_future(store.preview_import(OWNER, body))
    gaps = [await longest_gap(preview)]
    [candidate] = preview.result()
    assert candidate.message_count == 20_000
    imported = asyncio.ensure_future(store.import_json(OWNER, body))
    gaps.append(await longest_gap(imported))
    [conversation_id] = imported.result()
    export = asyncio.ensure_future(store.export_json(conversation_id, OWNER))
    gaps.append(await longest_gap(export))
    assert len(export.result()["conversation"]["messages"]) == 20_000
    print("longest the loop waited (preview, import, export):", [f"{gap * 1000:.0f} ms" for gap in gaps])
    assert max(gaps) < LOOP_GAP_SECONDS


async def test_children_listed_before_their_parents_keep_their_order(store: SqlConversationStore) -> None:
    doc = chain(20_000)
    doc["conversation"]["messages"].reverse()  # every message waits for the one after it
    # Two alternatives under the root, listed in this order: they stay in it.
    at = doc["conversation"]["messages"][0]["created_at"]
    doc["conversation"]["messages"][:0] = [
        {"id": f"alt{i}", "parent_id": "m0", "role": "assistant", "content": f"alternative {i}",
         "created_at": at, "updated_at": at} for i in (1, 2)]
    started = time.perf_counter()
    [conversation_id] = await store.import_json(OWNER, doc)
    assert time.perf_counter() - started < 10
    conversation = await store.get(conversation_id, OWNER)
    assert [m.content for m in conversation.messages[:3]] == ["message 0", "message 1", "message 2"]
    assert len(conversation.messages) == 20_000
    siblings = conversation.messages[1].sibling_ids
    assert len(siblings) == 3
    alternatives = [(await store.message(conversation_id, OWNER, s)).content for s in siblings]
    assert alternatives == ["alternative 1", "alternative 2", "message 1"]


def test_a_loop_is_named_by_a_message_on_it() -> None:
    doc = chain(6)["conversation"]
    messages = doc["messages"]
    messages[2]["parent_id"] = "m4"  # m2 -> m3 -> m4 -> m2, and m5 hangs under the loop
    nodes = [SimpleNamespace(**m) for m in messages]
    assert [n.id for n in parents_first(nodes)] == ["m0", "m1"]
    assert tree_problem(nodes) in {f"message 'm{i}' is its own ancestor (parent_id loop)" for i in (2, 3, 4)}


async def test_a_long_loop_is_refused_quickly(store: SqlConversationStore) -> None:
    doc = chain(20_000)
    doc["conversation"]["messages"][0]["parent_id"] = "m19999"
    started = time.perf_counter()
    with pytest.raises(InvalidImport, match="own ancestor"):
        await store.import_json(OWNER, doc)
    assert time.perf_counter() - started < 10
    assert await store.list_conversations(OWNER) == []


async def test_a_thread_deeper_than_sqlites_trigger_limit_can_be_deleted(store: SqlConversationStore) -> None:
    # Deleting the root used to cascade one nested trigger per message: "too many levels of trigger
    # recursion" past 1 000.
    [conversation_id] = await store.import_json(OWNER, chain(2_500))
    # Its thread is read by ids, a bounded number per IN (...) (PostgreSQL takes 32 767 parameters).
    assert len((await store.get(conversation_id, OWNER)).messages) == 2_500
    await store.delete(conversation_id, OWNER)
    assert await store.list_conversations(OWNER) == []


@pytest.mark.parametrize("encoded", ["escape", "utf-8 bytes"])
async def test_lone_surrogates_in_a_file_become_replacement_characters(store: SqlConversationStore,
                                                                       encoded: str) -> None:
    doc = chain(2)
    doc["conversation"]["title"] = "Title \ud800"
    doc["conversation"]["messages"][1].update(content="Odd \udfff text",
                                               metadata={"model": "m\udc00", "x": ["\ud83d"]})
    body = json.dumps(doc).encode() if encoded == "escape" else \
        json.dumps(doc, ensure_ascii=False).encode("utf-8", "surrogatepass")
    assert (b"\\ud800" if encoded == "escape" else "\ud800".encode("utf-8", "surrogatepass")) in body
    [conversation_id] = await store.import_json(OWNER, body)
    conversation = await store.get(conversation_id, OWNER)
    assert conversation.title == "Title \ufffd"
    answer = conversation.messages[1]
    assert (answer.content, answer.metadata) == ("Odd \ufffd text", {"model": "m\ufffd", "x": ["\ufffd"]})
    # Every way out of the app encodes it: a JSON response, the export.
    conversation.model_dump_json().encode("utf-8")
    json.dumps(await store.export_json(conversation_id, OWNER), ensure_ascii=False).encode("utf-8")
