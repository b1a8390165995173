"""SqlConversationStore against a real SQLite file and a real PostgreSQL database (each test runs
on both: the `backend` of tests/conftest.py)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from secretgpt.records import StreamRecord, StreamStatus
from secretgpt.records import ConversationNotFound, MessageNotFound
from secretgpt.storage.schema import messages as M
from secretgpt.storage.sql import SqlConversationStore

A, B = "owner-a", "owner-b"


@pytest.fixture
async def store(make_store: Callable[[], Awaitable[SqlConversationStore]]) -> SqlConversationStore:
    return await make_store()


def record(conversation_id: str, stream_id: str, text: str = "", *, owner: str = A,
           status: StreamStatus = StreamStatus.STREAMING, **fields: object) -> StreamRecord:
    return StreamRecord(stream_id=stream_id, conversation_id=conversation_id, owner=owner, model="llama3.3:70b",
                        status=status, text=text, started_at=datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc),
                        **fields)


async def exchange(store: SqlConversationStore, conversation_id: str, question: str, answer: str,
                   stream_id: str) -> tuple[str, str]:
    user_id = await store.add_user_turn(conversation_id, A, question)
    answer_id = await store.save_answer(record(conversation_id, stream_id, answer, status=StreamStatus.COMPLETED))
    return user_id, answer_id


def thread_texts(conversation) -> list[str]:
    return [m.content for m in conversation.messages]


# --- the active thread and checkpoints -----------------------------------------------------------

async def test_thread_turns_and_parents(store: SqlConversationStore):
    conv = await store.create(A, "Chat")
    assert (await store.get(conv.id, A)).messages == []
    q1, a1 = await exchange(store, conv.id, "q1", "a1", "s1")
    q2, a2 = await exchange(store, conv.id, "q2", "a2", "s2")

    got = await store.get(conv.id, A)
    assert [(t.role, t.content) for t in got.messages] == [("user", "q1"), ("assistant", "a1"),
                                                        ("user", "q2"), ("assistant", "a2")]
    assert [m.id for m in got.messages] == [q1, a1, q2, a2]
    assert [m.parent_id for m in got.messages] == [None, q1, a1, q2]
    assert got.current_leaf_id == a2
    assert all(m.sibling_ids == [m.id] and m.sibling_index == 0 for m in got.messages)
    assert got.updated_at > conv.updated_at


async def test_save_answer_is_an_upsert_by_stream_id(store: SqlConversationStore):
    conv = await store.create(A, "Checkpoints")
    await store.add_user_turn(conv.id, A, "Tell me a story")

    rec = record(conv.id, "stream-1", "Once", think="Let me think")
    first = await store.save_answer(rec)
    for text_so_far in ("Once upon", "Once upon a time"):
        rec = rec.model_copy(update={"text": text_so_far, "chunks": rec.chunks + 3})
        assert await store.save_answer(rec) == first
    final = rec.model_copy(update={
        "status": StreamStatus.COMPLETED, "streaming": True, "text": "Once upon a time, the end.",
        "ended_at": datetime(2025, 3, 1, 12, 0, 9, tzinfo=timezone.utc), "time_to_first_token": 0.42,
        "think_seconds": 1.5, "prompt_tokens": 12, "completion_tokens": 34, "done_reason": "stop"})
    assert await store.save_answer(final) == first

    messages = await store.all_messages(conv.id, A)
    assert [m.role for m in messages] == ["user", "assistant"]  # updated in place, not appended
    answer = messages[1]
    assert (answer.content, answer.think, answer.status) == ("Once upon a time, the end.", "Let me think",
                                                             StreamStatus.COMPLETED)
    assert answer.model == "llama3.3:70b"
    assert answer.metadata["completion_tokens"] == 34 and answer.metadata["time_to_first_token"] == 0.42
    # Everything the record knew comes back, so history can show "Thought for 1.5 s" and the rest.
    got = await store.get(conv.id, A)
    assert [m.stream_record(conv.id, A) for m in got.messages] == [None, final]


async def test_checkpoint_survives_an_unclean_stop(new_store_url: Callable[[], str]):
    """What a kill -9 leaves: the last checkpoint, marked interrupted at the next start-up."""
    url = new_store_url()
    store = await SqlConversationStore.open(url)
    conv = await store.create(A, "Cut short")
    await store.add_user_turn(conv.id, A, "Count to ten")
    await store.save_answer(record(conv.id, "s1", "one two three"))
    # No close(): committed data must already be in the database (SQLite: its WAL) for another
    # process, with its own connections, to see.
    fresh = await SqlConversationStore.open(url)
    answer = (await fresh.all_messages(conv.id, A))[-1]
    assert (answer.content, answer.status) == ("one two three", StreamStatus.STREAMING)
    await fresh.close()
    await store.close()

    store = await SqlConversationStore.open(url)
    assert await store.mark_interrupted() == 1
    answer = (await store.get(conv.id, A)).messages[-1]
    assert (answer.content, answer.status, answer.partial) == ("one two three", StreamStatus.INTERRUPTED, True)
    await store.close()


async def test_mark_interrupted_only_touches_live_answers(store: SqlConversationStore):
    ids = {}
    for owner, status in ((A, StreamStatus.CONNECTING), (A, StreamStatus.STREAMING), (B, StreamStatus.PAUSED),
                          (A, StreamStatus.COMPLETED), (A, StreamStatus.STOPPED), (B, StreamStatus.ERROR)):
        conv = await store.create(owner, status.value)
        await store.add_user_turn(conv.id, owner, "q")
        ids[status] = (conv.id, owner, await store.save_answer(
            record(conv.id, f"s-{status.value}", "partial", owner=owner, status=status)))

    # Answers still being checkpointed (by another instance) can be left alone.
    assert await store.mark_interrupted(stale_for=timedelta(hours=1)) == 0
    assert await store.mark_interrupted() == 3
    assert await store.mark_interrupted() == 0
    for status, (conv_id, owner, _) in ids.items():
        got = (await store.get(conv_id, owner)).messages[-1].status
        expected = StreamStatus.INTERRUPTED if status in (
            StreamStatus.CONNECTING, StreamStatus.STREAMING, StreamStatus.PAUSED) else status
        assert got == expected, status


# --- alternatives ---------------------------------------------------------------------------------

async def test_regenerate_keeps_the_earlier_answer_as_an_alternative(store: SqlConversationStore):
    conv = await store.create(A, "Regenerate")
    q1, a1 = await exchange(store, conv.id, "q1", "first answer", "s1")

    a2 = await store.save_answer(record(conv.id, "s2", "second answer"), sibling_of=a1)
    got = await store.get(conv.id, A)
    assert thread_texts(got) == ["q1", "second answer"]
    assert got.messages[1].sibling_ids == [a1, a2] and got.messages[1].sibling_index == 1
    assert got.messages[1].parent_id == q1
    # Checkpoints of the new answer update it; they do not add more siblings.
    await store.save_answer(record(conv.id, "s2", "second answer, longer"), sibling_of=a1)
    assert len((await store.get(conv.id, A)).messages[1].sibling_ids) == 2

    flipped = await store.select_alternative(conv.id, A, a1)
    assert thread_texts(flipped) == ["q1", "first answer"]
    assert flipped.messages[1].sibling_index == 0
    assert thread_texts(await store.get(conv.id, A)) == ["q1", "first answer"]  # the choice is stored

    # Another alternative from the first answer shown: it goes next to the others.
    a3 = await store.save_answer(record(conv.id, "s3", "third answer"), sibling_of=a1)
    got = await store.get(conv.id, A)
    assert thread_texts(got) == ["q1", "third answer"]
    assert got.messages[1].sibling_ids == [a1, a2, a3]


async def test_edit_asks_again_from_there(store: SqlConversationStore):
    conv = await store.create(A, "Edit")
    q1, a1 = await exchange(store, conv.id, "q1", "a1", "s1")
    q2, a2 = await exchange(store, conv.id, "q2", "a2", "s2")

    q2b = await store.add_user_turn(conv.id, A, "q2 edited", sibling_of=q2)
    a3 = await store.save_answer(record(conv.id, "s3", "a3", status=StreamStatus.COMPLETED))
    got = await store.get(conv.id, A)
    assert thread_texts(got) == ["q1", "a1", "q2 edited", "a3"]
    assert got.messages[2].sibling_ids == [q2, q2b]
    assert [t.content for t in got.messages] == ["q1", "a1", "q2 edited", "a3"]

    # Back to the original question: its own answer comes with it.
    assert thread_texts(await store.select_alternative(conv.id, A, q2)) == ["q1", "a1", "q2", "a2"]

    # Editing the very first message makes a second root.
    q1b = await store.add_user_turn(conv.id, A, "q1 edited", sibling_of=q1)
    got = await store.get(conv.id, A)
    assert thread_texts(got) == ["q1 edited"]
    assert got.messages[0].sibling_ids == [q1, q1b] and got.messages[0].parent_id is None
    # Flipping back to q1 follows the newest child at each level: a1 -> q2 edited -> a3.
    assert thread_texts(await store.select_alternative(conv.id, A, q1)) == ["q1", "a1", "q2 edited", "a3"]
    assert (await store.get(conv.id, A)).current_leaf_id == a3


async def test_alternatives_reject_messages_of_other_conversations(store: SqlConversationStore):
    one = await store.create(A, "one")
    two = await store.create(A, "two")
    _, a1 = await exchange(store, one.id, "q", "a", "s1")
    with pytest.raises(MessageNotFound):
        await store.select_alternative(two.id, A, a1)
    with pytest.raises(MessageNotFound):
        await store.add_user_turn(two.id, A, "x", sibling_of=a1)
    with pytest.raises(MessageNotFound):
        await store.save_answer(record(two.id, "s9", "x"), sibling_of="no-such-message")
    assert (await store.get(two.id, A)).messages == []


# --- list, search, rename, delete ----------------------------------------------------------------

async def test_list_is_newest_first_with_counts(store: SqlConversationStore):
    old = await store.create(A, "Old")
    new = await store.create(A, "New")
    await exchange(store, old.id, "q", "a", "s1")  # activity moves it to the top
    await store.save_answer(record(old.id, "s2", "alt"), sibling_of=(await store.get(old.id, A)).messages[1].id)

    listed = await store.list_conversations(A)
    assert [(c.title, c.message_count) for c in listed] == [("Old", 3), ("New", 0)]
    assert listed[0].id == old.id and listed[1].id == new.id
    assert listed[0].updated_at >= listed[1].updated_at
    assert [c.title for c in await store.list_conversations(A, limit=1)] == ["Old"]


async def test_search_matches_words_of_the_title_or_any_message_ignoring_case(store: SqlConversationStore):
    recipes = await store.create(A, "Pasta recipes")
    physics = await store.create(A, "Homework")
    await exchange(store, physics.id, "Explain QUANTUM tunnelling", "Particles pass barriers", "s1")
    await store.create(A, "100% sure")
    await store.create(A, "snake_case")
    await store.create(A, "Crème brûlée")
    other = await store.create(B, "Quantum for B")
    await store.add_user_turn(other.id, B, "pasta quantum")

    async def titles(term: str | None) -> set[str]:
        return {c.title for c in await store.list_conversations(A, search=term)}

    assert await titles("pasta") == {"Pasta recipes"}
    assert await titles("quantum") == {"Homework"}  # message text, any case; B's never
    assert await titles("BARRIERS") == {"Homework"}
    assert await titles("part barr") == {"Homework"}  # every term, each a word's beginning
    assert await titles("tunnel barriers") == set()  # both terms in one message or the title
    assert await titles("100%") == {"100% sure"}  # punctuation is not syntax
    assert await titles("snake_case") == {"snake_case"}
    assert await titles("cRèME BRû") == {"Crème brûlée"}
    assert await titles("%") == set()  # no letter or digit: nothing to find
    assert await titles("nothing like this") == set()
    assert await titles("  ") == {"Pasta recipes", "Homework", "100% sure", "snake_case", "Crème brûlée"}
    assert recipes.id in {c.id for c in await store.list_conversations(A, search="RECIPES")}


async def test_rename_and_delete(store: SqlConversationStore):
    conv = await store.create(A, "Draft")
    await exchange(store, conv.id, "q", "a", "s1")
    keep = await store.create(A, "Keep")
    await exchange(store, keep.id, "q", "a", "s1")  # same stream id, other conversation: fine

    await store.rename(conv.id, A, "  Final   title ")
    assert (await store.get(conv.id, A)).title == "Final title"
    with pytest.raises(ValueError):
        await store.rename(conv.id, A, "   ")

    await store.delete(conv.id, A)
    with pytest.raises(ConversationNotFound):
        await store.get(conv.id, A)
    with pytest.raises(ConversationNotFound):
        await store.delete(conv.id, A)
    assert [c.title for c in await store.list_conversations(A)] == ["Keep"]
    async with store.engine.connect() as conn:
        assert (await conn.execute(select(func.count()).where(M.c.conversation_id == conv.id))).scalar() == 0
        assert (await conn.execute(select(func.count()).select_from(M))).scalar() == 2


# --- isolation -----------------------------------------------------------------------------------

async def test_owners_never_see_or_change_each_others_conversations(store: SqlConversationStore):
    mine = await store.create(A, "A's secret")
    _, answer = await exchange(store, mine.id, "private question", "private answer", "s1")
    theirs = await store.create(B, "B's chat")

    assert [c.id for c in await store.list_conversations(B)] == [theirs.id]
    assert await store.list_conversations(B, search="private") == []
    attempts = [
        store.get(mine.id, B),
        store.add_user_turn(mine.id, B, "sneak"),
        store.save_answer(record(mine.id, "s1", "overwritten", owner=B)),  # A's stream id, B's record
        store.save_answer(record(mine.id, "s-new", "appended", owner=B)),
        store.rename(mine.id, B, "pwned"),
        store.select_alternative(mine.id, B, answer),
        store.all_messages(mine.id, B),
        store.export_json(mine.id, B),
        store.export_markdown(mine.id, B),
        store.delete(mine.id, B),
    ]
    for attempt in attempts:
        with pytest.raises(ConversationNotFound):
            await attempt

    got = await store.get(mine.id, A)
    assert got.title == "A's secret"
    assert thread_texts(got) == ["private question", "private answer"]
    assert len(await store.all_messages(mine.id, A)) == 2
    assert [c["title"] for c in (await store.export_all(B))["conversations"]] == ["B's chat"]


# --- scale -----------------------------------------------------------------------------------------

async def test_200_conversations_of_50_messages_stay_fast(new_store_url: Callable[[], str]):
    url = new_store_url()
    store = await SqlConversationStore.open(url)
    started = datetime(2025, 1, 1, tzinfo=timezone.utc)
    conversations = []
    for c in range(200):
        messages, parent = [], None
        for i in range(50):
            at = (started + timedelta(minutes=c, seconds=i)).isoformat()
            message = {"id": f"m{i}", "parent_id": parent, "role": "user" if i % 2 == 0 else "assistant",
                       "content": f"message {i} of conversation {c} " + "lorem ipsum " * 40,
                       "think": "reasoning " * 20 if i % 2 else "", "created_at": at, "updated_at": at,
                       "stream_id": f"s{i}" if i % 2 else None, "status": "completed" if i % 2 else None,
                       "metadata": {"model": "llama3.3:70b", "completion_tokens": 120} if i % 2 else {}}
            messages.append(message)
            parent = message["id"]
        conversations.append({"id": f"c{c}", "title": f"Conversation {c}", "created_at": started.isoformat(),
                              "updated_at": (started + timedelta(minutes=c)).isoformat(),
                              "current_leaf_id": parent, "messages": messages})
    await store.import_json(A, {"format": "secretgpt.conversations", "version": 1, "app_version": "test",
                                "exported_at": started.isoformat(), "conversations": conversations})
    await store.close()

    t0 = time.perf_counter()
    store = await SqlConversationStore.open(url)
    t1 = time.perf_counter()
    listed = await store.list_conversations(A)
    t2 = time.perf_counter()
    for summary in listed[:10]:
        conv = await store.get(summary.id, A)
    t3 = time.perf_counter()
    found = await store.list_conversations(A, search="message 7 of conversation 123 ")
    t4 = time.perf_counter()
    await store.close()

    print(f"\nopen {1000 * (t1 - t0):.1f} ms, list {1000 * (t2 - t1):.1f} ms, "
          f"get {100 * (t3 - t2):.1f} ms each, search {1000 * (t4 - t3):.1f} ms")
    assert len(listed) == 200 and listed[0].title == "Conversation 199" and listed[0].message_count == 50
    assert len(conv.messages) == 50
    assert [c.title for c in found] == ["Conversation 123"]
    assert t1 - t0 < 2 and t2 - t1 < 2 and (t3 - t2) / 10 < 2 and t4 - t3 < 2


# --- concurrency and portability -------------------------------------------------------------------

async def test_concurrent_writers_wait_for_each_other_instead_of_failing(store: SqlConversationStore):
    import asyncio

    conversations = [await store.create(A, f"chat {i}") for i in range(20)]
    for conv in conversations:
        await store.add_user_turn(conv.id, A, "go")

    async def stream(conv_id: str) -> None:
        text = ""
        for word in range(10):  # ten checkpoints each, all streams at once
            text += f"w{word} "
            await store.save_answer(record(conv_id, "s", text))
            await store.get(conv_id, A)

    await asyncio.gather(*(stream(conv.id) for conv in conversations))
    for conv in conversations:
        assert thread_texts(await store.get(conv.id, A)) == ["go", "w0 w1 w2 w3 w4 w5 w6 w7 w8 w9 "]


async def test_naive_datetimes_are_refused_rather_than_guessed(store: SqlConversationStore):
    from secretgpt.storage.schema import UTCDateTime

    with pytest.raises(ValueError, match="naive"):
        UTCDateTime().process_bind_param(datetime(2025, 1, 1), store.engine.dialect)
