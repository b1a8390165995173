"""SqlConversationStore's schema: versioned migrations that bring any database to the schema
module's tables (or change nothing), on SQLite (in WAL mode) and on PostgreSQL."""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from secretgpt.storage.migrations import MIGRATIONS, SchemaTooNew, latest_version
from secretgpt.storage.schema import metadata as current_schema
from secretgpt.storage.sql import SqlConversationStore
from tests.test_storage_sql import A, exchange, thread_texts

# The full-text index (v4) is each database's own (search.py), not a portable table of schema.py.
SEARCH_TABLES = ("search_docs", "search_index")
SEARCH_COLUMNS = {"search_vector"}
SEARCH_INDEXES = {"ix_messages_search", "ix_conversations_search"}

NEXT = latest_version() + 1  # a test migration step after the real ones

NewUrl = Callable[[], str]


@pytest.fixture
async def store(make_store: Callable[[], Awaitable[SqlConversationStore]]) -> SqlConversationStore:
    return await make_store()


async def rows(store: SqlConversationStore, sql: str) -> list[tuple]:
    async with store.engine.connect() as conn:
        return [tuple(row) for row in await conn.execute(text(sql))]


async def column_names(store: SqlConversationStore, table: str) -> list[str]:
    async with store.engine.connect() as conn:
        return await conn.run_sync(lambda sync: [c["name"] for c in inspect(sync).get_columns(table)])


# --- schema and migrations -----------------------------------------------------------------------

