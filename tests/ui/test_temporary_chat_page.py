"""A temporary chat on the page: chosen with the switch on a new chat, answered as usual, clearly
labelled while open, never in the conversation list, and gone when the page reloads or moves on."""

from __future__ import annotations

from nicegui import app
from nicegui.testing import User

from secretgpt.services.loopback_model import Reply

from .conftest import ScriptedModel
from .test_chat_page import page_text, send, wait_for
from .test_conversations_page import conversation_titles


def temporary_chats() -> int:
    return len(app.state.runtime._hub._temporary)  # the hub's memory: what a reload must leave empty


async def test_a_temporary_chat_is_labelled_unlisted_and_gone_on_reload(user: User, model: ScriptedModel) -> None:
    model.replies.extend([Reply.of("A private answer."), Reply.of("A second private answer."),
                          Reply.of("A stored answer.")])
    await user.open("/")
    await user.should_see(marker="temporary-switch")
    await user.should_not_see(marker="temporary-label")
    user.find(marker="temporary-switch").click()
    await user.should_see(marker="temporary-label")  # said before anything is sent

    await send(user, "Secret question")
    await user.should_see("Completed", retries=100)
    assert "A private answer." in page_text(user, "answer")
    await user.should_see("Temporary chat — not saved")
    await user.should_not_see(marker="temporary-switch")  # it cannot be switched off half-way
    await send(user, "A follow-up")
    await wait_for(lambda: "A second private answer." in page_text(user, "answer"))
    assert [m["content"] for m in model.requests[1]["messages"] if m["role"] == "user"] == [
        "Secret question", "A follow-up"]
    assert "Secret question" not in conversation_titles(user)
    await user.should_see("No conversations yet.")
    assert temporary_chats() == 1

    old = user.client
    await user.open("/")  # reload: a new chat, and the temporary one forgotten ...
    assert old is not None
    old.delete()  # ... once the old page is gone (NiceGUI deletes it after its reconnect timeout)
    await user.should_not_see("Secret question")
    await user.should_see(marker="welcome")
    await wait_for(lambda: temporary_chats() == 0, timeout=15)

    # The switch stays off after a reload: this one is stored.
    await send(user, "Stored question")
    await user.should_see("Completed", retries=100)
    await user.should_not_see(marker="temporary-label")
    await wait_for(lambda: conversation_titles(user) == ["Stored question"])


async def test_opening_a_new_chat_forgets_the_temporary_one(user: User, model: ScriptedModel) -> None:
    await user.open("/")
    user.find(marker="temporary-switch").click()
    await send(user, "Forget me")
    await user.should_see("Completed", retries=100)
    assert temporary_chats() == 1
    user.find("New chat").click()
    await wait_for(lambda: temporary_chats() == 0)
    await user.should_see(marker="welcome")
    await user.should_see(marker="temporary-label")  # still chosen for the next new chat
