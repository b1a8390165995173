from .client import SecretAIService, demo_chat_model, map_error, secret_chat_model
from .discovery import Catalog, discover, is_chat_model
from .models import Answer, ChatTurn, ChunkKind, ErrorKind, ModelInfo, SecretAIError, StreamChunk
from .streaming_handler import ThinkTagParser

__all__ = [
    "Answer", "Catalog", "ChatTurn", "ChunkKind", "ErrorKind", "ModelInfo", "SecretAIError", "SecretAIService",
    "StreamChunk", "ThinkTagParser", "demo_chat_model", "discover", "is_chat_model", "map_error", "secret_chat_model",
]
