"""Where conversations are kept: SQLite in the data dir by default, any SQLAlchemy async URL. What
comes back (stored conversations and messages) and the errors are records (`secretgpt.records`)."""

from .migrations import SchemaTooNew
from .sql import SqlConversationStore, database_url

__all__ = ["SchemaTooNew", "SqlConversationStore", "database_url"]
