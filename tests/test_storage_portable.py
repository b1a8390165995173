"""Where PostgreSQL and SQLite differ, the store behaves the same (secretgpt/storage/postgres.py):
writers of one conversation take turns, reads see one snapshot, text with U+0000 is stored,
errors carry no values, times come back in UTC and ties are ordered. On both backends."""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timezone
from typing import Any

import pytest
from sqlalchemy import insert

from secretgpt.records import AnswerAttestation, ConversationSettings, StreamStatus
from secretgpt.records import ConversationNotFound
from secretgpt.storage import message_tree, sql
from secretgpt.storage.schema import messages as M
from secretgpt.storage.sql import SqlConversationStore
from tests.support.big_exports import chain
from tests.test_storage_sql import A, record

MakeStore = Callable[..., Awaitable[SqlConversationStore]]
NewUrl = Callable[[], str]


@pytest.fixture
async def store(make_store: MakeStore) -> SqlConversationStore:
    return await make_store()


# --- writers take turns ---------------------------------------------------------------------------

async def test_two_instances_writing_one_conversation_take_turns(make_store: MakeStore, new_store_url: NewUrl) -> None:
    url = new_store_url()
    one, two = await make_store(url), await make_store(url)
    conversation = await one.create(A, "Busy")
    # Each turn picks the next `seq` and moves the leaf: at the same time, two would pick the same.
    turns = [(one if i % 2 else two).add_user_turn(conversation.id, A, f"q{i}") for i in range(20)]
    ids = await asyncio.gather(*turns)
    messages = await one.all_messages(conversation.id, A)
    assert sorted(m.id for m in messages) == sorted(ids)
    assert len({m.parent_id for m in messages}) == 20  # one thread: each turn under the one before
    assert (await one.get(conversation.id, A)).current_leaf_id == messages[-1].id


async def test_saves_of_one_new_answer_at_once_insert_it_once(make_store: MakeStore, new_store_url: NewUrl) -> None:
    url = new_store_url()
    one, two = await make_store(url), await make_store(url)
    conversation = await one.create(A, "Upsert")
    await one.add_user_turn(conversation.id, A, "q")
    # The first save of a stream inserts its answer, later ones update it: never two rows for it.
    saved = await asyncio.gather(*((one, two)[i % 2].save_answer(record(conversation.id, "s1", f"text {i}"))
                                   for i in range(10)))
    assert len(set(saved)) == 1
    assert [m.role for m in await one.all_messages(conversation.id, A)] == ["user", "assistant"]


async def test_answers_ending_together_under_one_attestation_all_save(store: SqlConversationStore) -> None:
    attestation = AnswerAttestation(status="verified", reason="test", origin="https://host", attestation_id="att-1")
    evidence = {"origin": "https://host", "captured_at": "2025-03-01T12:00:00+00:00", "quote": "ab" * 100}
    conversations = [await store.create(A, f"c{i}") for i in range(8)]
    for conversation in conversations:
        await store.add_user_turn(conversation.id, A, "q")
    # Each save finds the evidence missing and stores it; on PostgreSQL these run at once.
    await asyncio.gather(*(store.save_answer(record(c.id, "s", "done", status=StreamStatus.COMPLETED,
                                                    attestation=attestation, evidence=evidence))
                           for c in conversations))
    for conversation in conversations:
        answer = (await store.get(conversation.id, A)).messages[-1]
        assert (await store.answer_proof(conversation.id, A, answer.id)).evidence == evidence


# --- reads see one snapshot ---------------------------------------------------------------------------

async def deleted_by_another(store: SqlConversationStore, conversation_id: str) -> asyncio.Future[None]:
    """Another instance (`store`, on the same database) deletes the conversation; returns once the
    delete is committed. Not awaited whole: on SQLite its WAL checkpoint waits for the reader
    this interrupts."""
    deleting = asyncio.ensure_future(store.delete(conversation_id, A))
    while not deleting.done():
        try:
            await store.get(conversation_id, A)
        except ConversationNotFound:
            break
        await asyncio.sleep(0.01)
    return deleting


@pytest.mark.parametrize("read", ["export", "thread"])
async def test_a_read_sees_one_snapshot_while_another_instance_deletes(
        make_store: MakeStore, new_store_url: NewUrl, monkeypatch: pytest.MonkeyPatch, read: str) -> None:
    url = new_store_url()
    store, other = await make_store(url), await make_store(url)
    [conversation_id] = await store.import_json(A, chain(30))
    deletes: list[asyncio.Future[None]] = []
    if read == "export":  # the conversation's row is read, then (deleted here) its messages
        real_batches = sql.in_batches

        async def batches_after_the_delete(*args: Any) -> AsyncIterator[Any]:
            monkeypatch.setattr(sql, "in_batches", real_batches)
            deletes.append(await deleted_by_another(other, conversation_id))
            async for rows in real_batches(*args):
                yield rows

        monkeypatch.setattr(sql, "in_batches", batches_after_the_delete)
        exported = await store.export_json(conversation_id, A)
        assert len(exported["conversation"]["messages"]) == 30
    else:  # the tree's shape is read, then (deleted here) the text of the thread's messages
        real_tree = message_tree.load_tree

        async def tree_then_the_delete(*args: Any) -> message_tree.Tree:
            tree = await real_tree(*args)
            monkeypatch.setattr(message_tree, "load_tree", real_tree)  # once: the other instance reads too
            deletes.append(await deleted_by_another(other, conversation_id))
            return tree

        monkeypatch.setattr(message_tree, "load_tree", tree_then_the_delete)
        assert len((await store.get(conversation_id, A)).messages) == 30
    assert len(deletes) == 1
    await deletes[0]
    with pytest.raises(ConversationNotFound):
        await store.get(conversation_id, A)


