"""`SqlConversationStore`: conversations as message trees in SQLite (default) or PostgreSQL.

Every conversation is a tree: regenerating an answer or editing a question adds a sibling
instead of overwriting, and `current_leaf_id` says which path through the tree is the active
thread. Every method takes the owner and treats someone else's conversation as not found.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager, nullcontext
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Row, delete, event, exists, func, insert, or_, select, update
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from ..hub.core.events import StreamRecord, StreamStatus
from ..services.secret_ai import ConversationSettings
from .base import (
    LIVE_STATUSES,
    ConversationNotFound,
    ConversationSummary,
    MessageNotFound,
    StoredConversation,
    StoredMessage,
)
from .export import (
    ExportedConversation,
    exported_conversation,
    export_many,
    export_one,
    importable_status,
    parse_import,
    render_markdown,
)
from .migrations import MIGRATIONS, Step, migrate
from .schema import conversations as C
from .schema import messages as M
from .schema import schema_version

DB_FILENAME = "secretgpt.db"
# Set on the engine used for writes: on SQLite those transactions start with BEGIN IMMEDIATE, so
# they take the write lock up front (waiting for it) instead of failing half-way when a
# read-then-write transaction cannot upgrade.
_WRITE = "secretgpt_write"
# Columns with their own place in the table; the rest of StreamRecord.metadata() goes to JSON.
_RECORD_COLUMNS = {"stream_id", "conversation_id", "status"}


def database_url(data_dir: Path, override: str | None = None) -> str:
    """SECRETGPT_DATABASE_URL if set, else the SQLite file in the data dir."""
    return override or f"sqlite+aiosqlite:///{(Path(data_dir) / DB_FILENAME).resolve()}"


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _new_id() -> str:
    return uuid.uuid4().hex


def _make_engine(url: str) -> AsyncEngine:
    parsed = make_url(url)
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
        # being killed; only an OS crash can lose the last transactions.
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(_WRITE) else "BEGIN")

    return engine


class SqlConversationStore:
    def __init__(self, engine: AsyncEngine) -> None:
        """Use `await SqlConversationStore.open(url)`, which also migrates."""
        self._engine = engine
        self._writer = engine.execution_options(**{_WRITE: True})
        # SQLite has one writer at a time. Queueing our own writers here is fair and immediate;
        # left to SQLite's busy handler they would poll with sleeps of up to 100 ms. The busy
        # timeout still covers other processes on the same file.
        self._write_lock: asyncio.Lock | nullcontext[None] = (
            asyncio.Lock() if engine.dialect.name == "sqlite" else nullcontext())

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncConnection]:
        async with self._write_lock, self._writer.begin() as conn:
            yield conn

    @classmethod
    async def open(cls, url: str, *, migrations: Sequence[tuple[int, Step]] = MIGRATIONS) -> SqlConversationStore:
        engine = _make_engine(url)
        store = cls(engine)
        try:
            await migrate(store._writer, migrations)
        except BaseException:
            await engine.dispose()
            raise
        return store

    async def close(self) -> None:
        await self._engine.dispose()

    @property
    def url(self) -> str:
        return self._engine.url.render_as_string(hide_password=True)

    async def schema_version(self) -> int:
        async with self._engine.connect() as conn:
            return (await conn.execute(select(schema_version.c.version))).scalar_one()

    # --- conversations ---------------------------------------------------------------------

    async def create(self, owner: str, title: str,
                     settings: ConversationSettings | None = None) -> StoredConversation:
        now = _now()
        settings = settings or ConversationSettings()
        conversation = StoredConversation(id=_new_id(), owner=owner, title=title, created_at=now, updated_at=now,
                                          system=settings.system, options=settings.options)
        async with self._write() as conn:
            await conn.execute(insert(C).values(id=conversation.id, owner=owner, title=title, created_at=now,
                                                updated_at=now, current_leaf_id=None,
                                                settings=settings.model_dump(mode="json")))
        return conversation

    async def update_settings(self, conversation_id: str, owner: str, settings: ConversationSettings) -> None:
        """The system prompt and generation options for this conversation's next answers."""
        async with self._write() as conn:
            result = await conn.execute(update(C).where(C.c.id == conversation_id, C.c.owner == owner)
                                        .values(settings=settings.model_dump(mode="json")))
            if result.rowcount == 0:
                raise ConversationNotFound(conversation_id)

    async def get(self, conversation_id: str, owner: str) -> StoredConversation:
        """The conversation with its active thread. Raises ConversationNotFound."""
        async with self._engine.connect() as conn:
            row = await _conversation_row(conn, conversation_id, owner)
            thread = await _thread(conn, conversation_id, row.current_leaf_id)
        return _conversation(row, thread)

    async def message(self, conversation_id: str, owner: str, message_id: str) -> StoredMessage:
        """One message with its alternatives (cheaper than the whole thread). Raises
        ConversationNotFound or MessageNotFound."""
        async with self._engine.connect() as conn:
            await _conversation_row(conn, conversation_id, owner)
            row = (await conn.execute(select(M).where(M.c.conversation_id == conversation_id,
                                                      M.c.id == message_id))).first()
            if row is None:
                raise MessageNotFound(message_id)
            parent = M.c.parent_id.is_(None) if row.parent_id is None else M.c.parent_id == row.parent_id
            siblings = list((await conn.execute(select(M.c.id).where(M.c.conversation_id == conversation_id, parent)
                                                .order_by(M.c.seq))).scalars())
        return _message(row, siblings)

    async def list_conversations(self, owner: str, search: str | None = None,
                                 limit: int = 200) -> list[ConversationSummary]:
        """Newest first. `search` matches the title or any message text, ignoring case (ASCII
        letters only on SQLite)."""
        count = select(func.count()).where(M.c.conversation_id == C.c.id).scalar_subquery()
        query = (select(C.c.id, C.c.title, C.c.created_at, C.c.updated_at, count.label("message_count"))
                 .where(C.c.owner == owner)
                 .order_by(C.c.updated_at.desc(), C.c.id)
                 .limit(limit))
        if search and search.strip():
            pattern = "%" + _escape_like(search.strip()) + "%"
            query = query.where(or_(
                C.c.title.ilike(pattern, escape="\\"),
                exists().where(M.c.conversation_id == C.c.id, M.c.content.ilike(pattern, escape="\\")),
            ))
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [ConversationSummary.model_validate(row._asdict()) for row in rows]

    async def rename(self, conversation_id: str, owner: str, title: str) -> None:
        title = " ".join(title.split())
        if not title:
            raise ValueError("A conversation needs a title.")
        async with self._write() as conn:
            result = await conn.execute(update(C).where(C.c.id == conversation_id, C.c.owner == owner)
                                        .values(title=title))
            if result.rowcount == 0:
                raise ConversationNotFound(conversation_id)

    async def delete(self, conversation_id: str, owner: str) -> None:
        async with self._write() as conn:
            await _conversation_row(conn, conversation_id, owner)
            # Explicit rather than relying on ON DELETE CASCADE, which SQLite only honours when
            # the connection enabled foreign keys.
            await conn.execute(delete(M).where(M.c.conversation_id == conversation_id))
            await conn.execute(delete(C).where(C.c.id == conversation_id))

    # --- messages --------------------------------------------------------------------------

    async def add_user_turn(self, conversation_id: str, owner: str, content: str, *,
                            sibling_of: str | None = None) -> str:
        """Append a user message under the current leaf and make it the leaf. With `sibling_of`
        (editing a question) it goes next to that message instead, under the same parent."""
        async with self._write() as conn:
            row = await _conversation_row(conn, conversation_id, owner)
            parent = await _parent_for(conn, row, sibling_of)
            return await _append(conn, conversation_id, parent, role="user", content=content)

    async def save_answer(self, record: StreamRecord, *, sibling_of: str | None = None) -> str:
        """Insert or update the answer written by `record.stream_id`; returns its message id.

        The first call inserts it under the current leaf (the question just added) — or, with
        `sibling_of` (regenerate), next to that answer — and makes it the leaf. Later calls only
        update text, reasoning, status and metadata: a few statements, fine to call as a
        checkpoint every few seconds while streaming.
        """
        meta = {k: v for k, v in record.metadata().items() if k not in _RECORD_COLUMNS}
        values = dict(content=record.text, think=record.think, status=record.status.value, meta=meta)
        async with self._write() as conn:
            existing = (await conn.execute(
                select(M.c.id).join(C, C.c.id == M.c.conversation_id)
                .where(M.c.conversation_id == record.conversation_id, M.c.stream_id == record.stream_id,
                       C.c.owner == record.owner))).scalar()
            now = _now()
            if existing is not None:
                await conn.execute(update(M).where(M.c.id == existing).values(**values, updated_at=now))
                # The conversation's last activity is when the answer ended, not when its save
                # happened to land (it may queue behind another conversation's writes); never backwards.
                activity = record.ended_at or now
                await conn.execute(update(C).where(C.c.id == record.conversation_id, C.c.updated_at < activity)
                                   .values(updated_at=activity))
                return existing
            row = await _conversation_row(conn, record.conversation_id, record.owner)
            parent = await _parent_for(conn, row, sibling_of)
            return await _append(conn, record.conversation_id, parent, role="assistant",
                                 stream_id=record.stream_id, **values)

    async def branch_from(self, conversation_id: str, owner: str, message_id: str) -> str | None:
        """Move the current leaf to the parent of `message_id`, so the next add_user_turn or
        save_answer becomes its sibling. Returns the new leaf (None: the conversation's root).
        Prefer `sibling_of=` on those calls: it does the same in the same transaction."""
        async with self._write() as conn:
            await _conversation_row(conn, conversation_id, owner)
            parent = await _parent_of(conn, conversation_id, message_id)
            await conn.execute(update(C).where(C.c.id == conversation_id).values(current_leaf_id=parent))
            return parent

    async def select_alternative(self, conversation_id: str, owner: str, message_id: str) -> StoredConversation:
        """Show the thread through `message_id`: the leaf becomes its newest deepest descendant
        (following the newest child at each step)."""
        async with self._write() as conn:
            row = await _conversation_row(conn, conversation_id, owner)
            tree = await _tree(conn, conversation_id)
            if message_id not in tree.parent:
                raise MessageNotFound(message_id)
            leaf = message_id
            while tree.children.get(leaf):
                leaf = tree.children[leaf][-1]
            await conn.execute(update(C).where(C.c.id == conversation_id).values(current_leaf_id=leaf))
            thread = await _thread(conn, conversation_id, leaf, tree)
        conversation = _conversation(row, thread)
        conversation.current_leaf_id = leaf
        return conversation

    async def all_messages(self, conversation_id: str, owner: str) -> list[StoredMessage]:
        """Every message of the tree, alternatives included, oldest first."""
        async with self._engine.connect() as conn:
            await _conversation_row(conn, conversation_id, owner)
            rows = (await conn.execute(select(M).where(M.c.conversation_id == conversation_id)
                                       .order_by(M.c.seq))).all()
        return _with_siblings(rows)

    async def mark_interrupted(self, *, stale_for: timedelta | None = None) -> int:
        """At start-up: answers that were still connecting/streaming/paused have lost their stream.
        Returns how many. With several instances on one database, pass `stale_for` (longer than
        the checkpoint interval) so answers another instance is still writing are left alone."""
        query = update(M).where(M.c.status.in_([s.value for s in LIVE_STATUSES]))
        if stale_for is not None:
            query = query.where(M.c.updated_at < _now() - stale_for)
        async with self._write() as conn:
            result = await conn.execute(query.values(status=StreamStatus.INTERRUPTED.value))
            return result.rowcount

    # --- export / import -------------------------------------------------------------------

    async def export_json(self, conversation_id: str, owner: str) -> dict[str, Any]:
        """Lossless: every message of the tree with reasoning, status and stream metadata."""
        return export_one((await self._exported(owner, conversation_id))[0])

    async def export_all(self, owner: str) -> dict[str, Any]:
        return export_many(await self._exported(owner))

    async def export_markdown(self, conversation_id: str, owner: str) -> str:
        """The active thread, readable."""
        return render_markdown(await self.get(conversation_id, owner))

    async def import_json(self, owner: str, data: Mapping[str, Any] | str | bytes) -> list[str]:
        """Import an export file as new conversations (new ids, nothing existing is touched).
        Raises InvalidImport, having changed nothing."""
        parsed = parse_import(data)
        new_ids: list[str] = []
        async with self._write() as conn:
            for conversation in parsed:
                new_ids.append(await _insert_imported(conn, owner, conversation))
        return new_ids

    async def _exported(self, owner: str, conversation_id: str | None = None) -> list[ExportedConversation]:
        scope = [C.c.owner == owner] + ([C.c.id == conversation_id] if conversation_id is not None else [])
        async with self._engine.connect() as conn:
            rows = (await conn.execute(select(C).where(*scope).order_by(C.c.updated_at.desc(), C.c.id))).all()
            if conversation_id is not None and not rows:
                raise ConversationNotFound(conversation_id)
            message_rows = (await conn.execute(select(M).join(C, C.c.id == M.c.conversation_id).where(*scope)
                                               .order_by(M.c.conversation_id, M.c.seq))).all()
        by_conversation: dict[str, list[Row]] = defaultdict(list)
        for m in message_rows:
            by_conversation[m.conversation_id].append(m)
        return [exported_conversation(_conversation(row, []), _with_siblings(by_conversation[row.id]))
                for row in rows]


