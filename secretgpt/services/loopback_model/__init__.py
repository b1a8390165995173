"""A small model server on loopback that speaks the OpenAI-compatible API (as vLLM behind LiteLLM
answers it) and Ollama's `/api/chat`, or only one of them.

It is the offline demo model behind `python main.py` without an API key, and the model server
that tests and benchmarks run the real `AsyncOpenAI` and `ChatSecret` against (with scripted
failures).
"""

from .demo import demo_reply
from .script import Reply, Step, synthetic_markdown, tokenize
from .server import ConnectionLog, LoopbackModelServer

__all__ = [
    "ConnectionLog",
    "LoopbackModelServer",
    "Reply",
    "Step",
    "demo_reply",
    "synthetic_markdown",
    "tokenize",
]
