"""Answers still marked live (connecting, streaming, paused) whose stream is gone: marked
interrupted. Runs inside the caller's write transaction (sql.py opens it).

With several instances on one database, a live answer may be another instance's stream in
progress: the caller says which streams to leave (`keep`) or which to mark (`only`). The live
answers are few (those being written now, plus any a crash left), so they are read and picked
here rather than in SQL: a `keep` of any size needs no bound parameters (PostgreSQL allows
32 767 per statement).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..records import LIVE_STATUSES, StreamStatus
from .message_tree import ROWS_PER_READ
from .schema import messages as M

_LIVE = sorted(status.value for status in LIVE_STATUSES)


async def interrupt_live(conn: AsyncConnection, *, stale_before: datetime | None = None,
                         keep: Collection[str] = (), only: Collection[str] | None = None) -> int:
    """Mark interrupted every live answer last written before `stale_before` (None: any), whose
    stream is not in `keep` and, if `only` is given, is in `only`. Returns how many."""
    query = select(M.c.id, M.c.stream_id).where(M.c.status.in_(_LIVE))
    if stale_before is not None:
        query = query.where(M.c.updated_at < stale_before)
    kept, wanted = frozenset(keep), None if only is None else frozenset(only)
    ids = [row.id for row in await conn.execute(query)
           if row.stream_id not in kept and (wanted is None or row.stream_id in wanted)]
    marked = 0
    for start in range(0, len(ids), ROWS_PER_READ):
        marked += await _interrupt(conn, M.c.id.in_(ids[start:start + ROWS_PER_READ]))
    return marked


async def interrupt_stream(conn: AsyncConnection, stream_id: str) -> bool:
    """Mark interrupted the answer `stream_id` writes, if it is still live. Whether it was."""
    return await _interrupt(conn, M.c.stream_id == stream_id) > 0


async def _interrupt(conn: AsyncConnection, which: ColumnElement[bool]) -> int:
    # The status is checked again here: an answer that ended since it was read (its instance was
    # alive after all, on PostgreSQL writing at the same time) keeps the status it ended with.
    result = await conn.execute(update(M).where(which, M.c.status.in_(_LIVE))
                                .values(status=StreamStatus.INTERRUPTED.value))
    return result.rowcount
