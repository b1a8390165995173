"""Conversations that last, as a user works with them on the page (NiceGUI's simulated user)."""

from __future__ import annotations

import asyncio

from nicegui import ElementFilter
from nicegui.testing import User

from secretgpt.services.loopback_model import Reply

from .conftest import ScriptedModel
from .test_chat_page import page_text, send, wait_for


def marker_texts(user: User, marker: str) -> list[str]:
    """Texts of the elements with `marker`, in page order (`elements` is a set: sort by creation)."""
    try:
        return [e.text for e in sorted(user.find(marker=marker).elements, key=lambda e: e.id)]
    except AssertionError:  # none on the page
        return []


def conversation_titles(user: User) -> list[str]:
    """Titles in the order the list shows them (items move, so creation order is not it)."""
    lists = user.find(marker="conversation-list").elements
    assert user.client is not None
    with user.client:
        titles = set(ElementFilter(marker="conversation-title"))
    return [label.text for item in next(iter(lists)).default_slot.children
            for label in item.descendants() if label in titles]


async def ask_and_wait(user: User, text: str) -> None:
    await send(user, text)
    await wait_for(lambda: "Completed" in statuses(user)[-1:] and text in conversation_titles(user) or False)


def statuses(user: User) -> list[str]:
    return marker_texts(user, "status")


async def test_conversations_are_listed_searchable_renamable_and_deletable(user: User, model: ScriptedModel) -> None:
    await user.open("/")
    await ask_and_wait(user, "Alpha question")
    user.find("New chat").click()
    await ask_and_wait(user, "Beta question")
    # Newest first (the list settles once the last answer has been saved).
    await wait_for(lambda: conversation_titles(user) == ["Beta question", "Alpha question"],
                   describe=lambda: conversation_titles(user))

    user.find("Search conversations").type("Alpha")
    await wait_for(lambda: conversation_titles(user) == ["Alpha question"], describe=lambda: conversation_titles(user))
    user.find("Search conversations").clear()
    await wait_for(lambda: len(conversation_titles(user)) == 2)

    # Each item's menu acts on that item's conversation, whichever is open.
    user.find(marker="conversation-Alpha-question").click()
    await wait_for(lambda: "Alpha question" in [m.text for m in user.find(marker="user-message").elements])
    user.find(marker="actions-Beta-question").click()
    user.find(marker="menu-rename").click()
    await user.should_see("Rename conversation")
    user.find("Title").clear().type("Renamed beta")
    user.find("Save").click()
    await wait_for(lambda: "Renamed beta" in conversation_titles(user))
    assert [m.text for m in user.find(marker="user-message").elements] == ["Alpha question"]  # still open

    user.find(marker="conversation-Renamed-beta").click()
    await wait_for(lambda: "Beta question" in [m.text for m in user.find(marker="user-message").elements])
    user.find(marker="actions-Alpha-question").click()
    user.find(marker="menu-delete").click()
    await user.should_see("Delete “Alpha question”?")
    user.find("Cancel").click()
    await user.should_not_see("Its messages and answers are removed for good.")
    await asyncio.sleep(0.2)
    assert "Alpha question" in conversation_titles(user)
    user.find(marker="actions-Alpha-question").click()
    user.find(marker="menu-delete").click()
    await user.should_see(marker="confirm-delete")
    user.find(marker="confirm-delete").click()
    await wait_for(lambda: conversation_titles(user) == ["Renamed beta"])
    # The open conversation was not the one deleted: it stays open.
    assert [m.text for m in user.find(marker="user-message").elements] == ["Beta question"]


def open_item_menu(user: User, title: str) -> None:
    user.find(marker="actions-" + "-".join(title.split())).click()


async def test_a_conversation_is_not_deleted_while_its_answer_streams(user: User, model: ScriptedModel) -> None:
    """The same rule as the API's 409: stop the answer first."""
    model.replies.append(Reply.of("one two three four five six seven eight nine ten " * 20, tokens_per_second=20))
    await user.open("/")
    await send(user, "Count slowly")
    await wait_for(lambda: "three" in page_text(user, "answer"))
    open_item_menu(user, "Count slowly")
    user.find(marker="menu-delete").click()
    # Refused before it asks (not a "Delete?" answered with yes, then a refusal).
    await user.should_see("An answer is still streaming in this conversation; stop it first.")
    await user.should_not_see(marker="confirm-delete")
    assert conversation_titles(user) == ["Count slowly"]
    assert "Count slowly" in [m.text for m in user.find(marker="user-message").elements]
    user.find("Stop").click()
    await user.should_see("Stopped — the answer above is partial.", retries=100)
    open_item_menu(user, "Count slowly")
    user.find(marker="menu-delete").click()
    await user.should_see(marker="confirm-delete")
    user.find(marker="confirm-delete").click()
    await wait_for(lambda: conversation_titles(user) == [], describe=lambda: conversation_titles(user))