# --- helpers (all run inside the caller's transaction) ---------------------------------------

class _Tree:
    """The shape of a conversation without the text: enough to walk threads and alternatives."""

    def __init__(self, rows: Iterable[Row]) -> None:
        self.parent: dict[str, str | None] = {}
        self.children: dict[str | None, list[str]] = defaultdict(list)  # oldest first; None: roots
        for row in rows:  # in seq order
            self.parent[row.id] = row.parent_id
            self.children[row.parent_id].append(row.id)

    def path_to(self, leaf: str | None) -> list[str]:
        path: list[str] = []
        while leaf is not None and leaf in self.parent and len(path) <= len(self.parent):
            path.append(leaf)
            leaf = self.parent[leaf]
        path.reverse()
        return path


async def _conversation_row(conn: AsyncConnection, conversation_id: str, owner: str) -> Row:
    row = (await conn.execute(select(C).where(C.c.id == conversation_id, C.c.owner == owner))).first()
    if row is None:
        raise ConversationNotFound(conversation_id)
    return row


async def _tree(conn: AsyncConnection, conversation_id: str) -> _Tree:
    rows = await conn.execute(select(M.c.id, M.c.parent_id).where(M.c.conversation_id == conversation_id)
                              .order_by(M.c.seq))
    return _Tree(rows)


