"""The benchmark's model server: the project's loopback model server in a thread of its own,
speaking one protocol (`openai`: an OpenAI-only host like Secret AI's; `ollama`: Ollama's /api/chat).

It answers prompts of the form `bench:<key>` with a planned token stream, and records the
wall-clock time (`time.time()`) at which it wrote each stream's last content token (a unique
sentinel word), so the browser's "shown at" time can be compared on the same clock.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from dataclasses import dataclass

from secretgpt.services.loopback_model import LoopbackModelServer, Reply, Step, synthetic_markdown

MODEL = "loopback-bench"
API_KEY = "bench-secret-ai-key"
SENTINEL_PREFIX = "ENDMARK"
_SENTINEL_RE = re.compile(rb"ENDMARK[0-9A-Za-z]+")
_KEY_RE = re.compile(r"bench:([0-9A-Za-z_.-]+)")


@dataclass
class Plan:
    tokens: list[str]
    tokens_per_second: float | None

    @property
    def text(self) -> str:
        return "".join(self.tokens)


def plan_tokens(n_tokens: int, sentinel: str) -> list[str]:
    """n tokens of realistic Markdown whose last token is the sentinel word."""
    tokens = synthetic_markdown(max(1, n_tokens - 1))
    tokens.append(f"\n\n{sentinel}")
    return tokens


class LoopbackThread:
    """Run the server on its own asyncio loop in a daemon thread."""

    def __init__(self, protocol: str = "openai") -> None:
        self.protocol = protocol
        self.plans: dict[str, Plan] = {}
        self.sentinel_times: dict[str, float] = {}
        self.requested_at: dict[str, float] = {}  # plan key -> when its request reached the model server
        self.unplanned: list[str] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="loopback-model", daemon=True)
        self.server = LoopbackModelServer(self.reply_for, api_key=API_KEY, models=[MODEL], protocols={protocol},
                                          written=self._written)

    def _written(self, data: bytes) -> None:
        """When each sentinel word went out (the first time it did)."""
        found = _SENTINEL_RE.findall(data)
        if found:
            now = time.time()
            for sentinel in found:
                self.sentinel_times.setdefault(sentinel.decode(), now)

    def reply_for(self, request: dict) -> Reply:
        last = ""
        for message in reversed(request.get("messages") or []):
            if message.get("role") == "user":
                last = str(message.get("content", ""))
                break
        match = _KEY_RE.search(last)
        plan = self.plans.get(match.group(1)) if match else None
        if match:
            self.requested_at.setdefault(match.group(1), time.time())
        if plan is None:
            self.unplanned.append(last[:80])
            return Reply.of("OK.", model=MODEL)
        return Reply(steps=[Step("chunk", content=t) for t in plan.tokens],
                     tokens_per_second=plan.tokens_per_second, model=MODEL)

    def add_plan(self, key: str, tokens: list[str], tokens_per_second: float | None) -> str:
        self.plans[key] = Plan(tokens, tokens_per_second)
        return f"bench:{key}"

    @property
    def url(self) -> str:
        return self.server.url

    def start(self) -> LoopbackThread:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self._loop).result(10)
        return self

    def stop(self) -> None:
        try:
            asyncio.run_coroutine_threadsafe(self.server.stop(), self._loop).result(10)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)

    def connections_for(self, prompt: str) -> list:
        return [c for c in list(self.server.connections) if _last_user(c.request) == prompt]


def _last_user(request: dict) -> str:
    for message in reversed(request.get("messages") or []):
        if message.get("role") == "user":
            return str(message.get("content", ""))
    return ""
