"""The "Conversation settings" dialog with NiceGUI's simulated user."""

from __future__ import annotations

import pytest
from nicegui import ui
from nicegui.testing import User

from secretgpt.services.loopback_model import Reply

from .conftest import ScriptedModel
from .test_chat_page import send, wait_for


def field(user: User, marker: str) -> ui.element:
    return next(iter(user.find(marker=marker).elements))


async def open_settings(user: User) -> None:
    user.find(marker="conversation-settings").click()
    await user.should_see("Conversation settings")
    await user.should_see(marker="save-settings")


async def test_settings_chosen_before_the_first_message_apply_to_its_conversation(openai_host: None, user: User,
                                                                                  model: ScriptedModel) -> None:
    await user.open("/")
    await open_settings(user)
    await user.should_see("For the conversation your next message starts.")
    user.find(marker="system-prompt").type("Answer in one sentence.")
    user.find(marker="temperature").type("3")
    user.find(marker="save-settings").click()
    # The page checks the way the API does, with the same words, under the field (and only
    # there: no notice repeats it); nothing is saved.
    await wait_for(lambda: field(user, "temperature").error == "temperature must be a number from 0 to 2 (got 3.0)")
    await user.should_see(marker="save-settings")
    assert user.notify.messages == [], user.notify.messages
    field(user, "temperature").value = 0.5
    field(user, "max_tokens").value = 200
    user.find(marker="save-settings").click()
    await user.should_see("Conversation settings saved.")
    await user.should_not_see(marker="save-settings")

    await send(user, "Hello?")
    await user.should_see("Completed", retries=100)
    request = model.requests[-1]
    assert request["messages"][0] == {"role": "system", "content": "Answer in one sentence."}
    assert (request["temperature"], request["max_tokens"]) == (0.5, 200)

    # Now they are the conversation's, shown when the dialog opens again and changed for the next answer.
    await open_settings(user)
    await user.should_see("For this conversation's next answers.")
    assert field(user, "system-prompt").value == "Answer in one sentence."
    assert field(user, "max_tokens").value == 200
    field(user, "max_tokens").value = None
    user.find(marker="save-settings").click()
    await user.should_not_see(marker="save-settings")
    await send(user, "And again?")
    await wait_for(lambda: len(model.requests) == 2 and model.server.connections[1].finished)
    assert "max_tokens" not in model.requests[-1] and model.requests[-1]["temperature"] == 0.5

    # A new chat starts from the defaults.
    user.find("New chat").click()
    await open_settings(user)
    assert field(user, "system-prompt").value == "" and field(user, "temperature").value is None


@pytest.fixture
def ollama_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_AI_PROTOCOL", "ollama")


@pytest.fixture
def openai_host(monkeypatch: pytest.MonkeyPatch) -> None:
    # The loopback server speaks both APIs, and `auto` takes a host that also answers Ollama's
    # /api/version for an Ollama host: say which one this test is about.
    monkeypatch.setenv("SECRET_AI_PROTOCOL", "openai")


async def test_settings_go_to_an_ollama_host_as_its_options(ollama_host: None, user: User,
                                                            model: ScriptedModel) -> None:
    model.replies.append(Reply.of("Short.", "Brief thought."))
    await user.open("/")
    await open_settings(user)
    user.find(marker="system-prompt").type("Be brief.")
    field(user, "max_tokens").value = 32
    field(user, "seed").value = 5
    user.find(marker="save-settings").click()
    await user.should_not_see(marker="save-settings")
    await send(user, "Hi")
    await user.should_see("Completed", retries=100)
    assert model.server.connections[-1].protocol == "ollama"
    request = model.requests[-1]
    assert request["messages"][0] == {"role": "system", "content": "Be brief."}
    assert request["options"] == {"num_predict": 32, "seed": 5}
    assert "Brief thought." not in str(model.requests[-1])


async def test_a_system_prompt_over_the_limit_is_refused_under_its_field(user: User) -> None:
    await user.open("/")
    await open_settings(user)
    field(user, "system-prompt").value = "s" * 100_001
    user.find(marker="save-settings").click()
    await wait_for(lambda: field(user, "system-prompt").error ==
                   "The system prompt is 100,001 characters long; the limit is 100,000.")
    await user.should_see(marker="save-settings")  # not saved, still open
    assert user.notify.messages == []
    field(user, "system-prompt").value = "Short."
    assert field(user, "system-prompt").error is None
    user.find(marker="save-settings").click()
    await user.should_see("Conversation settings saved.")
