"""Where conversations are kept: SQLite in the data dir by default, any SQLAlchemy async URL."""

from .base import (
    LIVE_STATUSES,
    ConversationNotFound,
    ConversationStore,
    ConversationSummary,
    HistoryStore,
    MessageNotFound,
    StoredConversation,
    StoredMessage,
)
from .export import InvalidImport
from .migrations import SchemaTooNew
from .sql import SqlConversationStore, database_url

__all__ = [
    "LIVE_STATUSES", "ConversationNotFound", "ConversationStore", "ConversationSummary", "HistoryStore",
    "InvalidImport", "MessageNotFound", "SchemaTooNew", "SqlConversationStore", "StoredConversation",
    "StoredMessage", "database_url",
]
