"""Forward-only schema migrations, run in one transaction at start-up.

Each step takes a database from version N-1 to N. Steps are frozen once released: they describe
the tables as they were at that version, not as schema.py has them today, so an old database
always walks the same path as a new one. A failing step rolls everything back, leaving the
database at the version it had (SQLite DDL is transactional once SQLAlchemy emits BEGIN itself,
see engine.py; PostgreSQL DDL is transactional anyway).

Several instances may start at once on one database: one migrates, the others wait for it and
find the work done. On SQLite the transaction's BEGIN IMMEDIATE takes the file's write lock up
front; on PostgreSQL, where two transactions creating one table both get past "does it exist?"
and the second fails on a catalog index, a transaction-level advisory lock does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    Connection,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncEngine

from .schema import schema_version

Step = Callable[[Connection], None]

# PostgreSQL advisory lock taken for the migration transaction: any fixed 64-bit number that no
# other application on the database uses (these are the bytes "SGPTschm"). Advisory locks are
# per database, so instances on other databases of the same server never wait for each other.
MIGRATION_LOCK_KEY = 0x5347_5054_7363_686D


class SchemaTooNew(RuntimeError):
    """The database was written by a newer SecretGPT; this one will not touch it."""


def _v1(conn: Connection) -> None:
    """conversations + messages (a message tree per conversation)."""
    md = MetaData()
    Table(
        "conversations", md,
        Column("id", String(32), primary_key=True),
        Column("owner", String(255), nullable=False),
        Column("title", Text, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("updated_at", DateTime(timezone=True), nullable=False),
        Column("current_leaf_id", String(32), nullable=True),
        Index("ix_conversations_owner_updated", "owner", "updated_at"),
    )
    Table(
        "messages", md,
        Column("id", String(32), primary_key=True),
        Column("conversation_id", String(32), ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False),
        Column("parent_id", String(32), ForeignKey("messages.id", ondelete="CASCADE"), nullable=True),
        Column("seq", Integer, nullable=False),
        Column("role", String(16), nullable=False),
        Column("content", Text, nullable=False),
        Column("think", Text, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("updated_at", DateTime(timezone=True), nullable=False),
        Column("stream_id", String(64), nullable=True),
        Column("status", String(32), nullable=True),
        Column("metadata", JSON().with_variant(JSONB(), "postgresql"), nullable=True),
        CheckConstraint("role IN ('system', 'user', 'assistant')", name="ck_messages_role"),
        UniqueConstraint("conversation_id", "seq", name="uq_messages_conversation_seq"),
        UniqueConstraint("conversation_id", "stream_id", name="uq_messages_conversation_stream"),
        Index("ix_messages_parent", "parent_id"),
        Index("ix_messages_status", "status"),
    )
    md.create_all(conn)


def _v2(conn: Connection) -> None:
    """conversations.settings: each conversation's system prompt and generation options."""
    json_type = JSON().with_variant(JSONB(), "postgresql").compile(dialect=conn.dialect)
    conn.execute(text(f"ALTER TABLE conversations ADD COLUMN settings {json_type}"))


def _v3(conn: Connection) -> None:
    """messages.proof (what an answer's proof needs) and the evidence table (each host
    attestation's raw evidence, once)."""
    json_type = JSON().with_variant(JSONB(), "postgresql")
    conn.execute(text(f"ALTER TABLE messages ADD COLUMN proof {json_type.compile(dialect=conn.dialect)}"))
    md = MetaData()
    Table(
        "evidence", md,
        Column("id", String(64), primary_key=True),
        Column("origin", Text, nullable=False),
        Column("captured_at", DateTime(timezone=True), nullable=False),
        Column("evidence", json_type, nullable=False),
    )
    md.create_all(conn)


