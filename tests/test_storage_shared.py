"""Several SecretGPT instances on one database: they can all start at once on an empty one (the
schema is made once, under a lock), and at start-up each marks only the answers no live instance
is writing. On SQLite and on a real PostgreSQL (the `backend` of tests/conftest.py)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable

from sqlalchemy import text

from secretgpt.storage.migrations import MIGRATIONS, Step, latest_version
from secretgpt.storage.sql import SqlConversationStore

NewUrl = Callable[[], str]
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
