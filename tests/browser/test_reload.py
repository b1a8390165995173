"""Reloading the page mid-answer: the answer runs server-side, the page re-attaches to it.

Real browser (Debian chromium) against `python main.py` in a subprocess (see conftest.py).
"""

from __future__ import annotations

import asyncio
import signal
import time

import pytest
from playwright.async_api import Locator, Page, expect

from secretgpt.services.loopback_model import Reply

from .conftest import ScriptedModel

pytestmark = pytest.mark.asyncio(loop_scope="package")


def words(n: int) -> str:
    return " ".join(f"word{i}" for i in range(n))


async def ask(page: Page, text: str) -> None:
    await page.get_by_label("Message").fill(text)
    await page.keyboard.press("Enter")


async def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def wait_for_text(locator: Locator, condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition(text := (await locator.inner_text()).strip()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; the page shows {text!r}")
        await asyncio.sleep(0.05)


async def test_reload_mid_stream_reattaches_and_streams_to_the_end(page: Page, model: ScriptedModel) -> None:
    # 200 words at 20 tok/s: 10 s of streaming, so the reload lands well inside it.
    reply = Reply.of(words(200), "Planning a long, slow count.", tokens_per_second=20)
    model.replies.append(reply)
    question = "Count to two hundred, slowly"
    seen = len(model.server.connections)
    await ask(page, question)
    await wait_until(lambda: len(model.server.connections) > seen, 15, "the model request")
    connection = model.server.connections[-1]
    answer = page.locator(".sg-answer").last
    await expect(answer).to_contain_text("word40", timeout=20_000)
    shown = (await answer.inner_text()).strip()  # the reveal may have cut its last word in two
    assert not connection.finished, "the answer ended before the reload"

    await page.reload()

    # The page comes back with the question and what had streamed so far, in one answer bubble ...
    await expect(page.locator(".sg-user")).to_have_count(1, timeout=15_000)
    await expect(page.locator(".sg-user")).to_contain_text(question)
    answer = page.locator(".sg-answer").last
    # Everything shown before the reload is shown again (the replay is revealed at the typing pace).
    await wait_for_text(answer, lambda text: text.startswith(shown), 5, f"the {len(shown)} characters shown before")
    await expect(page.locator(".sg-message")).to_have_count(1)
    assert not connection.finished, "the reload only came back after the answer had ended"
    # ... and keeps streaming live to the end.
    status = page.locator(".sg-message .sg-status")
    await expect(status).to_have_text("Streaming", timeout=5_000)
    await expect(answer).to_contain_text("word150", timeout=20_000)
    await expect(status).to_have_text("Completed", timeout=20_000)
    assert (await answer.inner_text()).strip() == reply.text
    think = page.locator(".sg-message .sg-think")
    await expect(think).to_contain_text("Thought for")
    assert "Planning" not in await answer.inner_text()

    # The reload did not touch the model connection: it ran to the end.
    await asyncio.wait_for(connection.closed.wait(), 10)
    assert connection.finished and connection.closed_by_client_at is None
    assert connection.chunks_sent == len(reply.steps)

    # Stored: it is in the drawer, and "New chat" then a click on it brings it back whole.
    item = page.locator(".sg-conversation").filter(has_text=question)
    await expect(item).to_have_count(1, timeout=10_000)
    await page.get_by_role("button", name="New chat").click()
    await expect(page.locator(".sg-message")).to_have_count(0, timeout=10_000)
    await expect(page.locator(".sg-user")).to_have_count(0)
    await item.click()
    await expect(page.locator(".sg-user")).to_contain_text(question, timeout=10_000)
    await expect(page.locator(".sg-message")).to_have_count(1)
    await expect(status).to_have_text("Completed")
    await expect(answer).to_contain_text("word199")
    assert (await answer.inner_text()).strip() == reply.text
    await expect(think).to_contain_text("Thought for")
    await think.get_by_text("Thought for").click()
    await expect(think.get_by_text("Planning a long, slow count.")).to_be_visible()


async def test_after_kill_9_the_answer_is_interrupted_and_continue_finishes_it(
        browser, model: ScriptedModel, tmp_path) -> None:
    """Its own app process (the package one must not be killed), on the package's model server."""
    from tests.support.app_process import AppProcess

    from .conftest import API_KEY

    def launch(port: int | None = None) -> AppProcess:
        return AppProcess(tmp_path / "data", tmp_path / "work", model_url=model.server.url, model="browser-model",
                          model_api_key=API_KEY, port=port, env={"TYPING_SPEED": "fast"})

    app = await launch().start()
    context = await browser.new_context(viewport={"width": 1100, "height": 900})
    try:
        page = await context.new_page()
        await page.goto(app.url)
        reply = Reply.of(words(400), tokens_per_second=40)  # 10 s
        model.replies.append(reply)
        question = "Count to four hundred"
        await ask(page, question)
        answer = page.locator(".sg-answer").last
        # 120 words: 3 s of text, more than a checkpoint interval (2 s), so a checkpoint holds some of it.
        await expect(answer).to_contain_text("word120", timeout=20_000)
        assert await app.kill() == -signal.SIGKILL

        app = await launch(app.port).start()
        await page.goto(app.url)  # the same browser: its cookie still names its conversations
        item = page.locator(".sg-conversation").filter(has_text=question)
        await expect(item).to_have_count(1, timeout=15_000)
        await item.click()
        message = page.locator(".sg-message")
        await expect(message).to_have_count(1, timeout=10_000)
        await expect(message.locator(".sg-status")).to_have_text("Interrupted")
        partial = (await message.locator(".sg-answer").inner_text()).strip()
        assert partial.startswith("word0 word1") and reply.text.startswith(partial) and "word399" not in partial

        model.replies.append(Reply.of(" and that is where it ends.", tokens_per_second=40))
        await message.get_by_role("button", name="Continue").click()
        await expect(message.locator(".sg-status")).to_have_text("Completed", timeout=20_000)
        await expect(message.locator(".sg-answer")).to_contain_text("where it ends.")
        assert (await message.locator(".sg-answer").inner_text()).strip() == partial + " and that is where it ends."
        sent = model.server.connections[-1].request["messages"]
        assert [(m["role"], m["content"]) for m in sent] == [("user", question), ("assistant", partial)]
        # The interrupted answer is kept as the earlier version.
        await expect(message.locator(".sg-version")).to_have_text("2 / 2")
        await expect(message.get_by_role("button", name="Continue")).to_have_count(0)
    finally:
        await context.close()
        app.cleanup()
