"""Page tests: the real app (main.py) against the loopback Ollama-protocol server."""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator

import pytest

from secretgpt.services.ollama_loopback import OllamaLoopbackServer, Reply

API_KEY = "ui-test-key"


class ScriptedModel:
    """The loopback server with a queue of replies; when empty it repeats `default`."""

    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.default = Reply.of("Hello **there**. A plain answer.", "Considering the greeting.")
        self.server = OllamaLoopbackServer(self._reply, api_key=API_KEY, models=["test-model"])

    def _reply(self, request: dict) -> Reply:
        return self.replies.popleft() if self.replies else self.default

    @property
    def requests(self) -> list[dict]:
        return [c.request for c in self.server.connections]


@pytest.fixture(autouse=True)  # autouse: the env must be set before `user` runs main.py
async def model(tmp_path, monkeypatch) -> AsyncIterator[ScriptedModel]:
    scripted = ScriptedModel()
    await scripted.server.start()
    monkeypatch.setenv("SECRETGPT_DATA_DIR", str(tmp_path / "data"))
    # NiceGUI's simulated user sends `Host: test`; the app answers only to the hosts it knows (and
    # would then ask for the access token, which these page tests are not about).
    monkeypatch.setenv("SECRETGPT_ALLOWED_HOSTS", "test")
    monkeypatch.setenv("SECRETGPT_REQUIRE_LOGIN", "false")
    monkeypatch.setenv("SECRET_AI_URL", scripted.server.url)
    monkeypatch.setenv("SECRET_AI_MODEL", "test-model")
    monkeypatch.setenv("SECRET_AI_API_KEY", API_KEY)
    monkeypatch.setenv("TYPING_SPEED", "instant")
    monkeypatch.setenv("STREAMING_UPDATE_HZ", "20")
    yield scripted
    await scripted.server.stop()
