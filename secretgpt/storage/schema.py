"""The current database schema, as the queries see it.

Only portable types: the same tables work on SQLite and PostgreSQL. Changing anything here needs
a new step in migrations.py that brings existing databases to the same shape (a test compares the
migrated database with these tables).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
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
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator

from .postgres import without_nul


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware in Python, UTC in the database.

    SQLite has no timezone-aware type and drops the offset, so everything is converted to UTC
    before it is written and marked as UTC when it is read back. Stored as fixed-width text on
    SQLite, which keeps ORDER BY correct.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use timezone-aware datetimes")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class FreeText(TypeDecorator[str]):
    """Text from people, models and files. PostgreSQL's text cannot hold U+0000, which SQLite
    stores: there it is written as U+FFFD (postgres.py; JSON columns get the same from the
    engine's JSON serializer)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        return without_nul(value) if value is not None and dialect.name == "postgresql" else value


class FreeString(FreeText):
    """FreeText with a length (VARCHAR(n))."""

    impl = String
    cache_ok = True


Json = JSON().with_variant(JSONB(), "postgresql")

metadata = MetaData()

schema_version = Table(
    "schema_version",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("version", Integer, nullable=False),
    CheckConstraint("id = 1", name="ck_schema_version_single_row"),
)

conversations = Table(
    "conversations",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("owner", String(255), nullable=False),
    Column("title", FreeText, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # Not a foreign key on purpose: conversations <-> messages would be a cycle, which makes
    # creating, deleting and importing order-dependent. The store keeps it consistent.
    Column("current_leaf_id", String(32), nullable=True),
    # ConversationSettings as JSON (system prompt, generation options); NULL: the defaults. (v2)
    Column("settings", Json, nullable=True),
    Index("ix_conversations_owner_updated", "owner", "updated_at"),
)

messages = Table(
    "messages",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("conversation_id", String(32), ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False),
    Column("parent_id", String(32), ForeignKey("messages.id", ondelete="CASCADE"), nullable=True),
    # Insertion order inside the conversation: orders siblings and exports without relying on
    # timestamps that can tie.
    Column("seq", Integer, nullable=False),
    Column("role", String(16), nullable=False),
    Column("content", FreeText, nullable=False, default=""),
    Column("think", FreeText, nullable=False, default=""),
    Column("created_at", UTCDateTime, nullable=False),
    # Last write: for answers, the last checkpoint.
    Column("updated_at", UTCDateTime, nullable=False),
    Column("stream_id", FreeString(64), nullable=True),
    Column("status", String(32), nullable=True),
    Column("metadata", Json, nullable=True, key="meta"),
    # AnswerProvenance as JSON (turns sent, connection certificate, hash chain): what the answer's
    # proof needs; set when an answer ends. (v3)
    Column("proof", Json, nullable=True),
    CheckConstraint("role IN ('system', 'user', 'assistant')", name="ck_messages_role"),
    UniqueConstraint("conversation_id", "seq", name="uq_messages_conversation_seq"),
    # Per conversation rather than global, so an imported copy can keep its original stream ids.
    UniqueConstraint("conversation_id", "stream_id", name="uq_messages_conversation_stream"),
    Index("ix_messages_parent", "parent_id"),
    Index("ix_messages_status", "status"),
)

# A host's raw attestation evidence (quote, compose, GPU evidence, collateral, certificate), once
# per attestation: the answers served under it name it in their metadata. (v3)
evidence = Table(
    "evidence",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("origin", FreeText, nullable=False),
    Column("captured_at", UTCDateTime, nullable=False),
    Column("evidence", Json, nullable=False),
)

# Files attached to user messages (v4): uploaded first (message_id NULL until the message that
# carries them is stored), then kept with that message. Documents keep their extracted text,
# images their bytes and a thumbnail drawn on this machine.
attachments = Table(
    "attachments",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("owner", String(255), nullable=False),
    Column("conversation_id", String(32), ForeignKey("conversations.id", ondelete="CASCADE"), nullable=True),
    Column("message_id", String(32), ForeignKey("messages.id", ondelete="CASCADE"), nullable=True),
    Column("position", Integer, nullable=False, default=0),
    Column("name", FreeText, nullable=False),
    Column("kind", String(8), nullable=False),
    Column("media_type", String(128), nullable=False),
    Column("size", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("chars", Integer, nullable=True),
    Column("pages", Integer, nullable=True),
    Column("text", FreeText, nullable=True),
    Column("data", LargeBinary, nullable=True),
    Column("thumbnail", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint("kind IN ('text', 'image')", name="ck_attachments_kind"),
    Index("ix_attachments_message", "message_id"),
    Index("ix_attachments_conversation", "conversation_id"),
    Index("ix_attachments_owner_pending", "owner", "created_at"),
)
