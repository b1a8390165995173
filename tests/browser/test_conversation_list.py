"""The conversation list in a real browser: long titles are cut with "…", and every item's ⋮
(rename, export, delete) stays inside the drawer, on a desktop and on a phone."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, Page, expect

from .conftest import ScriptedModel
from .test_page_chrome import PHONE, ask, new_page

pytestmark = pytest.mark.asyncio(loop_scope="package")

# 200 characters: words, and one unbroken run that cannot wrap anywhere.
LONG_TITLE = ("A very long conversation title that goes on and on about confidential computing " * 2)[:160] + \
    "x" * 40


async def outside_the_drawer(page: Page) -> list[str]:
    """The ⋮ buttons of the list that are not wholly inside the drawer, as `title: box`."""
    drawer = await page.locator(".sg-conversations").bounding_box()
    assert drawer is not None
    outside = []
    for button in await page.locator(".sg-conversation-list").get_by_role("button", name="Actions for").all():
        box = await button.bounding_box()
        assert box is not None
        if box["x"] < drawer["x"] or box["x"] + box["width"] > drawer["x"] + drawer["width"] or box["width"] < 16:
            outside.append(f"{await button.get_attribute('aria-label')}: {box} (drawer {drawer})")
    return outside


async def rename(page: Page, title: str, new_title: str) -> None:
    await page.get_by_role("button", name=f"Actions for “{title}”").click()
    await page.locator(".q-menu").get_by_text("Rename", exact=True).click()
    await page.get_by_role("textbox", name="Title").fill(new_title)
    await page.get_by_role("button", name="Save").click()


async def test_a_long_title_keeps_every_menu_button_inside_the_drawer(browser: Browser, app_url: str,
                                                                      model: ScriptedModel) -> None:
    page = await new_page(browser, app_url)
    try:
        for question in ("A short one", "Soon to get a very long title"):
            await page.get_by_role("button", name="New chat").click()
            await ask(page, question)
            await expect(page.locator(".sg-message .sg-status").last).to_have_text("Completed", timeout=15_000)
        list_ = page.locator(".sg-conversation-list")
        await expect(list_.get_by_role("button", name="Actions for")).to_have_count(2)
        await rename(page, "Soon to get a very long title", LONG_TITLE)
        await expect(list_.get_by_role("button", name=f"Actions for “{LONG_TITLE}”")).to_be_visible()
        assert await outside_the_drawer(page) == []
        # The title is cut with "…" inside its item, and the whole of it is one hover away.
        title = list_.get_by_text(LONG_TITLE)
        assert await title.evaluate("el => el.scrollWidth > el.clientWidth")
        drawer = await page.locator(".sg-conversations").bounding_box()
        box = await title.bounding_box()
        assert drawer is not None and box is not None and box["x"] + box["width"] <= drawer["x"] + drawer["width"]

        # On a phone, in the list opened from ☰.
        await page.set_viewport_size(PHONE)
        await page.reload()
        await page.get_by_role("button", name="Conversations").click()
        await expect(page.locator(".sg-conversations")).to_be_in_viewport(ratio=1)  # slid all the way in
        await expect(list_.get_by_role("button", name="Actions for")).to_have_count(2)
        assert await outside_the_drawer(page) == []
        await list_.get_by_role("button", name=f"Actions for “{LONG_TITLE}”").click()
        await expect(page.locator(".q-menu").get_by_text("Delete", exact=True)).to_be_in_viewport()
    finally:
        await page.context.close()