async def _thread(conn: AsyncConnection, conversation_id: str, leaf: str | None,
                  tree: _Tree | None = None) -> list[StoredMessage]:
    """Root -> leaf, with each message's alternatives. Reads the tree's shape, then the text of
    just the messages on the path."""
    if leaf is None:
        return []
    tree = tree or await _tree(conn, conversation_id)
    path = tree.path_to(leaf)
    rows = {row.id: row for row in await conn.execute(select(M).where(M.c.id.in_(path)))}
    thread = []
    for message_id in path:
        siblings = tree.children[tree.parent[message_id]]
        thread.append(_message(rows[message_id], siblings))
    return thread


async def _parent_of(conn: AsyncConnection, conversation_id: str, message_id: str) -> str | None:
    row = (await conn.execute(select(M.c.parent_id).where(M.c.id == message_id,
                                                          M.c.conversation_id == conversation_id))).first()
    if row is None:
        raise MessageNotFound(message_id)
    return row.parent_id


async def _parent_for(conn: AsyncConnection, conversation: Row, sibling_of: str | None) -> str | None:
    if sibling_of is None:
        return conversation.current_leaf_id
    return await _parent_of(conn, conversation.id, sibling_of)


async def _append(conn: AsyncConnection, conversation_id: str, parent_id: str | None, **values: Any) -> str:
    """Insert a message and make it the current leaf."""
    now = _now()
    message_id = _new_id()
    seq = (await conn.execute(select(func.coalesce(func.max(M.c.seq), 0))
                              .where(M.c.conversation_id == conversation_id))).scalar_one() + 1
    values.setdefault("think", "")
    await conn.execute(insert(M).values(id=message_id, conversation_id=conversation_id, parent_id=parent_id, seq=seq,
                                        created_at=now, updated_at=now, **values))
    await conn.execute(update(C).where(C.c.id == conversation_id).values(current_leaf_id=message_id, updated_at=now))
    return message_id


