"""Without a key: the embedded offline demo model, reached the way a real host is (SECRET_AI_PROTOCOL=auto)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from nicegui import app
from nicegui.testing import User

from .test_chat_page import page_text, send


@pytest.fixture(autouse=True)  # replaces the package's scripted model: no key, no URL
async def model(tmp_path, monkeypatch) -> AsyncIterator[None]:
    monkeypatch.setenv("SECRETGPT_DATA_DIR", str(tmp_path / "data"))
    for key in ("SECRET_AI_API_KEY", "SECRET_AI_URL", "SECRET_AI_MODEL", "OPENAI_API_KEY"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("SECRETGPT_ALLOWED_HOSTS", "test")  # NiceGUI's simulated user sends `Host: test`
    monkeypatch.setenv("SECRETGPT_REQUIRE_LOGIN", "false")
    monkeypatch.setenv("DEMO_TOKENS_PER_SECOND", "2000")
    monkeypatch.setenv("TYPING_SPEED", "instant")
    yield


async def test_demo_model_answers_over_the_openai_compatible_api(user: User) -> None:
    await user.open("/")
    await user.should_see("Demo model — not a confidential VM")
    await send(user, "Is this real?")
    await user.should_see("Completed", retries=200)
    assert "offline demo model" in page_text(user, "answer")
    assert "Is this real?" in page_text(user, "think")
    server = app.state.runtime.demo_server
    # The demo server answers like Secret AI's hosts (OpenAI-compatible only), and auto-detection
    # found that out the way it does for a real host.
    assert server.requests[:3] == ["GET /v1/models", "GET /api/version", "POST /v1/chat/completions"]
    assert server.connections[-1].protocol == "openai"
    # No key exists in demo mode (and OPENAI_API_KEY is never read): the SDK's required key is a label.
    assert server.connections[-1].headers["authorization"] == "Bearer secretgpt-demo"
