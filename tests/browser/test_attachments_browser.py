"""Attachments in a real browser: the paperclip opens the file chooser, a PDF and an image come back
as chips (name, size, pages; the image as its thumbnail, a data: URL), a pasted screenshot and a
dropped file join them, some are removed before sending, and the message goes with the rest."""

from __future__ import annotations

import base64

import pytest
from playwright.async_api import Browser, expect

from tests.support.files import pdf_bytes, png_bytes

from .conftest import ScriptedModel
from .test_page_chrome import new_page

pytestmark = pytest.mark.asyncio(loop_scope="package")


async def test_paperclip_attaches_a_pdf_and_an_image_shown_as_chips(browser: Browser, app_url: str,
                                                                    model: ScriptedModel) -> None:
    page = await new_page(browser, app_url)
    try:
        async with page.expect_file_chooser() as chosen:
            await page.get_by_role("button", name="Attach files").click()
        chooser = await chosen.value
        await chooser.set_files([
            {"name": "report.pdf", "mimeType": "application/pdf", "buffer": pdf_bytes("Figure 4217.", "Two.")},
            {"name": "chart.png", "mimeType": "image/png", "buffer": png_bytes(120, 80)},
        ])
        tray = page.locator(".sg-attachments")
        await expect(tray.locator(".sg-attachment")).to_have_count(2, timeout=15_000)
        await expect(tray.get_by_text("report.pdf")).to_be_visible()
        await expect(tray.get_by_text("2 pages", exact=False)).to_be_visible()
        thumbnail = tray.locator(".sg-attachment img")
        await expect(thumbnail).to_have_count(1)
        assert (await thumbnail.get_attribute("src") or "").startswith("data:image/")
        # A screenshot pasted into the message box is attached too.
        shot = base64.b64encode(png_bytes(30, 30, (0, 200, 0))).decode()
        await page.get_by_label("Message").evaluate(
            """(box, data) => { const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));
                 const files = new DataTransfer(); files.items.add(new File([bytes], 'shot.png', {type: 'image/png'}));
                 box.dispatchEvent(new ClipboardEvent('paste', {clipboardData: files, bubbles: true})); }""", shot)
        await expect(tray.locator(".sg-attachment")).to_have_count(3, timeout=15_000)
        # So is a file dropped on the chat.
        await page.locator(".sg-scroll").evaluate(
            """(area) => { const files = new DataTransfer();
                 files.items.add(new File(['# Dropped\\nnotes'], 'dropped.md', {type: 'text/markdown'}));
                 area.dispatchEvent(new DragEvent('drop', {dataTransfer: files, bubbles: true})); }""")
        await expect(tray.locator(".sg-attachment")).to_have_count(4, timeout=15_000)
        await page.get_by_role("button", name="Remove dropped.md").click()
        # The images go (this model cannot see them): only the PDF is sent.
        await page.get_by_role("button", name="Remove chart.png").click()
        await page.get_by_role("button", name="Remove shot.png").click()
        await expect(tray.locator(".sg-attachment")).to_have_count(1)
        sent_before = len(model.requests)
        box = page.get_by_label("Message")
        await box.fill("What does the report say?")
        await box.press("Enter")
        await expect(page.locator(".sg-message .sg-status")).to_have_text("Completed", timeout=15_000)
        await expect(page.locator(".sg-user-turn .sg-attachment")).to_contain_text("report.pdf")
        await expect(tray).to_be_hidden()
        assert len(model.requests) == sent_before + 1
        assert "Figure 4217." in model.requests[-1]["messages"][-1]["content"]
    finally:
        await page.context.close()
