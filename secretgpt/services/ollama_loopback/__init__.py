"""A small server that speaks Ollama's `/api/chat` protocol on loopback.

It is the offline demo model behind `python main.py` without an API key, and the model server
that tests and benchmarks run the real `ChatSecret` against (with scripted failures).
"""

from .script import Reply, Step, demo_reply, synthetic_markdown, tokenize
from .server import ConnectionLog, OllamaLoopbackServer

__all__ = [
    "ConnectionLog",
    "OllamaLoopbackServer",
    "Reply",
    "Step",
    "demo_reply",
    "synthetic_markdown",
    "tokenize",
]
