"""The page around the answers, in a real browser: the phone layout, Esc, dark mode, the live
region, how fast your own message appears, and where a reopened conversation is scrolled to."""

from __future__ import annotations

import asyncio
import re

import pytest
from playwright.async_api import Browser, Page, expect

from secretgpt.services.loopback_model import Reply

from .conftest import ScriptedModel

pytestmark = pytest.mark.asyncio(loop_scope="package")

PHONE = {"width": 390, "height": 844}
DARK = re.compile(r"\bbody--dark\b")
WIDE_ANSWER = (
    "A wide table and a long line of code:\n\n"
    "| Column one | Column two | Column three | Column four | Column five | Column six |\n"
    "| --- | --- | --- | --- | --- | --- |\n"
    "| supercalifragilistic | expialidocious | antidisestablishment | floccinaucinihilipilification | x | y |\n\n"
    "```python\nresult = compute_something_long(argument_one='a long string value', argument_two=12345, "
    "argument_three=[1, 2, 3, 4, 5, 6, 7, 8, 9, 10])\n```\n\nThe end."
)
# Elements wider than the window that nothing clips (an element inside a box that scrolls or clips
# sideways is fine: that box is what the reader sees; a closed drawer waits off-screen).
TOO_WIDE = """() => {
  const limit = window.innerWidth + 1;
  const clipped = el => { for (let a = el.parentElement; a; a = a.parentElement) {
      const o = getComputedStyle(a).overflowX; if (o !== 'visible') return a.getBoundingClientRect().right <= limit; }
    return false; };
  return [...document.body.querySelectorAll('*')].filter(el => {
    const r = el.getBoundingClientRect();
    return r.width > 0 && (r.right > limit || r.width > limit) && !clipped(el)
      && !el.closest('.q-layout--prevent-focus');
  }).map(el => el.tagName + '.' + String(el.className).slice(0, 60));
}"""
SCROLLED_TO_END = """() => { const c = document.querySelector('.sg-scroll .q-scrollarea__container');
  return c.scrollHeight - c.clientHeight - c.scrollTop; }"""


async def ask(page: Page, text: str) -> None:
    await page.get_by_label("Message").fill(text)
    await page.keyboard.press("Enter")


async def new_page(browser: Browser, url: str, **context: object) -> Page:
    page = await (await browser.new_context(**context)).new_page()  # a fresh browser session
    await page.goto(url)
    return page


async def test_phone_layout_fits_the_screen(browser: Browser, app_url: str, model: ScriptedModel) -> None:
    page = await new_page(browser, app_url, viewport=PHONE)
    try:
        box = page.get_by_label("Message")
        await expect(box).to_be_in_viewport()
        # The conversation list does not cover the chat on load: it starts closed on a phone.
        await expect(page.locator(".sg-conversations")).not_to_be_in_viewport()
        header = await page.locator(".sg-header").bounding_box()
        assert header is not None and header["height"] < 70, f"the header wraps: {header}"
        model.replies.append(Reply.of(WIDE_ANSWER, tokens_per_second=400))
        await ask(page, "Show me something wide")
        message = page.locator(".sg-message").last
        await expect(message.locator(".sg-status")).to_have_text("Completed", timeout=15_000)
        await expect(message).to_contain_text("The end.")
        assert await page.evaluate(TOO_WIDE) == []
        assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        # Every control is reachable: the answer's buttons and the message box are on screen.
        await message.locator(".sg-answer").evaluate("el => el.scrollIntoView()")
        await expect(message.get_by_role("button", name="Regenerate")).to_be_in_viewport()
        await expect(box).to_be_in_viewport()
        # The list opens from the menu, and a pick closes it again.
        await page.get_by_role("button", name="Conversations").click()
        drawer = page.locator(".sg-conversations")
        await expect(drawer).to_be_in_viewport()
        await drawer.get_by_text("Show me something wide").click()
        await expect(drawer).not_to_be_in_viewport(timeout=5_000)
        await expect(page.locator(".sg-user")).to_contain_text("Show me something wide")
    finally:
        await page.context.close()


async def test_escape_stops_the_answer_and_closes_the_model_connection(page: Page, model: ScriptedModel) -> None:
    model.replies.append(Reply.of(" ".join(f"word{i}" for i in range(400)), tokens_per_second=40))
    await ask(page, "Stream slowly, I will press Esc")
    answer = page.locator(".sg-answer").last
    await expect(answer).to_contain_text("word5", timeout=10_000)
    conn = model.server.connections[-1]
    await page.keyboard.press("Escape")  # the focus is still in the message box
    await asyncio.wait_for(conn.closed.wait(), 5)
    assert not conn.finished and conn.chunks_sent < 400
    message = page.locator(".sg-message").last
    await expect(message.locator(".sg-status")).to_have_text("Stopped", timeout=5_000)
    await expect(page.get_by_role("button", name="Send")).to_be_enabled()


