"""Regenerate the README's screenshots of the demo model's streamed answer (reasoning block open):
docs/screenshot-desktop-light.png and docs/screenshot-desktop-dark.png (1280×900), and
docs/screenshot-phone.png (390×844).

Usage: python docs/screenshot.py  (needs Debian chromium; starts the app on a free port)
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import Browser, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.app_process import AppProcess  # noqa: E402

QUESTION = "How does streaming work in SecretGPT?"


def shoot(browser: Browser, url: str, name: str, *, width: int, height: int, dark: bool = False) -> None:
    context = browser.new_context(viewport={"width": width, "height": height},
                                  color_scheme="dark" if dark else "light")
    page = context.new_page()
    page.goto(url + "/")
    page.get_by_label("Message").fill(QUESTION)
    page.keyboard.press("Enter")
    page.locator(".sg-message .sg-status").last.get_by_text("Completed").wait_for(timeout=30_000)
    if width >= 1024:
        page.locator(".sg-think").last.get_by_text("Thought for").click()
    time.sleep(0.8)
    page.screenshot(path=str(ROOT / "docs" / name))
    context.close()


def main() -> None:
    work = Path(tempfile.mkdtemp())
    # No key: the offline demo model.
    app = AppProcess(work / "data", work / "work", model_url="", model="secretgpt-demo", model_api_key="",
                     env={"DEMO_TOKENS_PER_SECOND": "120"})
    asyncio.run(app.start())
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"])
            shoot(browser, app.url, "screenshot-desktop-light.png", width=1280, height=900)
            shoot(browser, app.url, "screenshot-desktop-dark.png", width=1280, height=900, dark=True)
            shoot(browser, app.url, "screenshot-phone.png", width=390, height=844)
            browser.close()
    finally:
        if app.running:
            asyncio.run(app.terminate())
        app.cleanup()


if __name__ == "__main__":
    main()
