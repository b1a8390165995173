from .client import SecretAIService, demo_chat_model, secret_chat_model
from .discovery import Catalog, discover, is_chat_model
from .errors import map_error
from .models import (
    Answer, ChatTurn, ChunkKind, ConversationSettings, ErrorKind, GenerationOptions, ModelInfo, Protocol,
    SecretAIError, StreamChunk,
)
from .openai_client import demo_openai_client, secret_openai_client
from .protocol import ProtocolDetector
from .streaming_handler import ThinkTagParser

__all__ = [
    "Answer", "Catalog", "ChatTurn", "ChunkKind", "ConversationSettings", "ErrorKind", "GenerationOptions",
    "ModelInfo", "Protocol", "ProtocolDetector", "SecretAIError", "SecretAIService", "StreamChunk", "ThinkTagParser",
    "demo_chat_model", "demo_openai_client", "discover", "is_chat_model", "map_error", "secret_chat_model",
    "secret_openai_client",
]
