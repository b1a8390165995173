"""Where conversations are kept."""

from .base import ConversationNotFound, ConversationStore, StoredConversation
from .memory import MemoryConversationStore

__all__ = ["ConversationNotFound", "ConversationStore", "MemoryConversationStore", "StoredConversation"]
