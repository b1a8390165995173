from ...records import Catalog, ModelApi, ModelInfo
from .discovery import discover, discover_until_found, is_chat_model
from .errors import ErrorKind, SecretAIError, map_error
from .ollama_client import demo_chat_model, secret_chat_model
from .openai_client import demo_openai_client, secret_openai_client
from .protocol import ProtocolDetector
from .service import SecretAIService
from .think_tags import ThinkTagParser

__all__ = [
    "Catalog", "ErrorKind", "ModelApi", "ModelInfo", "ProtocolDetector", "SecretAIError", "SecretAIService",
    "ThinkTagParser", "demo_chat_model", "demo_openai_client", "discover", "discover_until_found", "is_chat_model", "map_error",
    "secret_chat_model", "secret_openai_client",
]