async def test_dark_mode_follows_the_system_until_chosen_and_is_remembered(browser: Browser, app_url: str) -> None:
    page = await new_page(browser, app_url, color_scheme="dark")
    try:
        body = page.locator("body")
        await expect(body).to_have_class(DARK)  # the system's choice, by default
        await page.emulate_media(color_scheme="light")
        await expect(body).not_to_have_class(DARK)
        theme = page.locator(".sg-theme-button")
        await expect(theme).to_have_attribute("aria-label", "Theme: System")
        await theme.click()
        await expect(theme).to_have_attribute("aria-label", "Theme: Light")
        await theme.click()
        await expect(theme).to_have_attribute("aria-label", "Theme: Dark")
        await expect(body).to_have_class(DARK)
        await page.reload()
        await expect(page.get_by_label("Message")).to_be_visible()
        await expect(body).to_have_class(DARK)  # remembered, though the system is light
        await page.get_by_role("button", name="Theme: Dark").click()
        await expect(theme).to_have_attribute("aria-label", "Theme: System")  # back to following the system
        await expect(body).not_to_have_class(DARK)
        await page.emulate_media(color_scheme="dark")
        await expect(body).to_have_class(DARK)
        await page.reload()
        await expect(page.get_by_label("Message")).to_be_visible()
        await expect(body).to_have_class(DARK)
        await expect(theme).to_have_attribute("title", "Theme: System (click for Light)")
    finally:
        await page.context.close()


async def test_live_region_announces_start_and_end_not_tokens(page: Page, model: ScriptedModel) -> None:
    model.replies.append(Reply.of(" ".join(f"tok{i}" for i in range(60)), "Some reasoning first.",
                                  tokens_per_second=30))
    region = page.locator("[role=status][aria-live=polite]")
    await expect(region).to_have_count(1)
    await ask(page, "Announce yourself")
    await expect(region).to_have_text("Answer started", timeout=10_000)
    # The reasoning block says whether it is open: open while thinking, folded once the answer starts.
    header = page.locator(".sg-think [aria-expanded]").first
    await expect(header).to_have_attribute("aria-expanded", "false", timeout=10_000)
    assert "tok" not in await region.inner_text()
    await expect(region).to_have_text("Answer complete", timeout=15_000)
    await header.click()
    await expect(header).to_have_attribute("aria-expanded", "true")


async def test_own_message_appears_at_once_after_enter(browser: Browser, app_url: str) -> None:
    """Loosely (< 1 s; the figure is measured in benchmarks/own_message.py): the message is drawn
    before the conversation is created and stored."""
    page = await new_page(browser, app_url)
    try:
        box = page.get_by_label("Message")
        await box.fill("Am I shown at once?")
        await page.evaluate("""() => { window.__sent = null; window.__shown = null;
            document.addEventListener('keydown', e => { if (e.key === 'Enter') window.__sent = performance.now(); }, true);
            new MutationObserver(() => { if (window.__shown === null && document.querySelector('.sg-user'))
              window.__shown = performance.now(); }).observe(document.body, {childList: true, subtree: true}); }""")
        await box.press("Enter")
        await expect(page.locator(".sg-user")).to_contain_text("Am I shown at once?")
        elapsed = await page.evaluate("window.__shown - window.__sent")
        assert 0 <= elapsed < 1000, f"own message after {elapsed:.0f} ms"
        await expect(page.locator(".sg-message .sg-status")).to_have_text("Completed", timeout=15_000)
    finally:
        await page.context.close()


async def test_a_reopened_long_conversation_is_scrolled_to_its_end(browser: Browser, app_url: str,
                                                                   model: ScriptedModel) -> None:
    page = await new_page(browser, app_url)
    try:
        for i in range(4):
            model.replies.append(Reply.of(f"Answer {i}. " + " ".join(f"line{j}\n" for j in range(40))))
            await ask(page, f"Question {i}")
            await expect(page.locator(".sg-message .sg-status").nth(i)).to_have_text("Completed", timeout=15_000)
        await page.get_by_role("button", name="New chat").click()
        await expect(page.locator(".sg-welcome")).to_be_visible()
        await page.locator(".sg-conversations").get_by_text("Question 0").click()
        last = page.locator(".sg-message").nth(3)
        await expect(last).to_contain_text("Answer 3.")
        await expect(last.get_by_role("button", name="Regenerate")).to_be_in_viewport()
        await asyncio.sleep(0.5)  # after the page's second scroll, once laid out
        assert await page.evaluate(SCROLLED_TO_END) < 60
        # Scrolled up, the way back down is offered.
        await page.evaluate("document.querySelector('.sg-scroll .q-scrollarea__container').scrollTop = 0")
        jump = page.get_by_role("button", name="Jump to latest")
        await expect(jump).to_be_visible()
        await jump.click()
        await expect(last.get_by_role("button", name="Regenerate")).to_be_in_viewport()
        await expect(jump).to_be_hidden()
        # And after a reload too.
        await page.reload()
        await expect(page.locator(".sg-message").nth(3)).to_contain_text("Answer 3.")
        await asyncio.sleep(0.5)
        assert await page.evaluate(SCROLLED_TO_END) < 60
    finally:
        await page.context.close()
