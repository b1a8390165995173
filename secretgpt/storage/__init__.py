"""Where conversations are kept: SQLite in the data dir by default, any SQLAlchemy async URL."""

from .export import ImportTooLarge, InvalidImport
from .migrations import SchemaTooNew
from .sql import SqlConversationStore, database_url
from .stored import (
    AnswerProof, ConversationNotFound, ConversationSummary, ImportCandidate, MessageNotFound, StoredConversation,
    StoredMessage,
)

__all__ = [
    "AnswerProof", "ConversationNotFound", "ConversationSummary", "ImportCandidate", "ImportTooLarge", "InvalidImport",
    "MessageNotFound", "SchemaTooNew",
    "SqlConversationStore", "StoredConversation", "StoredMessage", "database_url",
]
