"""A model host that comes up after the app: the page's header, banner and model list follow the
catalog as discovery finds it, without a reload."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from nicegui import ui
from nicegui.testing import User

from secretgpt.services.loopback_model import Reply
from tests.support.app_process import free_port

from .conftest import API_KEY, ScriptedModel
from .test_chat_page import page_text, send

@pytest.fixture
def late_port() -> int:
    return free_port()  # nobody listens there until the test starts the model


@pytest.fixture(autouse=True)  # replaces the package's model: this one starts only when the test says
async def model(tmp_path, monkeypatch, late_port: int) -> AsyncIterator[ScriptedModel]:
    scripted = ScriptedModel(Reply.of("Found you."), api_key=API_KEY, models=["late-model"], protocols={"openai"})
    monkeypatch.setenv("SECRETGPT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SECRETGPT_ALLOWED_HOSTS", "test")  # NiceGUI's simulated user sends `Host: test`
    monkeypatch.setenv("SECRETGPT_REQUIRE_LOGIN", "false")
    monkeypatch.setenv("SECRET_AI_URL", f"http://127.0.0.1:{late_port}")
    monkeypatch.delenv("SECRET_AI_MODEL", raising=False)  # asked of the host, which is not up yet
    monkeypatch.setenv("SECRET_AI_API_KEY", API_KEY)
    monkeypatch.setenv("TYPING_SPEED", "instant")
    yield scripted
    await scripted.stop()


def model_choices(user: User) -> list[str]:
    return [option for select in user.find(kind=ui.select).elements for option in select.options]


async def test_the_page_shows_a_model_host_that_comes_up_later(user: User, model: ScriptedModel,
                                                              late_port: int) -> None:
    await user.open("/")
    await user.should_see("Could not reach", retries=100)
    await user.should_see("no model")
    assert model_choices(user) == []

    await model.start(port=late_port)
    await user.should_see("late-model", retries=300)
    await user.should_not_see("Could not reach", retries=50)
    assert model_choices(user) == ["late-model"]
    await send(user, "Is anyone there?")
    await user.should_see("Completed", retries=100)
    assert "Found you." in page_text(user, "answer")
