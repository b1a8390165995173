"""The message tree inside a transaction: walking threads and alternatives, appending messages,
and turning rows into stored records. Every function runs inside the caller's transaction (sql.py
opens it; imports: import_rows.py)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import datetime, timezone
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Row, Select, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..records import ConversationSettings, StreamStatus
from .export import ExportedMessage
from .schema import conversations as C
from .schema import messages as M
from ..records import ConversationNotFound, MessageNotFound, StoredConversation, StoredMessage


# Rows per read of a long conversation (an import may hold 100 000 messages): SQLAlchemy turns
# each batch into rows on the event loop, a few ms per 1 000, and the loop serves other requests
# between batches. Also well below the bound parameters one IN (...) may have (PostgreSQL: 32 767).
ROWS_PER_READ = 1_000
# Every column but `proof`: each answer's provenance holds every turn it was sent, which only its
# proof needs (a thread of n answers would read O(n²) of it).
MESSAGE_COLUMNS = [column for column in M.c if column.key != "proof"]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def new_id() -> str:
    return uuid.uuid4().hex


class Tree:
    """The shape of a conversation without the text: enough to walk threads and alternatives."""

    def __init__(self, rows: Iterable[Row] = ()) -> None:
        self.parent: dict[str, str | None] = {}
        self.children: dict[str | None, list[str]] = defaultdict(list)  # oldest first; None: roots
        self.add(rows)

    def add(self, rows: Iterable[Row]) -> None:
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


async def conversation_row(conn: AsyncConnection, conversation_id: str, owner: str, *, lock: bool = False) -> Row:
    """The owner's conversation, or ConversationNotFound. `lock`: in a write transaction that
    changes its messages, hold the row until commit, so writers of one conversation (several
    instances on one PostgreSQL) take turns: two appends would pick the same `seq`, two saves of
    one stream would both insert it. (SQLite renders no FOR UPDATE: its writers take turns
    anyway, BEGIN IMMEDIATE.)"""
    query = select(C).where(C.c.id == conversation_id, C.c.owner == owner)
    row = (await conn.execute(query.with_for_update() if lock else query)).first()
    if row is None:
        raise ConversationNotFound(conversation_id)
    return row


async def load_tree(conn: AsyncConnection, conversation_id: str) -> Tree:
    tree = Tree()
    async for rows in in_batches(conn, select(M.c.id, M.c.parent_id).where(M.c.conversation_id == conversation_id)
                                 .order_by(M.c.seq)):
        tree.add(rows)
    return tree


async def in_batches(conn: AsyncConnection, query: Select[Any]) -> AsyncIterator[Sequence[Row]]:
    """The rows of `query`, ROWS_PER_READ at a time (a server-side cursor)."""
    result = await conn.stream(query)
    async for rows in result.partitions(ROWS_PER_READ):
        yield rows


async def load_thread(conn: AsyncConnection, conversation_id: str, leaf: str | None,
                  tree: Tree | None = None) -> list[StoredMessage]:
    """Root -> leaf, with each message's alternatives. Reads the tree's shape, then the text of
    just the messages on the path."""
    if leaf is None:
        return []
    tree = tree or await load_tree(conn, conversation_id)
    path = tree.path_to(leaf)
    thread = []
    for start in range(0, len(path), ROWS_PER_READ):
        chunk = path[start:start + ROWS_PER_READ]
        rows = {row.id: row for row in await conn.execute(select(*MESSAGE_COLUMNS).where(M.c.id.in_(chunk)))}
        thread += [message_of(rows[message_id], tree.children[tree.parent[message_id]]) for message_id in chunk]
    return thread


async def parent_of(conn: AsyncConnection, conversation_id: str, message_id: str) -> str | None:
    row = (await conn.execute(select(M.c.parent_id).where(M.c.id == message_id,
                                                          M.c.conversation_id == conversation_id))).first()
    if row is None:
        raise MessageNotFound.absent(message_id)
    return row.parent_id


async def parent_for(conn: AsyncConnection, conversation: Row, sibling_of: str | None) -> str | None:
    if sibling_of is None:
        return conversation.current_leaf_id
    return await parent_of(conn, conversation.id, sibling_of)


async def append(conn: AsyncConnection, conversation_id: str, parent_id: str | None, **values: Any) -> str:
    """Insert a message and make it the current leaf."""
    now = utc_now()
    message_id = new_id()
    seq = (await conn.execute(select(func.coalesce(func.max(M.c.seq), 0))
                              .where(M.c.conversation_id == conversation_id))).scalar_one() + 1
    values.setdefault("think", "")
    await conn.execute(insert(M).values(id=message_id, conversation_id=conversation_id, parent_id=parent_id, seq=seq,
                                        created_at=now, updated_at=now, **values))
    await conn.execute(update(C).where(C.c.id == conversation_id).values(current_leaf_id=message_id, updated_at=now))
    return message_id


def message_of(row: Row, siblings: Sequence[str]) -> StoredMessage:
    return StoredMessage(
        id=row.id, parent_id=row.parent_id, role=row.role, content=row.content, think=row.think,
        created_at=row.created_at, updated_at=row.updated_at, stream_id=row.stream_id,
        status=StreamStatus(row.status) if row.status else None, metadata=row.meta or {},
        sibling_ids=list(siblings), sibling_index=siblings.index(row.id),
    )


def exported_message(row: Row) -> ExportedMessage:
    """A message as the export file has it (its siblings are the file's shape: not listed)."""
    return ExportedMessage(
        id=row.id, parent_id=row.parent_id, role=row.role, content=row.content, think=row.think,
        created_at=row.created_at, updated_at=row.updated_at, stream_id=row.stream_id,
        status=StreamStatus(row.status) if row.status else None, metadata=row.meta or {},
    )


def with_siblings(rows: Sequence[Row]) -> list[StoredMessage]:
    tree = Tree(rows)
    return [message_of(row, tree.children[row.parent_id]) for row in rows]


def conversation_of(row: Row, thread: list[StoredMessage]) -> StoredConversation:
    settings = _settings(row.settings)
    return StoredConversation(
        id=row.id, owner=row.owner, title=row.title, created_at=row.created_at, updated_at=row.updated_at,
        current_leaf_id=row.current_leaf_id, messages=thread, system=settings.system, options=settings.options,
    )


def _settings(stored: Any) -> ConversationSettings:
    try:
        return ConversationSettings.model_validate(stored or {})
    except ValidationError:  # edited by hand: the defaults rather than a conversation that will not open
        return ConversationSettings()