async def test_regenerate_keeps_the_earlier_answer_as_an_alternative(user: User, model: ScriptedModel) -> None:
    model.replies.extend([Reply.of("First take."), Reply.of("Second take.")])
    await user.open("/")
    await ask_and_wait(user, "Give me a take")
    await user.should_see(marker="regenerate")  # the buttons come once the answer is stored
    user.find(marker="regenerate").click()
    await wait_for(lambda: "Second take." in page_text(user, "answer") and "2 / 2" in versions(user))
    assert "First take." not in page_text(user, "answer")
    user.find(marker="previous-version").click()
    await wait_for(lambda: "First take." in page_text(user, "answer"))
    assert versions(user) == ["1 / 2"]
    # Both answers were to the same single question.
    assert [m["content"] for m in model.requests[1]["messages"]] == ["Give me a take"]


def versions(user: User) -> list[str]:
    return marker_texts(user, "version")


async def test_edit_asks_again_from_there(user: User, model: ScriptedModel) -> None:
    model.replies.extend([Reply.of("About cats."), Reply.of("More cats."), Reply.of("About dogs.")])
    await user.open("/")
    await ask_and_wait(user, "Tell me about cats")
    await send(user, "And more?")
    await wait_for(lambda: "More cats." in page_text(user, "answer") and statuses(user).count("Completed") == 2)
    user.find(marker="edit").click()  # of several matches, click() takes the first on the page: the first question
    await user.should_see("Edit your message")
    user.find(marker="edited-message").clear().type("Tell me about dogs")
    user.find(marker="send-edited").click()
    await wait_for(lambda: "About dogs." in page_text(user, "answer") and "Completed" in statuses(user))
    assert "cats" not in page_text(user, "answer")
    assert [m["content"] for m in model.requests[-1]["messages"]] == ["Tell me about dogs"]


async def test_enter_sends_the_edited_message(user: User, model: ScriptedModel) -> None:
    """Like the message box: Enter sends (Shift+Enter adds a line, which only a browser shows:
    tests/browser/test_message_box.py)."""
    model.replies.extend([Reply.of("About cats."), Reply.of("About dogs.")])
    await user.open("/")
    await ask_and_wait(user, "Tell me about cats")
    await user.should_see(marker="edit")
    user.find(marker="edit").click()
    await user.should_see("Edit your message")
    user.find(marker="edited-message").clear().type("Tell me about dogs").trigger("keydown.enter.exact.prevent")
    await wait_for(lambda: "About dogs." in page_text(user, "answer") and "Completed" in statuses(user))
    await user.should_not_see("Edit your message")
    assert [m["content"] for m in model.requests[-1]["messages"]] == ["Tell me about dogs"]


async def test_continue_carries_on_a_stopped_answer(user: User, model: ScriptedModel) -> None:
    model.replies.extend([Reply.of("one two three four five six seven eight nine ten " * 20, tokens_per_second=20),
                          Reply.of(" and the rest.")])
    await user.open("/")
    await send(user, "Count slowly")
    await wait_for(lambda: "three" in page_text(user, "answer"))
    user.find("Stop").click()
    await user.should_see("Stopped — the answer above is partial.", retries=100)
    partial = page_text(user, "answer")
    await user.should_see(marker="continue")
    user.find(marker="continue").click()
    await wait_for(lambda: page_text(user, "answer").endswith(" and the rest.") and "Completed" in statuses(user))
    assert page_text(user, "answer").startswith(partial)
    # The model was shown the partial answer to carry on from.
    last = model.requests[-1]["messages"]
    assert last[-1]["role"] == "assistant" and last[-1]["content"] == partial


async def test_conversations_belong_to_the_browser_that_made_them(create_user, model: ScriptedModel) -> None:
    alice: User = create_user()
    bob: User = create_user()
    await alice.open("/")
    await ask_and_wait(alice, "Alice's secret plan")
    await bob.open("/")
    await bob.should_see("No conversations yet.")
    await bob.should_not_see("Alice's secret plan")
    assert conversation_titles(bob) == []
    assert conversation_titles(alice) == ["Alice's secret plan"]
