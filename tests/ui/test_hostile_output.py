"""Hostile model output on the page (NiceGUI's simulated user): deep nesting, a renderer that
fails, and the server side of "Load image"."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from nicegui import ElementFilter, ui
from nicegui.testing import User, UserInteraction

from secretgpt.services.loopback_model import Reply

from tests.support.leak_server import LeakServer
from .conftest import ScriptedModel
from .test_chat_page import send, wait_for


@pytest.fixture
def leak() -> Iterator[LeakServer]:
    server = LeakServer().start()
    yield server
    server.stop()


def rendered_html(user: User, marker: str = "answer") -> str:
    try:
        roots = user.find(marker=marker).elements
    except AssertionError:
        return ""
    return "".join(element.props.get("innerHTML", "") for root in roots for element in root.descendants()
                   if isinstance(element, ui.markdown))


def load_image(user: User, address: str) -> None:
    """What the browser sends when "Load image" is clicked: the button's address, to the click
    listener on the answer's Markdown container."""
    assert user.client is not None
    with user.client:
        containers = list(ElementFilter(marker="markdown").within(marker="answer"))
    assert containers, "no Markdown container in the answer"
    UserInteraction(user, {containers[0]}, None).trigger("click", address)


async def test_nesting_1000_deep_shows_as_text_and_the_conversation_reopens(user: User, model: ScriptedModel) -> None:
    deep = ">" * 1000 + " quoted\n\n" + "- " * 1000 + "listed\n\n" + "".join("  " * i + "- n\n" for i in range(200))
    model.replies.append(Reply.of(deep + "\nEND", tokens_per_second=5000))
    await user.open("/")
    await send(user, "Nest deeply")
    await user.should_see("Completed", retries=200)
    html = rendered_html(user)
    assert html.count('<pre class="sg-raw') >= 2 and "quoted" in html and "listed" in html
    assert user.find("Send").elements.pop().enabled
    await user.open("/")  # a reload: the page builds and opens the conversation again
    await user.should_see("Completed", retries=200)
    await user.should_see("Nest deeply")
    assert "listed" in rendered_html(user)


async def test_a_renderer_that_fails_cannot_break_the_page(user: User, model: ScriptedModel,
                                                           monkeypatch: pytest.MonkeyPatch,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    from secretgpt.interfaces.web_ui import streaming_markdown

    def broken(text: str) -> str:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(streaming_markdown, "render_markdown", broken)
    await user.open("/")
    await send(user, "Break the renderer")
    await user.should_see("The page failed to show this answer", retries=200)
    await wait_for(lambda: user.find("Send").elements.pop().enabled)
    await user.open("/")  # every reload used to fail the page build
    await user.should_see("Part of this conversation could not be shown.", retries=100)
    await user.should_see("Break the renderer")  # the drawer still lists it
    errors = [r.getMessage() for r in caplog.get_records("call") if r.levelname == "ERROR"]
    assert [e.split(" ")[:2] for e in errors] == [["showing", "stream"], ["showing", "conversation"]]
    caplog.clear()  # those two were expected (NiceGUI's `user` fails a test on ERROR logs)
    monkeypatch.undo()
    user.find("New chat").click()
    await send(user, "Still working?")
    await user.should_see("Completed", retries=200)


@pytest.fixture
def loopback_images(monkeypatch: pytest.MonkeyPatch, leak: LeakServer) -> None:
    """The tests-only allowance for the leak server's address (asked for before `user`, which
    starts the app with this environment)."""
    monkeypatch.setenv("SECRETGPT_IMAGE_FETCH_ALLOW_LOOPBACK", leak.host)


async def test_load_image_fetches_that_one_image_through_the_app(loopback_images: None, user: User,
                                                                 model: ScriptedModel, leak: LeakServer) -> None:
    address = f"{leak.origin}/leak/chart.png?q=secret"
    model.replies.append(Reply.of(f"A chart: ![chart]({address}) and ![gone]({leak.origin}/missing/x.png)",
                                  tokens_per_second=5000))
    await user.open("/")
    await send(user, "Chart please")
    await user.should_see("Completed", retries=200)
    assert "Load image" in rendered_html(user) and leak.requests == []

    load_image(user, f"{leak.origin}/leak/not-on-the-page.png")  # an address the answer does not show
    load_image(user, address)
    await wait_for(lambda: "data:image/png;base64," in rendered_html(user), describe=lambda: rendered_html(user))
    assert leak.paths() == ["/leak/chart.png?q=secret"]
    assert 'alt="chart"' in rendered_html(user)

    load_image(user, f"{leak.origin}/missing/x.png")
    await wait_for(lambda: "Could not load this image." in rendered_html(user))  # not "HTTP 404"
    assert leak.paths() == ["/leak/chart.png?q=secret", "/missing/x.png"]
    assert "404" not in rendered_html(user)


async def test_load_image_refuses_an_address_on_this_machine(user: User, model: ScriptedModel,
                                                             leak: LeakServer) -> None:
    """Without the tests' allowance (the default), an image on loopback is never fetched: the
    app would otherwise be a way into its own machine and network for whoever writes the text."""
    address = f"{leak.origin}/admin/chart.png"
    model.replies.append(Reply.of(f"A chart: ![chart]({address})", tokens_per_second=5000))
    await user.open("/")
    await send(user, "Chart please")
    await user.should_see("Completed", retries=200)
    load_image(user, address)
    await wait_for(lambda: "Could not load this image." in rendered_html(user), describe=lambda: rendered_html(user))
    assert leak.requests == [] and "data:image" not in rendered_html(user)