async def _insert_imported(conn: AsyncConnection, owner: str, conversation: ExportedConversation) -> str:
    conversation_id = _new_id()
    ids = {m.id: _new_id() for m in conversation.messages}
    leaf = ids[conversation.current_leaf_id] if conversation.current_leaf_id else None
    await conn.execute(insert(C).values(id=conversation_id, owner=owner, title=conversation.title,
                                        created_at=conversation.created_at, updated_at=conversation.updated_at,
                                        current_leaf_id=leaf, settings=conversation.settings.model_dump(mode="json")))
    rows = [dict(id=ids[m.id], conversation_id=conversation_id, parent_id=ids[m.parent_id] if m.parent_id else None,
                 seq=seq, role=m.role, content=m.content, think=m.think, created_at=m.created_at,
                 updated_at=m.updated_at, stream_id=m.stream_id,
                 status=s.value if (s := importable_status(m.status)) else None, meta=m.metadata)
            for seq, m in enumerate(conversation.parents_first(), start=1)]
    if rows:
        # One executemany; parents come first, so the parent_id foreign key holds row by row.
        await conn.execute(insert(M), rows)
    return conversation_id


def _message(row: Row, siblings: Sequence[str]) -> StoredMessage:
    return StoredMessage(
        id=row.id, parent_id=row.parent_id, role=row.role, content=row.content, think=row.think,
        created_at=row.created_at, updated_at=row.updated_at, stream_id=row.stream_id,
        status=StreamStatus(row.status) if row.status else None, metadata=row.meta or {},
        sibling_ids=list(siblings), sibling_index=siblings.index(row.id),
    )


def _with_siblings(rows: Sequence[Row]) -> list[StoredMessage]:
    tree = _Tree(rows)
    return [_message(row, tree.children[row.parent_id]) for row in rows]


def _conversation(row: Row, thread: list[StoredMessage]) -> StoredConversation:
    settings = _settings(row.settings)
    conversation = StoredConversation(
        id=row.id, owner=row.owner, title=row.title, created_at=row.created_at, updated_at=row.updated_at,
        current_leaf_id=row.current_leaf_id, messages=thread, turns=[m.turn() for m in thread],
        system=settings.system, options=settings.options,
    )
    for index, message in enumerate(thread):
        record = message.stream_record(row.id, row.owner)
        if record is not None:
            conversation.answers[index] = record
    return conversation


def _settings(stored: Any) -> ConversationSettings:
    try:
        return ConversationSettings.model_validate(stored or {})
    except ValidationError:  # edited by hand: the defaults rather than a conversation that will not open
        return ConversationSettings()


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
