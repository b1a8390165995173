"""`ScriptedModel`: the project's loopback model server answering from a script."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable

from secretgpt.services.loopback_model import ConnectionLog, LoopbackModelServer, Reply


class ScriptedModel:
    """Queued `replies` are answered first, in order; then `reply` (a `Reply`, or a function of the
    request) for every request."""

    def __init__(self, reply: Reply | Callable[[dict], Reply], *, api_key: str | None, models: list[str],
                 protocols: Iterable[str] = ("ollama", "openai")) -> None:
        self.replies: deque[Reply] = deque()
        self.reply = reply
        self.server = LoopbackModelServer(self, api_key=api_key, models=models, protocols=tuple(protocols))

    def __call__(self, request: dict) -> Reply:
        if self.replies:
            return self.replies.popleft()
        return self.reply if isinstance(self.reply, Reply) else self.reply(request)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def connections(self) -> list[ConnectionLog]:
        return self.server.connections

    @property
    def requests(self) -> list[dict]:
        return [c.request for c in self.server.connections]

    async def start(self, port: int = 0) -> ScriptedModel:
        await self.server.start(port=port)
        return self

    async def stop(self) -> None:
        await self.server.stop()
