"""The database engine: SQLite's settings for each connection and for write transactions, and
emptying its write-ahead log after a delete. PostgreSQL's are in postgres.py; any other URL as
SQLAlchemy opens it."""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from .postgres import WRITES, is_postgres, make_postgres_engine, with_async_driver

log = logging.getLogger(__name__)

DB_FILENAME = "secretgpt.db"
# Set on the engine used for writes: on SQLite those transactions start with BEGIN IMMEDIATE, so
# they take the write lock up front (waiting for it) instead of failing half-way when a
# read-then-write transaction cannot upgrade.
WRITE = "secretgpt_write"


def database_url(data_dir: Path, override: str | None = None) -> str:
    """SECRETGPT_DATABASE_URL if set, else the SQLite file in the data dir."""
    return override or f"sqlite+aiosqlite:///{(Path(data_dir) / DB_FILENAME).resolve()}"


def make_engine(url: str) -> AsyncEngine:
    parsed = with_async_driver(make_url(url))
    if is_postgres(parsed):
        return make_postgres_engine(parsed)
    if parsed.get_backend_name() != "sqlite":
        return create_async_engine(parsed, pool_pre_ping=True, hide_parameters=True)
    if parsed.database and parsed.database != ":memory:" and not parsed.database.startswith("file:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    # timeout: how long a writer waits for another one's lock before "database is locked".
    # hide_parameters: a failed statement's error (and so the log) must not carry message text.
    engine = create_async_engine(parsed, connect_args={"timeout": 30}, hide_parameters=True)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN (below) instead of the sqlite3 module, which skips it for
        # SELECT and DDL: reads see one snapshot and migrations roll back as a whole.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # WAL: readers never block the writer. synchronous=NORMAL: a commit survives the process
        # being killed; only an OS crash can lose the last transactions. secure_delete: what a
        # delete or an update frees is overwritten with zeros, not left in free pages of the file
        # (where a deleted conversation's text could be read back); see `delete` for the WAL.
        _into_wal(cursor)
        for pragma in ("synchronous=NORMAL", "foreign_keys=ON", "secure_delete=ON"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE) else "BEGIN")

    return engine


def _into_wal(cursor: Any, patience: float = 30.0) -> None:
    """Switching a new file to WAL needs it to itself, and SQLite says "database is locked" at once
    (no busy wait) while another connection holds it: several instances opening one new file at
    once. Wait for it as for any lock (this runs on the driver's thread, off the event loop)."""
    deadline = time.monotonic() + patience
    delay = 0.01
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.5)


def writer(engine: AsyncEngine) -> AsyncEngine:
    """The engine the store writes through: on SQLite its transactions BEGIN IMMEDIATE, on
    PostgreSQL they are READ COMMITTED (reads are snapshots there, see postgres.py)."""
    options: dict[str, Any] = {WRITE: True}
    if engine.dialect.name == "postgresql":
        options["isolation_level"] = WRITES
    return engine.execution_options(**options)


async def forget_the_wal(engine: AsyncEngine) -> None:
    """SQLite: copy the WAL into the database file and truncate it to nothing, so what a delete
    zeroed (secure_delete) is gone from the data dir: the WAL still holds every version of every
    page ever written since the last checkpoint. Call it with the store's write lock held, so
    none of its writers slips in. It waits for readers on an older snapshot, up to the busy
    timeout; if one outlasts that, the WAL is emptied at a later checkpoint instead (its frames
    are reused from the start), and the log says so."""
    if engine.dialect.name != "sqlite":
        return
    async with engine.connect() as conn:
        busy, _, _ = (await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")).one()
    if busy:
        log.warning("after a delete, the database's write-ahead log could not be emptied (a reader was busy); "
                    "the deleted text stays in it until a later checkpoint")