@pytest.mark.sqlite_only("the file, its journal mode and per-connection pragmas")
async def test_open_creates_the_file_in_wal_mode_at_the_latest_version(db_file: Path):
    store = await SqlConversationStore.open(f"sqlite+aiosqlite:///{db_file}")
    assert db_file.exists()
    assert await store.schema_version() == latest_version() == latest_version()
    with sqlite3.connect(db_file) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")} >= {
            "schema_version", "conversations", "messages"}
    # Foreign keys are per connection: look at one of the store's own.
    async with store.engine.connect() as conn:
        assert (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1
    await store.close()


async def test_migrated_database_matches_schema_module(store: SqlConversationStore):
    def shape(sync_conn):
        insp = inspect(sync_conn)
        return {
            table: ({c["name"]: (c["nullable"], c["type"].compile(sync_conn.dialect)) for c in insp.get_columns(table)
                     if c["name"] not in SEARCH_COLUMNS},
                    # PostgreSQL lists a unique constraint's own index too: that one is the constraint.
                    {i["name"] for i in insp.get_indexes(table)
                     if not i.get("duplicates_constraint") and i["name"] not in SEARCH_INDEXES},
                    {u["name"] for u in insp.get_unique_constraints(table)},
                    {(tuple(f["constrained_columns"]), f["referred_table"]) for f in insp.get_foreign_keys(table)})
            for table in insp.get_table_names() if not table.startswith(SEARCH_TABLES)
        }

    async with store.engine.connect() as conn:
        migrated = await conn.run_sync(shape)
    dialect = store.engine.dialect
    expected = {
        table.name: ({c.name: (c.nullable, c.type.compile(dialect)) for c in table.columns},
                     {i.name for i in table.indexes},
                     {u.name for u in table.constraints if u.__class__.__name__ == "UniqueConstraint"},
                     {(tuple(f.parent.name for f in fk.elements), fk.referred_table.name)
                      for fk in table.foreign_key_constraints})
        for table in current_schema.sorted_tables
    }
    assert migrated == expected


async def test_reopening_keeps_data_and_version(new_store_url: NewUrl):
    url = new_store_url()
    store = await SqlConversationStore.open(url)
    conv = await store.create(A, "Kept")
    await exchange(store, conv.id, "What is 2+2?", "4", "s1")
    await store.close()

    for _ in range(2):
        store = await SqlConversationStore.open(url)
        assert await store.schema_version() == latest_version()
        again = await store.get(conv.id, A)
        assert again.title == "Kept"
        assert [(t.role, t.content) for t in again.messages] == [("user", "What is 2+2?"), ("assistant", "4")]
        assert again.created_at == conv.created_at
        await store.close()


def _add_pinned(conn) -> None:
    conn.execute(text("ALTER TABLE conversations ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0"))


def _add_pinned_then_fail(conn) -> None:
    _add_pinned(conn)
    conn.execute(text("UPDATE conversations SET title = 'clobbered'"))
    raise RuntimeError("step 2 failed half-way")


async def test_a_new_migration_step_upgrades_without_losing_data(new_store_url: NewUrl):
    url = new_store_url()
    store = await SqlConversationStore.open(url)
    conv = await store.create(A, "Before v2")
    await exchange(store, conv.id, "question", "answer", "s1")
    await store.close()

    store = await SqlConversationStore.open(url, migrations=[*MIGRATIONS, (NEXT, _add_pinned)])
    assert await store.schema_version() == NEXT
    assert thread_texts(await store.get(conv.id, A)) == ["question", "answer"]
    assert await rows(store, "SELECT title, pinned FROM conversations") == [("Before v2", 0)]
    await store.close()

    # The code that only knows the current version refuses the newer database instead of misreading it.
    with pytest.raises(SchemaTooNew, match=f"version {NEXT}"):
        await SqlConversationStore.open(url)


async def test_a_failing_migration_step_changes_nothing(new_store_url: NewUrl):
    url = new_store_url()
    store = await SqlConversationStore.open(url)
    conv = await store.create(A, "Untouched")
    await store.close()

    with pytest.raises(RuntimeError, match="half-way"):
        await SqlConversationStore.open(url, migrations=[*MIGRATIONS, (NEXT, _add_pinned_then_fail)])

    store = await SqlConversationStore.open(url)
    assert "pinned" not in await column_names(store, "conversations")  # the ALTER TABLE was rolled back too
    assert await rows(store, "SELECT version FROM schema_version") == [(latest_version(),)]
    assert (await store.get(conv.id, A)).title == "Untouched"
    await store.close()


async def test_migration_steps_must_be_numbered_without_gaps(new_store_url: NewUrl):
    with pytest.raises(ValueError, match="without gaps"):
        await SqlConversationStore.open(new_store_url(), migrations=[*MIGRATIONS, (NEXT + 1, _add_pinned)])


def test_schema_and_migrations_compile_for_postgresql():
    """No server here: render the DDL and the queries with the PostgreSQL dialect."""
    from sqlalchemy import create_mock_engine, select
    from sqlalchemy.dialects import postgresql

    from secretgpt.storage.migrations import _v1, _v2
    from secretgpt.storage.schema import conversations, messages

    ddl: list[str] = []
    engine = create_mock_engine("postgresql+asyncpg://", lambda sql, *a, **k: ddl.append(str(sql.compile(
        dialect=engine.dialect))))
    _v1(engine)
    _v2(engine)
    rendered = "\n".join(ddl)
    assert "CREATE TABLE conversations" in rendered and "CREATE TABLE messages" in rendered
    assert "ALTER TABLE conversations ADD COLUMN settings JSONB" in rendered
    assert "TIMESTAMP WITH TIME ZONE" in rendered and "JSONB" in rendered
    assert "ON DELETE CASCADE" in rendered

    search = (select(conversations.c.id).where(conversations.c.title.ilike("%x%", escape="\\"))
              .order_by(conversations.c.updated_at.desc()).limit(5))
    assert "ILIKE" in str(search.compile(dialect=postgresql.dialect()))
    assert "messages.metadata" in str(select(messages.c.meta).compile(dialect=postgresql.dialect()))


async def test_a_v2_answer_upgrades_without_a_proof(new_store_url: NewUrl) -> None:
    """v3 adds messages.proof and the evidence table; an answer stored before has no proof."""
    url = new_store_url()
    v2 = await SqlConversationStore.open(url, migrations=MIGRATIONS[:2])
    async with v2.engine.begin() as conn:  # as v2 wrote them: plain SQL, not today's tables
        await conn.execute(text(
            "INSERT INTO conversations (id, owner, title, created_at, updated_at) VALUES "
            "('c1', 'me', 'Old', '2025-01-01 00:00:00.000000', '2025-01-01 00:00:00.000000')"))
        await conn.execute(text(
            "INSERT INTO messages (id, conversation_id, seq, role, content, think, created_at, updated_at, "
            "stream_id, status, metadata) VALUES ('m1', 'c1', 1, 'assistant', 'Old answer', '', "
            "'2025-01-01 00:00:00.000000', '2025-01-01 00:00:00.000000', 's1', 'completed', '{}')"))
    await v2.close()
    store = await SqlConversationStore.open(url)
    try:
        assert await store.schema_version() == latest_version() >= 3
        found = await store.answer_proof("c1", "me", "m1")
        assert found.message.content == "Old answer" and found.provenance is None and found.evidence is None
    finally:
        await store.close()