# --- text PostgreSQL cannot hold ---------------------------------------------------------------------

def stored_nul(backend: str) -> str:
    """What U+0000 comes back as: itself on SQLite; U+FFFD on PostgreSQL, whose text cannot hold it."""
    return "\ufffd" if backend == "postgresql" else "\x00"


async def test_text_with_nul_characters_is_stored(store: SqlConversationStore, backend: str) -> None:
    nul = stored_nul(backend)
    conversation = await store.create(A, "title\x00", ConversationSettings(system="system\x00prompt"))
    await store.add_user_turn(conversation.id, A, "question\x00")
    await store.save_answer(record(conversation.id, "s1", "answer\x00", status=StreamStatus.ERROR,
                                   think="think\x00", error="error\x00words", error_kind="unreachable"))
    await store.rename(conversation.id, A, "renamed\x00")
    got = await store.get(conversation.id, A)
    assert (got.title, got.system) == (f"renamed{nul}", f"system{nul}prompt")
    question, answer = got.messages
    assert (question.content, answer.content, answer.think) == (f"question{nul}", f"answer{nul}", f"think{nul}")
    assert answer.metadata["error"] == f"error{nul}words"
    assert [c.id for c in await store.list_conversations(A, search="question\x00")] == [conversation.id]


async def test_an_import_with_nul_characters_is_stored(store: SqlConversationStore, backend: str) -> None:
    nul = stored_nul(backend)
    doc = chain(2)
    doc["conversation"]["title"] = "title\x00"
    doc["conversation"]["system"] = "system\x00"
    doc["conversation"]["messages"][1].update(content="content\x00", think="think\x00", stream_id="stream\x00",
                                              metadata={"model": "m\x00", "key\x00": ["\x00"]})
    [conversation_id] = await store.import_json(A, doc)
    got = await store.get(conversation_id, A)
    answer = got.messages[1]
    assert (got.title, got.system, answer.content, answer.think, answer.stream_id) == (
        f"title{nul}", f"system{nul}", f"content{nul}", f"think{nul}", f"stream{nul}")
    assert answer.metadata == {"model": f"m{nul}", f"key{nul}": [nul]}


# --- errors -------------------------------------------------------------------------------------------

async def test_a_database_error_carries_no_values(store: SqlConversationStore) -> None:
    """What a logged traceback of a failed statement shows: the statement and the constraint, never
    the row (PostgreSQL's DETAIL would say "Failing row contains (…, the text, …)")."""
    secret = "SECRET-" + "TEXT-" + "4242"  # built here, so the traceback's source lines do not show it
    conversation = await store.create(A, "c")
    now = datetime.now(timezone.utc)
    with pytest.raises(Exception) as caught:
        async with store._writer.begin() as conn:  # a row the store would never write: a role no one has
            await conn.execute(insert(M).values(id="m", conversation_id=conversation.id, seq=1, role="robot",
                                                content=secret, think="", created_at=now, updated_at=now))
    logged = "".join(traceback.format_exception(caught.value))
    assert "ck_messages_role" in logged
    assert secret not in logged


# --- times and order ------------------------------------------------------------------------------------

async def test_times_come_back_in_utc_and_ties_in_a_fixed_order(store: SqlConversationStore) -> None:
    at = "2025-03-01T14:00:00.123456+02:00"  # another offset; the same instant for every conversation
    ids = []
    for n in range(3):
        doc = chain(2, text=f"{n}: ", conversation_id=f"c{n}")
        doc["conversation"].update(title=f"tie {n}", created_at=at, updated_at=at)
        ids += await store.import_json(A, doc)
    utc = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=timezone.utc)
    listed = await store.list_conversations(A)
    assert [c.id for c in listed] == sorted(ids)  # newest first; equal times by id
    assert all(c.created_at == c.updated_at == utc and c.created_at.utcoffset().total_seconds() == 0 for c in listed)
    assert [c["id"] for c in (await store.export_all(A))["conversations"]] == sorted(ids)
    # Start times are matched to the microsecond, whichever offset the file wrote them in.
    doc = await store.export_json(ids[0], A)
    doc["conversation"]["created_at"] = at
    [candidate] = await store.preview_import(A, doc)
    assert candidate.existing_id == ids[0]
