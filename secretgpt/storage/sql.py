"""`SqlConversationStore`: conversations as message trees in SQLite (default) or PostgreSQL.

Every conversation is a tree: regenerating an answer or editing a question adds a sibling
instead of overwriting, and `current_leaf_id` says which path through the tree is the active
thread. Every method takes the owner and treats someone else's conversation as not found.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from contextlib import asynccontextmanager, nullcontext
from datetime import timedelta
from typing import Any

from sqlalchemy import Row, delete, func, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..records import Attachment, ConversationSettings, ExtractedFile, StreamRecord
from . import attachment_rows as files
from .engine import database_url, forget_the_wal, make_engine, writer  # noqa: F401 (database_url: re-exported)
from .export import ExportedConversation, copy_title, export_many, export_one, exported_conversation, parse_import
from .import_rows import already_here, imported_rows, insert_imported
from .live_answers import interrupt_live, interrupt_stream
from .markdown_export import render_markdown
from .message_tree import (
    append,
    conversation_of,
    conversation_row,
    MESSAGE_COLUMNS,
    exported_message,
    in_batches,
    message_of,
    new_id,
    utc_now,
    parent_for,
    load_thread,
    load_tree,
    with_siblings,
)
from .migrations import MIGRATIONS, Step, migrate
from .proof_rows import keep_evidence, proof_of
from .schema import conversations as C
from .schema import messages as M
from .schema import schema_version
from ..records import AnswerProof, ConversationNotFound, ConversationSummary, ImportCandidate, MessageNotFound, StoredConversation, StoredMessage
from .search import forget_deleted, indexed, matching, search_terms
from .search import search as search_conversations

# Columns with their own place in the table; the rest of StreamRecord.metadata() goes to JSON.
_RECORD_COLUMNS = {"stream_id", "conversation_id", "status"}


class SqlConversationStore:
    def __init__(self, engine: AsyncEngine) -> None:
        """Use `await SqlConversationStore.open(url)`, which also migrates."""
        self._engine = engine
        self._writer = writer(engine)
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
        engine = make_engine(url)
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
    def engine(self) -> AsyncEngine:
        """The engine reads go through (writes take the write lock first): for inspection."""
        return self._engine

    async def ping(self) -> None:
        """One round trip to the database; raises if it cannot be reached."""
        async with self._engine.connect() as conn:
            await conn.execute(select(literal(1)))

    async def schema_version(self) -> int:
        async with self._engine.connect() as conn:
            return (await conn.execute(select(schema_version.c.version))).scalar_one()

    # --- conversations ---------------------------------------------------------------------

    async def create(self, owner: str, title: str,
                     settings: ConversationSettings | None = None) -> StoredConversation:
        now = utc_now()
        settings = settings or ConversationSettings()
        conversation = StoredConversation(id=new_id(), owner=owner, title=title, created_at=now, updated_at=now,
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
            row = await conversation_row(conn, conversation_id, owner)
            thread = await load_thread(conn, conversation_id, row.current_leaf_id)
            await _with_files(conn, thread)
        return conversation_of(row, thread)

    async def message(self, conversation_id: str, owner: str, message_id: str) -> StoredMessage:
        """One message with its alternatives (cheaper than the whole thread). Raises
        ConversationNotFound or MessageNotFound."""
        async with self._engine.connect() as conn:
            await conversation_row(conn, conversation_id, owner)
            row = (await conn.execute(select(M).where(M.c.conversation_id == conversation_id,
                                                      M.c.id == message_id))).first()
            if row is None:
                raise MessageNotFound.absent(message_id)
            parent = M.c.parent_id.is_(None) if row.parent_id is None else M.c.parent_id == row.parent_id
            siblings = list((await conn.execute(select(M.c.id).where(M.c.conversation_id == conversation_id, parent)
                                                .order_by(M.c.seq))).scalars())
            found = message_of(row, siblings)
            await _with_files(conn, [found])
        return found

    async def answer_proof(self, conversation_id: str, owner: str, message_id: str) -> AnswerProof:
        """What the proof of one answer is made of. Raises ConversationNotFound, MessageNotFound."""
        message = await self.message(conversation_id, owner, message_id)
        async with self._engine.connect() as conn:
            return await proof_of(conn, conversation_id, message)

    async def list_conversations(self, owner: str, search: str | None = None,
                                 limit: int = 200) -> list[ConversationSummary]:
        """Newest first; with `search`, best match first, each with a snippet (search.py)."""
        terms = search_terms(search)
        if terms is not None and indexed(self._engine.dialect.name):
            async with self._engine.connect() as conn:
                return await search_conversations(conn, owner, terms, limit)
        count = select(func.count()).where(M.c.conversation_id == C.c.id).scalar_subquery()
        query = (select(C.c.id, C.c.title, C.c.created_at, C.c.updated_at, count.label("message_count"))
                 .where(C.c.owner == owner)
                 .order_by(C.c.updated_at.desc(), C.c.id)
                 .limit(limit))
        if (found := matching(search)) is not None:
            query = query.where(found)
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
        """Delete for good: on SQLite no copy of the text stays in the data dir (secure_delete zeroes
        it in the database file, then the WAL, which still holds every version ever written, is
        checkpointed and truncated). On PostgreSQL the rows are gone, but their old versions stay on
        disk until VACUUM reuses the space (and in its WAL and backups): the operator's to manage."""
        async with self._write_lock:
            await self._delete(conversation_id, owner)
            await forget_the_wal(self._engine)

    async def _delete(self, conversation_id: str, owner: str) -> None:
        async with self._writer.begin() as conn:
            await conversation_row(conn, conversation_id, owner, lock=True)
            # Explicit rather than relying on ON DELETE CASCADE, which SQLite only honours when
            # the connection enabled foreign keys. The parent links go first: otherwise deleting
            # the root cascades down the thread one nested trigger per message, and SQLite stops
            # at 1 000 levels ("too many levels of trigger recursion") — a long thread could not
            # be deleted.
            await files.forget(conn, conversation_id)
            await conn.execute(update(M).where(M.c.conversation_id == conversation_id).values(parent_id=None))
            await conn.execute(delete(M).where(M.c.conversation_id == conversation_id))
            await conn.execute(delete(C).where(C.c.id == conversation_id))
            await forget_deleted(conn)

    # --- messages --------------------------------------------------------------------------

    async def add_user_turn(self, conversation_id: str, owner: str, content: str, *,
                            sibling_of: str | None = None, attachments: Sequence[str] = ()) -> str:
        """Append a user message under the current leaf and make it the leaf. With `sibling_of`
        (editing a question) it goes next to that message instead, under the same parent.
        `attachments`: uploads of the owner's (file ids) that go with it (an edit without any keeps
        the files of the question it replaces). Raises FileNotFound."""
        async with self._write() as conn:
            row = await conversation_row(conn, conversation_id, owner, lock=True)
            parent = await parent_for(conn, row, sibling_of)
            message_id = await append(conn, conversation_id, parent, role="user", content=content)
            await files.attach(conn, owner, conversation_id, message_id, attachments)
            if sibling_of is not None and not attachments:  # an edit without new files keeps the old ones
                await files.copy(conn, owner, conversation_id, sibling_of, message_id)
            return message_id

    # --- attachments -----------------------------------------------------------------------

    async def add_file(self, owner: str, extracted: ExtractedFile) -> Attachment:
        """Keep an upload until a message takes it (unsent ones are dropped after a day)."""
        async with self._write() as conn:
            await files.drop_unsent(conn)
            await conn.execute(insert(files.A).values(**files.file_values(owner, extracted)))
        return extracted.attachment

    async def unsent_files(self, owner: str, file_ids: Sequence[str]) -> list[Attachment]:
        """Raises FileNotFound for one that is not the owner's, or was sent already."""
        async with self._engine.connect() as conn:
            return await files.unsent(conn, owner, file_ids)

    async def file_contents(self, conversation_id: str, owner: str,
                            message_ids: Sequence[str]) -> dict[str, ExtractedFile]:
        """The text and bytes of these messages' files, by file id."""
        async with self._engine.connect() as conn:
            await conversation_row(conn, conversation_id, owner)
            return await files.contents(conn, message_ids)

    async def storage_bytes(self, conversation_id: str, owner: str) -> int:
        """What a conversation takes: its messages' text and its files (bytes, text, thumbnails)."""
        async with self._engine.connect() as conn:
            await conversation_row(conn, conversation_id, owner)
            text = (await conn.execute(select(func.coalesce(func.sum(func.length(M.c.content) + func.length(M.c.think)), 0))
                                       .where(M.c.conversation_id == conversation_id))).scalar()
            return int(text or 0) + await files.stored_bytes(conn, conversation_id)

    async def save_answer(self, record: StreamRecord, *, sibling_of: str | None = None) -> str:
        """Insert or update the answer written by `record.stream_id`; returns its message id.

        The first call inserts it under the current leaf (the question just added) — or, with
        `sibling_of` (regenerate), next to that answer — and makes it the leaf. Later calls only
        update text, reasoning, status and metadata: a few statements, fine to call as a
        checkpoint every few seconds while streaming.
        """
        meta = {k: v for k, v in record.metadata().items() if k not in _RECORD_COLUMNS}
        values = dict(content=record.text, think=record.think, status=record.status.value, meta=meta)
        if record.provenance is not None:
            values["proof"] = record.provenance.model_dump(mode="json")
        async with self._write() as conn:
            row = await conversation_row(conn, record.conversation_id, record.owner, lock=True)
            await keep_evidence(conn, record)
            existing = (await conn.execute(select(M.c.id).where(
                M.c.conversation_id == record.conversation_id, M.c.stream_id == record.stream_id))).scalar()
            now = utc_now()
            if existing is not None:
                await conn.execute(update(M).where(M.c.id == existing).values(**values, updated_at=now))
                # The conversation's last activity is when the answer ended, not when its save
                # happened to land (it may queue behind another conversation's writes); never backwards.
                activity = record.ended_at or now
                await conn.execute(update(C).where(C.c.id == record.conversation_id, C.c.updated_at < activity)
                                   .values(updated_at=activity))
                return existing
            parent = await parent_for(conn, row, sibling_of)
            return await append(conn, record.conversation_id, parent, role="assistant",
                                 stream_id=record.stream_id, **values)

    async def select_alternative(self, conversation_id: str, owner: str, message_id: str) -> StoredConversation:
        """Show the thread through `message_id`: the leaf becomes its newest deepest descendant
        (following the newest child at each step)."""
        async with self._write() as conn:
            row = await conversation_row(conn, conversation_id, owner, lock=True)
            tree = await load_tree(conn, conversation_id)
            if message_id not in tree.parent:
                raise MessageNotFound.absent(message_id)
            leaf = message_id
            while tree.children.get(leaf):
                leaf = tree.children[leaf][-1]
            await conn.execute(update(C).where(C.c.id == conversation_id).values(current_leaf_id=leaf))
            thread = await load_thread(conn, conversation_id, leaf, tree)
            await _with_files(conn, thread)
        conversation = conversation_of(row, thread)
        conversation.current_leaf_id = leaf
        return conversation

    async def all_messages(self, conversation_id: str, owner: str) -> list[StoredMessage]:
        """Every message of the tree, alternatives included, oldest first."""
        async with self._engine.connect() as conn:
            await conversation_row(conn, conversation_id, owner)
            rows = (await conn.execute(select(M).where(M.c.conversation_id == conversation_id)
                                       .order_by(M.c.seq))).all()
        return with_siblings(rows)

    async def mark_interrupted(self, *, stale_for: timedelta | None = None, keep: Collection[str] = (),
                               only: Collection[str] | None = None) -> int:
        """At start-up: answers that were still connecting/streaming/paused have lost their stream;
        marks them interrupted and returns how many. With several instances on one database, some
        are other instances' streams in progress: `keep` names the streams alive elsewhere, or
        `only` the ones known dead (only those are marked); `stale_for` (longer than the
        checkpoint interval) also leaves alone any answer written that recently — one whose
        stream started after `keep` was read, say."""
        stale_before = utc_now() - stale_for if stale_for is not None else None
        async with self._write() as conn:
            return await interrupt_live(conn, stale_before=stale_before, keep=keep, only=only)

    async def mark_stream_interrupted(self, stream_id: str) -> bool:
        """One answer whose stream is gone (an instance that died, found by another): marked
        interrupted if it is still live. Whether it was."""
        async with self._write() as conn:
            return await interrupt_stream(conn, stream_id)

    # --- export / import -------------------------------------------------------------------
    # The files' CPU work (building and validating the documents, parsing an import) runs on a
    # worker thread: linear, but seconds for a 100 000-message file, which must not stop the loop.

    async def export_json(self, conversation_id: str, owner: str) -> dict[str, Any]:
        """Lossless: every message of the tree with reasoning, status and stream metadata."""
        exported = await self._exported(owner, conversation_id)
        return await asyncio.to_thread(lambda: export_one(exported[0]))

    async def export_all(self, owner: str) -> dict[str, Any]:
        exported = await self._exported(owner)
        return await asyncio.to_thread(export_many, exported)

    async def export_markdown(self, conversation_id: str, owner: str) -> str:
        """The active thread, readable."""
        return await asyncio.to_thread(render_markdown, await self.get(conversation_id, owner))

    async def import_json(self, owner: str, data: Mapping[str, Any] | str | bytes,
                          skip_existing: bool = False) -> list[str]:
        """Import an export file as new conversations (new ids, nothing existing is touched);
        `skip_existing` leaves out those the owner already has (see `preview_import`).
        Raises InvalidImport (ImportTooLarge over a cap), having changed nothing."""
        parsed = await asyncio.to_thread(parse_import, data)
        here = await self._already_here(owner, parsed)
        if skip_existing:
            parsed = [c for c, existing in zip(parsed, here) if existing is None]
            here = [None] * len(parsed)
        prepared = await asyncio.to_thread(imported_rows, owner, parsed)
        new_ids: list[str] = []
        async with self._write() as conn:
            titles = set((await conn.execute(select(C.c.title).where(C.c.owner == owner))).scalars())
            for conversation, rows, existing in zip(parsed, prepared, here):
                title = None
                if existing is not None:  # a copy of one the owner has: told apart in the list by its title
                    title = copy_title(conversation.title, titles)
                    titles.add(title)
                new_ids.append(await insert_imported(conn, rows, title))
        return new_ids

    async def preview_import(self, owner: str, data: Mapping[str, Any] | str | bytes) -> list[ImportCandidate]:
        """What `import_json` would import, and which of it the owner already has. Raises InvalidImport."""
        parsed = await asyncio.to_thread(parse_import, data)
        existing = await self._already_here(owner, parsed)
        return [ImportCandidate(title=c.title, message_count=len(c.messages), existing_id=e)
                for c, e in zip(parsed, existing)]

    async def _already_here(self, owner: str, parsed: Sequence[ExportedConversation]) -> list[str | None]:
        async with self._engine.connect() as conn:
            return await already_here(conn, owner, parsed)

    async def _exported(self, owner: str, conversation_id: str | None = None) -> list[ExportedConversation]:
        scope = [C.c.owner == owner] + ([C.c.id == conversation_id] if conversation_id is not None else [])
        async with self._engine.connect() as conn:
            rows = (await conn.execute(select(C).where(*scope).order_by(C.c.updated_at.desc(), C.c.id))).all()
            if conversation_id is not None and not rows:
                raise ConversationNotFound(conversation_id)
            message_rows = [row async for rows in in_batches(conn, select(*MESSAGE_COLUMNS).join(
                C, C.c.id == M.c.conversation_id).where(*scope).order_by(M.c.conversation_id, M.c.seq)) for row in rows]
            kept = await files.exported(conn, [row.id for row in rows])

        def build() -> list[ExportedConversation]:
            by_conversation: dict[str, list[Row]] = defaultdict(list)
            for m in message_rows:
                by_conversation[m.conversation_id].append(m)
            return [exported_conversation(conversation_of(row, []), [
                exported_message(m).model_copy(update={"attachments": kept.get(m.id, [])})
                for m in by_conversation[row.id]]) for row in rows]

        return await asyncio.to_thread(build)


async def _with_files(conn: AsyncConnection, messages: Sequence[StoredMessage]) -> None:
    """Each user message's files (their listing), read in one go."""
    asked = [m.id for m in messages if m.role == "user"]
    if not asked:
        return
    found = await files.listings(conn, asked)
    for message in messages:
        message.attachments = found.get(message.id, [])
