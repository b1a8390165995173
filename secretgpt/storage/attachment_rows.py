"""Rows of the attachments table: a file uploaded (not yet sent), the files a user message was sent
with (their listing for the page, their text and bytes for the model), and their part of a
conversation's storage. Every function runs inside the caller's transaction (sql.py opens it)."""

from __future__ import annotations

import base64
import secrets
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import Row, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..records import Attachment, ExtractedFile, FileNotFound
from .export import ExportedAttachment
from .message_tree import ROWS_PER_READ, utc_now
from .schema import attachments as A

# An upload never sent with a message is dropped after this (the next upload, anyone's, does it).
UNSENT_KEPT = timedelta(days=1)
LISTING = [A.c.id, A.c.message_id, A.c.position, A.c.name, A.c.kind, A.c.media_type, A.c.size, A.c.sha256,
           A.c.chars, A.c.pages, A.c.thumbnail]


def attachment_of(row: Row) -> Attachment:
    return Attachment(file_id=row.id, name=row.name, kind=row.kind, media_type=row.media_type, size=row.size,
                      sha256=row.sha256, chars=row.chars, pages=row.pages, thumbnail=row.thumbnail)


def file_values(owner: str, extracted: ExtractedFile) -> dict[str, Any]:
    a = extracted.attachment
    return dict(id=a.file_id, owner=owner, name=a.name, kind=a.kind, media_type=a.media_type, size=a.size,
                sha256=a.sha256, chars=a.chars, pages=a.pages, text=extracted.text, data=extracted.data,
                thumbnail=a.thumbnail, position=0, created_at=utc_now())


async def drop_unsent(conn: AsyncConnection) -> None:
    await conn.execute(delete(A).where(A.c.message_id.is_(None), A.c.created_at < utc_now() - UNSENT_KEPT))


async def unsent(conn: AsyncConnection, owner: str, file_ids: Sequence[str]) -> list[Attachment]:
    """The owner's uploads not yet sent, in the order asked. Raises FileNotFound."""
    rows = {row.id: row for row in await conn.execute(select(*LISTING).where(
        A.c.id.in_(list(file_ids)), A.c.owner == owner, A.c.message_id.is_(None)))}
    missing = [file_id for file_id in file_ids if file_id not in rows]
    if missing:
        raise FileNotFound(f"No file {missing[0]!r} to attach: upload it first (POST /api/v1/files); each upload "
                           "goes with one message.")
    return [attachment_of(rows[file_id]) for file_id in file_ids]


async def attach(conn: AsyncConnection, owner: str, conversation_id: str, message_id: str,
                 file_ids: Sequence[str]) -> None:
    """The uploads go with this message, in this order. Raises FileNotFound (one taken meanwhile)."""
    for position, file_id in enumerate(file_ids):
        result = await conn.execute(update(A).where(A.c.id == file_id, A.c.owner == owner, A.c.message_id.is_(None))
                                    .values(message_id=message_id, conversation_id=conversation_id,
                                            position=position))
        if result.rowcount == 0:
            raise FileNotFound(f"The file {file_id!r} was sent with another message meanwhile.")


async def listings(conn: AsyncConnection, message_ids: Iterable[str]) -> dict[str, list[Attachment]]:
    """Each message's files, in order (without their text or bytes)."""
    found: dict[str, list[Attachment]] = defaultdict(list)
    ids = list(message_ids)
    for start in range(0, len(ids), ROWS_PER_READ):
        rows = await conn.execute(select(*LISTING).where(A.c.message_id.in_(ids[start:start + ROWS_PER_READ]))
                                  .order_by(A.c.message_id, A.c.position))
        for row in rows:
            found[row.message_id].append(attachment_of(row))
    return found


async def contents(conn: AsyncConnection, message_ids: Iterable[str]) -> dict[str, ExtractedFile]:
    """The files of these messages with their text and bytes, by file id (what the model is sent)."""
    found: dict[str, ExtractedFile] = {}
    ids = list(message_ids)
    for start in range(0, len(ids), ROWS_PER_READ):
        for row in await conn.execute(select(*LISTING, A.c.text, A.c.data)
                                      .where(A.c.message_id.in_(ids[start:start + ROWS_PER_READ]))):
            found[row.id] = ExtractedFile(attachment=attachment_of(row), text=row.text, data=row.data)
    return found


async def stored_bytes(conn: AsyncConnection, conversation_id: str) -> int:
    """What a conversation's files take: their text (UTF-8, about) and bytes, with thumbnails."""
    total = (await conn.execute(select(func.coalesce(func.sum(
        func.coalesce(func.length(A.c.text), 0) + func.coalesce(func.length(A.c.data), 0)
        + func.coalesce(func.length(A.c.thumbnail), 0)), 0)).where(A.c.conversation_id == conversation_id))).scalar()
    return int(total or 0)


async def forget(conn: AsyncConnection, conversation_id: str) -> None:
    await conn.execute(delete(A).where(A.c.conversation_id == conversation_id))


async def exported(conn: AsyncConnection, conversation_ids: Sequence[str]) -> dict[str, list[ExportedAttachment]]:
    """Each message's files as an export file has them, by message id."""
    found: dict[str, list[ExportedAttachment]] = defaultdict(list)
    for start in range(0, len(conversation_ids), ROWS_PER_READ):
        rows = await conn.execute(select(A).where(A.c.conversation_id.in_(conversation_ids[start:start + ROWS_PER_READ]),
                                                  A.c.message_id.is_not(None)).order_by(A.c.message_id, A.c.position))
        for row in rows:
            found[row.message_id].append(ExportedAttachment(
                name=row.name, kind=row.kind, media_type=row.media_type, size=row.size, sha256=row.sha256,
                chars=row.chars, pages=row.pages, text=row.text, thumbnail=row.thumbnail,
                data=base64.b64encode(row.data) if row.data is not None else None))
    return found


def imported(owner: str, conversation_id: str, message_id: str,
             attachments: Sequence[ExportedAttachment]) -> list[dict[str, Any]]:
    """An imported message's files as rows (new ids; the text counted again, not taken from the file)."""
    return [dict(id=secrets.token_hex(16), owner=owner, conversation_id=conversation_id, message_id=message_id,
                 position=position, name=a.name, kind=a.kind, media_type=a.media_type, size=a.size, sha256=a.sha256,
                 chars=len(a.text) if a.text is not None else None, pages=a.pages, text=a.text,
                 data=a.data if a.kind == "image" else None, thumbnail=a.thumbnail, created_at=utc_now())
            for position, a in enumerate(attachments)]


async def copy(conn: AsyncConnection, owner: str, conversation_id: str, from_message: str, to_message: str) -> None:
    """An edited question keeps the files of the one it replaces (new rows: each message owns its own)."""
    rows = (await conn.execute(select(A).where(A.c.message_id == from_message).order_by(A.c.position))).all()
    for row in rows:
        await conn.execute(insert(A).values({**row._asdict(), "id": secrets.token_hex(16), "owner": owner,
                                             "conversation_id": conversation_id, "message_id": to_message,
                                             "created_at": utc_now()}))
