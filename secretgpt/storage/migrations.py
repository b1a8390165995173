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


def _v4(conn: Connection) -> None:
    """attachments: files sent with user messages (their text or image bytes, and a thumbnail).
    (Numbered 5 once full-text search's step 4 lands before it.)"""
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
