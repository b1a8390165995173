"""What only a browser shows: colours, collapsing, sanitised HTML, buttons acting mid-stream."""

from __future__ import annotations

import asyncio

import pytest
from playwright.async_api import Page, expect

from secretgpt.services.loopback_model import Reply

from .conftest import ScriptedModel

pytestmark = pytest.mark.asyncio(loop_scope="package")


async def ask(page: Page, text: str) -> None:
    await page.get_by_label("Message").fill(text)
    await page.keyboard.press("Enter")


async def test_think_block_is_cyan_and_collapses_when_the_answer_starts(page: Page, model: ScriptedModel) -> None:
    model.replies.append(Reply.of("The visible **answer** text.", "Secret reasoning " * 20, tokens_per_second=80))
    await ask(page, "Think first")
    think = page.locator(".sg-think").last
    await expect(think).to_be_visible(timeout=10_000)
    color = await think.evaluate("el => getComputedStyle(el).color")
    assert color == "rgb(0, 188, 212)"
    await expect(page.locator(".sg-status").last).to_have_text("Completed", timeout=15_000)
    await expect(think).to_contain_text("Thought for")
    reasoning = think.get_by_text("Secret reasoning").first
    await expect(reasoning).to_be_hidden()  # folded away once the answer began
    await think.get_by_text("Thought for").click()
    await expect(reasoning).to_be_visible()
    answer = page.locator(".sg-answer").last
    await expect(answer).to_contain_text("The visible answer text.")
    assert "Secret reasoning" not in await answer.inner_text()


async def test_model_html_is_never_executed(page: Page, model: ScriptedModel) -> None:
    hostile = (
        "Look: <script>window.__pwned = 'script'</script> and "
        "<img src=x onerror=\"window.__pwned = 'img'\"> and [a link](javascript:window.__pwned='link').\n\n"
        "```html\n<script>window.__pwned = 'fence'</script>\n```\n"
    )
    model.replies.append(Reply.of(hostile, tokens_per_second=200))
    await ask(page, "Be hostile")
    message = page.locator(".sg-message").last
    await expect(message.locator(".sg-status")).to_have_text("Completed", timeout=15_000)
    answer = message.locator(".sg-answer")
    await expect(answer).to_contain_text("<script>window.__pwned = 'script'</script>")
    assert await answer.locator("script").count() == 0
    assert await answer.locator("img").count() == 0
    # The javascript: link is not a link at all: its Markdown shows as text.
    assert await answer.locator("a").count() == 0
    await expect(answer).to_contain_text("[a link](javascript:window.__pwned='link')")
    await answer.get_by_text("a link", exact=False).click()
    assert await page.evaluate("window.__pwned") is None


async def test_pause_resume_and_stop_act_mid_stream(page: Page, model: ScriptedModel) -> None:
    words = " ".join(f"word{i}" for i in range(400))
    model.replies.append(Reply.of(words, tokens_per_second=40))
    await ask(page, "Stream slowly")
    answer = page.locator(".sg-answer").last
    await expect(answer).to_contain_text("word5", timeout=10_000)
    await page.get_by_role("button", name="Pause").click()
    await expect(page.get_by_role("button", name="Resume")).to_be_visible()
    frozen = await answer.inner_text()
    await asyncio.sleep(1.0)
    assert await answer.inner_text() == frozen
    await page.get_by_role("button", name="Resume").click()
    await expect(answer).to_contain_text("word60", timeout=10_000)
    await page.get_by_role("button", name="Stop").click()
    message = page.locator(".sg-message").last
    await expect(message).to_contain_text("Stopped", timeout=5_000)
    conn = model.server.connections[-1]
    await asyncio.wait_for(conn.closed.wait(), 2)
    assert not conn.finished and conn.chunks_sent < 400
    await expect(page.get_by_role("button", name="Send")).to_be_enabled()
