"""Page tests: the real app (main.py) against the loopback model server."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from nicegui.testing import User

from secretgpt.services.loopback_model import Reply
from tests.support.scripted_model import ScriptedModel

API_KEY = "ui-test-key"


@pytest.fixture(autouse=True)  # autouse: the env must be set before `user` runs main.py
async def model(tmp_path, monkeypatch) -> AsyncIterator[ScriptedModel]:
    scripted = await ScriptedModel(Reply.of("Hello **there**. A plain answer.", "Considering the greeting."),
                                   api_key=API_KEY, models=["test-model"]).start()
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
    await scripted.stop()



@pytest.fixture(autouse=True)
def browser_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the simulated browser answers when the page asks: a desktop window in light mode.
    (Patched into every `User` rather than asking for `user` here, which would start the app
    before the tests' own fixtures have set its environment.)"""
    created = User.__init__

    def with_window(self: User, *args: object, **kwargs: object) -> None:
        created(self, *args, **kwargs)
        self.javascript_rules[re.compile(r"window\.innerWidth")] = lambda _: 1280
        self.javascript_rules[re.compile(r".*prefers-color-scheme")] = lambda _: False

    monkeypatch.setattr(User, "__init__", with_window)
