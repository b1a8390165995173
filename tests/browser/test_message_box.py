"""The message box in a real browser: a paste far over the limit (1 MB) is refused in words and
stays in the box; NiceGUI's connection pop-ups never show."""

from __future__ import annotations

import json

import pytest
from playwright.async_api import Browser, Locator, Page, expect

from .conftest import ScriptedModel
from .test_page_chrome import new_page

pytestmark = pytest.mark.asyncio(loop_scope="package")

MEGABYTE = 1_000_000


async def no_connection_popup(page: Page) -> None:
    """NiceGUI's own pop-ups: "Connection lost" and "Message too long" (the websocket's limit)."""
    for popup in ("#popup", "#too_long_message_popup"):
        await expect(page.locator(popup)).to_have_attribute("aria-hidden", "true")


async def paste(box: Locator, text: str) -> None:
    """At once, as a paste does (one input event; `fill` is slow for 25,000 lines)."""
    await box.evaluate(
        "(el, text) => { el.value = text; el.dispatchEvent(new Event('input', {bubbles: true})); }", text)


async def test_a_megabyte_paste_is_refused_in_words_and_kept(browser: Browser, app_url: str,
                                                             model: ScriptedModel) -> None:
    page = await new_page(browser, app_url)
    try:
        sent_before = len(model.requests)
        box = page.get_by_label("Message")
        await paste(box, "y" * 10 + "\n" + "x" * (MEGABYTE - 11))
        await box.press("Enter")
        await expect(page.get_by_text("The message is 1,000,000 characters long; the limit is 100,000.")) \
            .to_be_visible(timeout=10_000)
        await no_connection_popup(page)
        assert len(await box.input_value()) == MEGABYTE  # nothing lost
        await expect(page.locator(".sg-user")).to_have_count(0)
        # Cut down to the limit, it goes.
        await box.fill("Short again")
        await box.press("Enter")
        await expect(page.locator(".sg-user")).to_contain_text("Short again")
        await expect(page.locator(".sg-message .sg-status")).to_have_text("Completed", timeout=15_000)
        await no_connection_popup(page)
        assert len(model.requests) == sent_before + 1
        assert model.requests[-1]["messages"][-1]["content"] == "Short again"
    finally:
        await page.context.close()


async def test_a_message_at_the_limit_is_sent_whole(browser: Browser, app_url: str, model: ScriptedModel) -> None:
    """100,000 characters of the kind JSON escapes most (control characters, 7 characters each on
    the wire; quotes, backslashes) still reach the server in one websocket message.

    The control characters share a few lines: Chromium (150) takes about 0.2 ms to lay out each line
    that holds one, so 25,000 such lines freeze the tab for seconds per layout, and the tab then
    misses the socket's pings: a problem of the browser's text layout, not of the wire."""
    page = await new_page(browser, app_url)
    try:
        head = 'Escapes: "quotes", \\backslashes\\,\nnew lines\nand control characters: '
        text = head + "\u0001" * (100_000 - len(head))
        assert len(text) == 100_000
        assert len(json.dumps(json.dumps(text))) > 690_000  # near the worst case CARRIED_CHARS allows for
        box = page.get_by_label("Message")
        await paste(box, text)
        await box.press("Enter")
        await expect(page.locator(".sg-message .sg-status")).to_have_text("Completed", timeout=20_000)
        await no_connection_popup(page)
        assert model.requests[-1]["messages"][-1]["content"] == text
    finally:
        await page.context.close()


async def test_the_edit_box_sends_on_enter_and_refuses_a_megabyte_under_itself(browser: Browser, app_url: str,
                                                                             model: ScriptedModel) -> None:
    page = await new_page(browser, app_url)
    try:
        box = page.get_by_label("Message")
        await box.fill("Tell me about cats")
        await box.press("Enter")
        await expect(page.locator(".sg-message .sg-status")).to_have_text("Completed", timeout=15_000)
        await page.locator(".sg-user-turn").get_by_role("button", name="Edit").click()
        edited = page.get_by_label("Edited message")
        await paste(edited, "z" * MEGABYTE)
        await edited.press("Enter")
        await expect(page.get_by_role("dialog")).to_contain_text(
            "The message is 1,000,000 characters long; the limit is 100,000.")
        await no_connection_popup(page)
        assert len(await edited.input_value()) == MEGABYTE
        await edited.fill("Tell me about dogs")
        await edited.press("Shift+Enter")  # a new line, not sent
        await edited.press_sequentially("and birds")
        await expect(edited).to_have_value("Tell me about dogs\nand birds")
        await edited.press("Enter")
        await expect(page.get_by_role("dialog")).to_be_hidden()
        await expect(page.locator(".sg-user")).to_contain_text("and birds")
        await expect(page.locator(".sg-message .sg-status")).to_have_text("Completed", timeout=15_000)
        assert model.requests[-1]["messages"][-1]["content"] == "Tell me about dogs\nand birds"
    finally:
        await page.context.close()
