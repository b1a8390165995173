"""Several SecretGPT instances on one database: they can all start at once on an empty one (the
schema is made once, under a lock), and at start-up each marks only the answers no live instance
is writing. On SQLite and on a real PostgreSQL (the `backend` of tests/conftest.py)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import timedelta

from sqlalchemy import text

from secretgpt.records import StreamStatus
from secretgpt.storage.migrations import MIGRATIONS, Step, latest_version
from secretgpt.storage.sql import SqlConversationStore
from tests.test_storage_sql import A, record

NewUrl = Callable[[], str]
MakeStore = Callable[..., Awaitable[SqlConversationStore]]
INSTANCES = 4


def counted(ran: Counter[int]) -> list[tuple[int, Step]]:
    """The real migration steps, each counting its runs in `ran`."""
    def counting(version: int, step: Step) -> Step:
        def run(conn) -> None:  # noqa: ANN001 - a sync Connection
            ran[version] += 1
            step(conn)
        return run

    return [(version, counting(version, step)) for version, step in MIGRATIONS]


async def test_instances_starting_at_once_on_an_empty_database_all_open(new_store_url: NewUrl) -> None:
    url = new_store_url()
    ran: Counter[int] = Counter()
    steps = counted(ran)
    opened = await asyncio.gather(*(SqlConversationStore.open(url, migrations=steps) for _ in range(INSTANCES)),
                                  return_exceptions=True)
    stores = [s for s in opened if isinstance(s, SqlConversationStore)]
    try:
        assert len(stores) == INSTANCES, [repr(s) for s in opened if not isinstance(s, SqlConversationStore)]
        assert ran == {version: 1 for version, _ in MIGRATIONS}  # each step once, by one of them
        for store in stores:
            assert await store.schema_version() == latest_version()
        async with stores[0].engine.connect() as conn:
            assert (await conn.execute(text("SELECT id, version FROM schema_version"))).all() == [
                (1, latest_version())]
    finally:
        for store in stores:
            await store.close()


# --- answers left live ------------------------------------------------------------------------------

LIVE = {"s-streaming": StreamStatus.STREAMING, "s-paused": StreamStatus.PAUSED,
        "s-connecting": StreamStatus.CONNECTING, "s-other": StreamStatus.STREAMING}


async def answers(store: SqlConversationStore) -> dict[str, tuple[str, str]]:
    """Each of LIVE's streams and a completed one, in conversations of their own: stream -> (conversation, owner)."""
    where = {}
    for stream_id, status in {**LIVE, "s-done": StreamStatus.COMPLETED}.items():
        conversation = await store.create(A, stream_id)
        await store.add_user_turn(conversation.id, A, "q")
        await store.save_answer(record(conversation.id, stream_id, "partial", status=status))
        where[stream_id] = (conversation.id, A)
    return where


async def statuses(store: SqlConversationStore, where: dict[str, tuple[str, str]]) -> dict[str, StreamStatus]:
    return {stream_id: (await store.get(*place)).messages[-1].status for stream_id, place in where.items()}


async def test_start_up_leaves_the_streams_alive_elsewhere(make_store: MakeStore, new_store_url: NewUrl) -> None:
    url = new_store_url()
    writing, starting = await make_store(url), await make_store(url)  # two instances, one database
    where = await answers(writing)
    # Tens of thousands of live streams elsewhere: no statement has a parameter per stream.
    elsewhere = {"s-streaming", "s-paused"} | {f"unrelated-{i}" for i in range(40_000)}
    assert await starting.mark_interrupted(keep=elsewhere) == 2
    assert await statuses(starting, where) == {
        "s-streaming": StreamStatus.STREAMING, "s-paused": StreamStatus.PAUSED,
        "s-connecting": StreamStatus.INTERRUPTED, "s-other": StreamStatus.INTERRUPTED, "s-done": StreamStatus.COMPLETED}
    # The instance still writing goes on: its answers were not touched.
    await writing.save_answer(record(where["s-paused"][0], "s-paused", "partial, resumed"))
    assert (await statuses(writing, where))["s-paused"] == StreamStatus.STREAMING


async def test_start_up_can_mark_only_the_streams_known_dead(make_store: MakeStore) -> None:
    store = await make_store()
    where = await answers(store)
    assert await store.mark_interrupted(only=set()) == 0
    assert await store.mark_interrupted(only={"s-paused", "s-done", "no-such-stream"} |
                                        {f"dead-{i}" for i in range(40_000)}) == 1
    assert await store.mark_interrupted(only={"s-streaming"}, keep={"s-streaming"}) == 0
    assert await statuses(store, where) == {**LIVE, "s-paused": StreamStatus.INTERRUPTED, "s-done": StreamStatus.COMPLETED}
    # Answers written recently are left too (one whose stream started after `keep` was read).
    assert await store.mark_interrupted(stale_for=timedelta(hours=1)) == 0
    assert await store.mark_interrupted() == 3


async def test_one_dead_instances_answer_is_marked_by_another(make_store: MakeStore, new_store_url: NewUrl) -> None:
    url = new_store_url()
    died, alive = await make_store(url), await make_store(url)
    where = await answers(died)
    assert await alive.mark_stream_interrupted("s-other") is True
    assert await alive.mark_stream_interrupted("s-other") is False  # already
    assert await alive.mark_stream_interrupted("s-done") is False  # ended: its status stays
    assert await alive.mark_stream_interrupted("no-such-stream") is False
    assert await statuses(alive, where) == {**LIVE, "s-other": StreamStatus.INTERRUPTED,
                                            "s-done": StreamStatus.COMPLETED}
