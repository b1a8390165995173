"""Search in the drawer: the conversations found, best first, each with the text around the match
and the matched words highlighted as text (model text never becomes HTML)."""

from __future__ import annotations

from nicegui.testing import User

from secretgpt.interfaces.web_ui.search_snippet import parts
from secretgpt.services.loopback_model import Reply

from .conftest import ScriptedModel
from .test_chat_page import wait_for
from .test_conversations_page import ask_and_wait, conversation_titles


def snippets(user: User) -> list[list[tuple[str, str]]]:
    """Each snippet on the page as (tag, text) parts."""
    try:
        found = user.find(marker="conversation-snippet").elements
    except AssertionError:
        return []
    return [[(e.tag, e.text) for e in element.descendants() if e.tag in ("span", "mark")]
            for element in sorted(found, key=lambda e: e.id)]


async def test_search_shows_the_snippet_with_its_match_highlighted(user: User, model: ScriptedModel) -> None:
    model.replies.extend([Reply.of("The harbour of Valletta is lovely at dusk, <b>and</b> <img src=x onerror=alert(1)>"),
                          Reply.of("Something else entirely.")])
    await user.open("/")
    await ask_and_wait(user, "Where to go in Malta?")
    user.find("New chat").click()
    await ask_and_wait(user, "Another question")

    user.find("Search conversations").type("vallet")
    await wait_for(lambda: conversation_titles(user) == ["Where to go in Malta?"] and snippets(user),
                   describe=lambda: (conversation_titles(user), snippets(user)))
    [snippet] = snippets(user)
    assert ("mark", "Valletta") in snippet
    text = "".join(part for _, part in snippet)
    assert "harbour of Valletta is lovely" in text
    # The model's markup is text in the list, not elements.
    assert "<b>and</b>" in text or "<img" in text
    [drawer_list] = user.find(marker="conversation-list").elements
    assert {e.tag for e in drawer_list.descendants()}.isdisjoint({"b", "img"})

    user.find("Search conversations").clear()
    await wait_for(lambda: len(conversation_titles(user)) == 2)
    assert snippets(user) == []


def test_parts_follow_the_offsets_and_ignore_bad_ones() -> None:
    assert parts("the harbour of Valletta", [(4, 11), (15, 23)]) == [
        ("the ", False), ("harbour", True), (" of ", False), ("Valletta", True)]
    assert parts("abc", [(2, 99), (1, 2), (0, 0)]) == [("a", False), ("b", True), ("c", True)]
    assert parts("abc", []) == [("abc", False)]
