"""The page around the answers, with NiceGUI's simulated user: the welcome, messages that cannot be
sent yet, one status while paused, an answer stopped before its first word, the theme choice and
notices in words for people."""

from __future__ import annotations

import asyncio
import re
from urllib.parse import unquote

from nicegui import app, ui
from nicegui.testing import User

from secretgpt.interfaces.web_ui.notices import for_people
from secretgpt.interfaces.web_ui.welcome import PROMPTS
from secretgpt.services.loopback_model import Reply

from .conftest import ScriptedModel
from .test_chat_page import page_text, send, wait_for


async def test_the_empty_chat_welcomes_and_an_example_prompt_sends_itself(user: User, model: ScriptedModel) -> None:
    await user.open("/")
    await user.should_see("Welcome to SecretGPT")
    user.find(PROMPTS[1]).click()
    await user.should_see("Completed", retries=100)
    assert [m["content"] for m in model.requests[0]["messages"] if m["role"] == "user"] == [PROMPTS[1]]
    await user.should_not_see("Welcome to SecretGPT")
    user.find("New chat").click()
    await user.should_see("Welcome to SecretGPT")


async def test_a_message_sent_while_an_answer_streams_is_refused_visibly_and_kept(user: User,
                                                                                   model: ScriptedModel) -> None:
    model.replies.append(Reply.of("slow words " * 40, tokens_per_second=20))
    await user.open("/")
    await send(user, "First")
    await wait_for(lambda: "slow words" in page_text(user, "answer"))
    user.find("Message").type("Second, too early")
    user.find("Message").trigger("keydown.enter.exact.prevent")
    await user.should_see("Wait for this answer to finish, or stop it (Esc), then send your message.")
    assert user.find("Message").elements.pop().value == "Second, too early"
    assert len(model.requests) == 1
    user.find("Stop").click()
    await user.should_see("Stopped", retries=100)
    user.find("Send").click()
    await user.should_see("Completed", retries=100)
    assert [m["content"] for m in model.requests[-1]["messages"] if m["role"] == "user"][-1] == "Second, too early"


async def test_while_paused_the_status_line_says_paused(user: User, model: ScriptedModel) -> None:
    model.replies.append(Reply.of(" ".join(f"w{i}" for i in range(200)), tokens_per_second=40))
    await user.open("/")
    await send(user, "Count")
    await wait_for(lambda: "w3" in page_text(user, "answer"))
    await asyncio.sleep(0.6)  # the status line has shown the rate by now
    user.find("Pause").click()
    await user.should_see("Resume")
    status_line = next(e for e in user.find(ui.label).elements if "sg-stream-status" in e.classes)
    for _ in range(12):  # across several status updates
        assert status_line.text == "Paused", status_line.text
        await asyncio.sleep(0.1)
    user.find("Stop").click()
    await user.should_see("Stopped", retries=100)


async def test_an_answer_stopped_before_any_text_says_so(user: User, model: ScriptedModel) -> None:
    reply = Reply.of("never shown")
    reply.first_token_delay = 10
    model.replies.append(reply)
    await user.open("/")
    await send(user, "Slow to start")
    await wait_for(lambda: bool(model.server.connections))
    user.find("Stop").click()
    await user.should_see("Stopped before any text arrived.", retries=100)
    await user.should_not_see("the answer above is partial")


async def test_the_theme_is_chosen_once_and_kept_per_browser(user: User) -> None:
    """The header's button steps System → Light → Dark → System and says which is chosen; the
    choice is the Settings' Theme, kept per browser."""
    await user.open("/")
    assert app.storage.user["theme"] == "auto"
    button = user.find(marker="dark-mode").elements.pop()
    assert (button.props["aria-label"], button.props["title"]) == ("Theme: System", "Theme: System (click for Light)")
    for choice, dark, name in (("light", False, "Light"), ("dark", True, "Dark"), ("auto", None, "System"),
                               ("light", False, "Light")):
        user.find(marker="dark-mode").click()
        await wait_for(lambda: app.storage.user["theme"] == choice)
        assert user.find(ui.dark_mode).elements.pop().value is dark
        assert button.props["aria-label"] == f"Theme: {name}"
    await user.open("/")
    assert user.find(ui.dark_mode).elements.pop().value is False
    assert user.find(marker="dark-mode").elements.pop().props["aria-label"] == "Theme: Light"
    user.find(marker="settings").click()
    assert user.find(marker="theme").elements.pop().value == "light"  # the same choice in Settings
    user.find(marker="theme").elements.pop().value = "auto"
    await wait_for(lambda: app.storage.user["theme"] == "auto")
    assert user.find(ui.dark_mode).elements.pop().value is None
    assert user.find(marker="dark-mode").elements.pop().props["title"] == "Theme: System (click for Light)"


async def test_the_settings_drawer_closes_from_its_own_button(user: User) -> None:
    await user.open("/")
    user.find(marker="settings").click()
    drawer = user.find(marker="close-settings").elements.pop().parent_slot.parent.parent_slot.parent
    assert drawer.value is True
    user.find(marker="close-settings").click()
    assert drawer.value is False


async def test_the_streaming_hint_describes_the_switch_as_it_is(user: User) -> None:
    await user.open("/")
    user.find(marker="settings").click()
    hint = user.find(marker="streaming-hint").elements.pop()
    assert hint.text == "On: the answer appears as the model writes it."  # streaming is on by default
    user.find("Streaming").click()
    await wait_for(lambda: hint.text == "Off: the whole answer appears at once.", describe=lambda: hint.text)
    assert app.storage.user["streaming"] is False
    user.find("Streaming").click()
    await wait_for(lambda: hint.text == "On: the answer appears as the model writes it.", describe=lambda: hint.text)


async def test_the_favicon_is_drawn_not_an_emoji(user: User) -> None:
    """An emoji favicon is a character in an SVG <text>: a box without an emoji font."""
    await user.open("/")
    page = (await user.http_client.get("/")).text
    link = re.search(r'<link href="data:image/svg\+xml,([^"]+)" rel="shortcut icon"', page)
    assert link is not None, "the page's icon is not an SVG"
    response = await user.http_client.get("/favicon.ico")
    assert response.headers["content-type"].startswith("image/svg+xml")
    for svg in (unquote(link.group(1)), response.text):
        assert svg.lstrip().startswith("<svg") and "<path" in svg
        assert "<text" not in svg and "🔒" not in svg


def test_notices_leave_setting_names_to_the_api_and_logs() -> None:
    text = "The message is 100,001 characters long; the limit is 100,000 (MAX_MESSAGE_CHARS)."
    assert for_people(text) == "The message is 100,001 characters long; the limit is 100,000."
    assert for_people("Paused longer than allowed (STREAM_PAUSE_TIMEOUT); kept.") == \
        "Paused longer than allowed; kept."
    assert for_people("Keep (this) and (Mixed_Case)") == "Keep (this) and (Mixed_Case)"


async def test_an_oversized_message_notice_has_no_setting_name(user: User) -> None:
    await user.open("/")
    user.find("Message").type("x" * 100_001)
    user.find("Send").click()
    await user.should_see("the limit is 100,000.")
    await user.should_not_see("MAX_MESSAGE_CHARS")
