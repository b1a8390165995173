"""An import file into the tables: new ids, rows parents first, inserted in batches; and which of
its conversations the owner already has. Runs inside the caller's transaction (sql.py opens it).

Turning a parsed file into rows is pure and runs on a worker thread (`imported_rows`); only the
INSERTs run on the event loop, a batch at a time, so other requests are served between batches.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from itertools import islice
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from . import attachment_rows
from .export import ExportedConversation, importable_status
from .message_tree import ROWS_PER_READ, new_id
from .schema import attachments as A
from .schema import conversations as C
from .schema import messages as M

# Rows per INSERT. SQLAlchemy prepares each batch's parameters on the event loop (a few ms per
# 500 rows), then the driver's thread writes it; one statement for 100 000 rows would hold the
# loop for the whole preparation.
IMPORT_BATCH = 500


class ImportedRows:
    """One conversation of a file as rows to insert: the conversation's, and its messages' in an
    order whose parents come first (so the parent_id foreign key holds row by row)."""

    def __init__(self, owner: str, conversation: ExportedConversation) -> None:
        self.id = new_id()
        ids = {m.id: new_id() for m in conversation.messages}
        self.conversation: dict[str, Any] = dict(
            id=self.id, owner=owner, title=conversation.title, created_at=conversation.created_at,
            updated_at=conversation.updated_at,
            current_leaf_id=ids[conversation.current_leaf_id] if conversation.current_leaf_id else None,
            settings=conversation.settings.model_dump(mode="json"))
        self.messages = [
            dict(id=ids[m.id], conversation_id=self.id, parent_id=ids[m.parent_id] if m.parent_id else None,
                 seq=seq, role=m.role, content=m.content, think=m.think, created_at=m.created_at,
                 updated_at=m.updated_at, stream_id=m.stream_id,
                 status=s.value if (s := importable_status(m.status)) else None, meta=imported_meta(m.metadata))
            for seq, m in enumerate(conversation.parents_first(), start=1)]
        self.files = [row for m in conversation.messages if m.attachments and m.role == "user"
                      for row in attachment_rows.imported(owner, self.id, ids[m.id], m.attachments)]


def imported_rows(owner: str, conversations: Sequence[ExportedConversation]) -> list[ImportedRows]:
    """Pure: for a worker thread."""
    return [ImportedRows(owner, conversation) for conversation in conversations]


def imported_meta(metadata: dict) -> dict:
    """An imported answer's details without its attestation: that is kept only with the proof this
    app made of it, and a file could claim any."""
    return {**metadata, "attestation": None} if metadata.get("attestation") is not None else metadata


async def insert_imported(conn: AsyncConnection, rows: ImportedRows, title: str | None = None) -> str:
    """Insert one conversation (`title`: instead of the file's); returns its id."""
    await conn.execute(insert(C).values({**rows.conversation, **({"title": title} if title is not None else {})}))
    for batch in _batches(rows.messages, IMPORT_BATCH):
        await conn.execute(insert(M), batch)
    for batch in _batches(rows.files, IMPORT_BATCH // 10):  # each may carry an image
        await conn.execute(insert(A), batch)
    return rows.id


def _batches(items: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch


async def already_here(conn: AsyncConnection, owner: str,
                       parsed: Sequence[ExportedConversation]) -> list[str | None]:
    """For each exported conversation, the owner's conversation that already is it: import gives
    new ids but keeps the times, so it is the one that started at the same instant (to the
    microsecond) with the same first message. (At most MAX_IMPORT_CONVERSATIONS start times: one
    IN (...) takes them.)"""
    starts = {c.created_at for c in parsed}
    if not starts:
        return []
    same_start = (await conn.execute(select(C.c.id, C.c.created_at)
                                     .where(C.c.owner == owner, C.c.created_at.in_(starts)))).all()
    firsts: dict[str, set[tuple[Any, str]]] = defaultdict(set)
    ids = [row.id for row in same_start]
    for start in range(0, len(ids), ROWS_PER_READ):  # the owner may have imported this file many times
        roots = await conn.execute(select(M.c.conversation_id, M.c.created_at, M.c.content).where(
            M.c.conversation_id.in_(ids[start:start + ROWS_PER_READ]), M.c.parent_id.is_(None)))
        for root in roots:
            firsts[root.conversation_id].add((root.created_at, root.content))
    by_start: dict[Any, list[str]] = defaultdict(list)
    for row in same_start:
        by_start[row.created_at].append(row.id)
    found: list[str | None] = []
    for conversation in parsed:
        first = next(((m.created_at, m.content) for m in conversation.messages if m.parent_id is None), None)
        found.append(next((id_ for id_ in by_start[conversation.created_at]
                           if first is None or first in firsts[id_]), None))
    return found