# v4's full-text index on SQLite: FTS5 over the titles and message texts, through `search_docs`
# (an INTEGER key per text: the index's rowids must survive a VACUUM, which renumbers the implicit
# rowids of tables keyed by text; and the owner, so a search reads only the owner's part of the
# index) and the view `search_texts` the index reads its text from (an external-content index: the
# text is not stored twice). Triggers keep it in step with every write, whoever makes it (saves,
# checkpoints, renames, deletes, imports); a delete passes the index what it indexed, from
# search_docs, whatever order rows go in.
_SQLITE_SEARCH = (
    """CREATE TABLE search_docs (
        id INTEGER PRIMARY KEY,
        conversation_id VARCHAR(32) NOT NULL,
        message_id VARCHAR(32) UNIQUE,
        owner VARCHAR(255) NOT NULL)""",
    "CREATE UNIQUE INDEX ux_search_docs_title ON search_docs (conversation_id) WHERE message_id IS NULL",
    """CREATE VIEW search_texts AS
        SELECT d.id AS id, m.content AS body, d.owner AS owner
            FROM search_docs d JOIN messages m ON m.id = d.message_id
        UNION ALL
        SELECT d.id AS id, c.title AS body, d.owner AS owner
            FROM search_docs d JOIN conversations c ON c.id = d.conversation_id AND d.message_id IS NULL""",
    # unicode61 with diacritics folded: words in any script, case and accents ignored; no stemming
    # (the language of a conversation is not known), like PostgreSQL's 'simple' configuration.
    """CREATE VIRTUAL TABLE search_index USING fts5(body, owner, content='search_texts', content_rowid='id',
        tokenize='unicode61 remove_diacritics 2')""",
    # Ranked by the text alone (BM25), not by the owner column.
    "INSERT INTO search_index (search_index, rank) VALUES ('rank', 'bm25(1.0, 0.0)')",
    """CREATE TRIGGER search_message_added AFTER INSERT ON messages BEGIN
        INSERT INTO search_docs (conversation_id, message_id, owner)
            SELECT new.conversation_id, new.id, owner FROM conversations WHERE id = new.conversation_id;
        INSERT INTO search_index (rowid, body, owner)
            SELECT id, new.content, owner FROM search_docs WHERE message_id = new.id;
    END""",
    """CREATE TRIGGER search_message_changed AFTER UPDATE OF content ON messages
        WHEN old.content IS NOT new.content BEGIN
        INSERT INTO search_index (search_index, rowid, body, owner)
            SELECT 'delete', id, old.content, owner FROM search_docs WHERE message_id = old.id;
        INSERT INTO search_index (rowid, body, owner)
            SELECT id, new.content, owner FROM search_docs WHERE message_id = new.id;
    END""",
    """CREATE TRIGGER search_message_deleted AFTER DELETE ON messages BEGIN
        INSERT INTO search_index (search_index, rowid, body, owner)
            SELECT 'delete', id, old.content, owner FROM search_docs WHERE message_id = old.id;
        DELETE FROM search_docs WHERE message_id = old.id;
    END""",
    """CREATE TRIGGER search_conversation_added AFTER INSERT ON conversations BEGIN
        INSERT INTO search_docs (conversation_id, message_id, owner) VALUES (new.id, NULL, new.owner);
        INSERT INTO search_index (rowid, body, owner)
            SELECT id, new.title, owner FROM search_docs WHERE conversation_id = new.id AND message_id IS NULL;
    END""",
    """CREATE TRIGGER search_conversation_renamed AFTER UPDATE OF title ON conversations
        WHEN old.title IS NOT new.title BEGIN
        INSERT INTO search_index (search_index, rowid, body, owner)
            SELECT 'delete', id, old.title, owner FROM search_docs
            WHERE conversation_id = old.id AND message_id IS NULL;
        INSERT INTO search_index (rowid, body, owner)
            SELECT id, new.title, owner FROM search_docs WHERE conversation_id = new.id AND message_id IS NULL;
    END""",
    """CREATE TRIGGER search_conversation_deleted AFTER DELETE ON conversations BEGIN
        INSERT INTO search_index (search_index, rowid, body, owner)
            SELECT 'delete', id, old.title, owner FROM search_docs
            WHERE conversation_id = old.id AND message_id IS NULL;
        DELETE FROM search_docs WHERE conversation_id = old.id AND message_id IS NULL;
    END""",
    # What is there already: a document per title and per message, then the index built from them.
    "INSERT INTO search_docs (conversation_id, message_id, owner) SELECT id, NULL, owner FROM conversations",
    """INSERT INTO search_docs (conversation_id, message_id, owner)
        SELECT m.conversation_id, m.id, c.owner FROM messages m JOIN conversations c ON c.id = m.conversation_id""",
    "INSERT INTO search_index (search_index) VALUES ('rebuild')",
)

# v4 on PostgreSQL: a tsvector kept by the database itself (a stored generated column, so every
# write keeps it in step and the migration fills it for the rows there are) with a GIN index. Only
# the first 100 000 characters of a text are indexed: a tsvector holds at most 1 MB, and a longer
# one would make the save of the text itself fail.
_POSTGRES_SEARCH = (
    """ALTER TABLE messages ADD COLUMN search_vector tsvector
        GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, left(content, 100000))) STORED""",
    """ALTER TABLE conversations ADD COLUMN search_vector tsvector
        GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, left(title, 100000))) STORED""",
    "CREATE INDEX ix_messages_search ON messages USING gin (search_vector)",
    "CREATE INDEX ix_conversations_search ON conversations USING gin (search_vector)",
)


def _v4(conn: Connection) -> None:
    """Full-text search over titles and messages: FTS5 on SQLite, tsvector on PostgreSQL."""
    if conn.dialect.name == "sqlite":
        statements = _SQLITE_SEARCH
    elif conn.dialect.name == "postgresql":
        statements = _POSTGRES_SEARCH
    else:
        return  # elsewhere search stays a scan (search.py)
    for statement in statements:
        conn.exec_driver_sql(statement)


def _v5(conn: Connection) -> None:
    """attachments: files sent with user messages (their text or image bytes, and a thumbnail)."""
    md = MetaData()
    # The tables its foreign keys name, as far as they need them (they exist: not created here).
    Table("conversations", md, Column("id", String(32), primary_key=True))
    Table("messages", md, Column("id", String(32), primary_key=True))
    attachments = Table(
        "attachments", md,
        Column("id", String(32), primary_key=True),
        Column("owner", String(255), nullable=False),
        Column("conversation_id", String(32), ForeignKey("conversations.id", ondelete="CASCADE"), nullable=True),
        Column("message_id", String(32), ForeignKey("messages.id", ondelete="CASCADE"), nullable=True),
        Column("position", Integer, nullable=False),
        Column("name", Text, nullable=False),
        Column("kind", String(8), nullable=False),
        Column("media_type", String(128), nullable=False),
        Column("size", Integer, nullable=False),
        Column("sha256", String(64), nullable=False),
        Column("chars", Integer, nullable=True),
        Column("pages", Integer, nullable=True),
        Column("text", Text, nullable=True),
        Column("data", LargeBinary, nullable=True),
        Column("thumbnail", Text, nullable=True),
        Column("created_at", DateTime(timezone=True), nullable=False),
        CheckConstraint("kind IN ('text', 'image')", name="ck_attachments_kind"),
        Index("ix_attachments_message", "message_id"),
        Index("ix_attachments_conversation", "conversation_id"),
        Index("ix_attachments_owner_pending", "owner", "created_at"),
    )
    md.create_all(conn, tables=[attachments])


MIGRATIONS: tuple[tuple[int, Step], ...] = (
    (1, _v1),
    (2, _v2),
    (3, _v3),
    (4, _v4),
    (5, _v5),
)


def latest_version(steps: Sequence[tuple[int, Step]] = MIGRATIONS) -> int:
    return steps[-1][0] if steps else 0


def run_migrations(conn: Connection, steps: Sequence[tuple[int, Step]] = MIGRATIONS) -> int:
    """Bring the database up to the last step; returns the version it is at. Call inside a
    transaction (see `migrate`)."""
    versions = [version for version, _ in steps]
    if versions != list(range(1, len(versions) + 1)):
        raise ValueError(f"migration steps must be numbered 1, 2, 3, … without gaps; got {versions}")
    # The version table itself never changes shape, so it is created outside the steps.
    schema_version.create(conn, checkfirst=True)
    current = conn.execute(select(schema_version.c.version).where(schema_version.c.id == 1)).scalar()
    if current is None:
        conn.execute(insert(schema_version).values(id=1, version=0))
        current = 0
    if current > latest_version(steps):
        raise SchemaTooNew(f"The database is at schema version {current}, but this SecretGPT only knows up to "
                           f"{latest_version(steps)}. Upgrade SecretGPT or point it at another database.")
    for version, step in steps:
        if version > current:
            step(conn)
            conn.execute(update(schema_version).where(schema_version.c.id == 1).values(version=version))
            current = version
    return current


async def migrate(engine: AsyncEngine, steps: Sequence[tuple[int, Step]] = MIGRATIONS) -> int:
    """`run_migrations` in one write transaction, one instance at a time (see the module's doc).
    `engine` must be the store's writer (on SQLite its transactions BEGIN IMMEDIATE)."""
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Released at commit or rollback; waits as long as the instance ahead needs.
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        return await conn.run_sync(run_migrations, steps)
