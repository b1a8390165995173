"""Regenerate docs/screenshot.png: the demo model's streamed answer with its reasoning block open.

Usage: python docs/screenshot.py  (needs Debian chromium; starts the app on a free port)
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.app_process import AppProcess  # noqa: E402


def main() -> None:
    work = Path(tempfile.mkdtemp())
    # No key: the offline demo model.
    app = AppProcess(work / "data", work / "work", model_url="", model="secretgpt-demo", model_api_key="",
                     env={"DEMO_TOKENS_PER_SECOND": "80"})
    asyncio.run(app.start())
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"])
            page = browser.new_page(viewport={"width": 1100, "height": 980})
            page.goto(app.url + "/")
            page.get_by_label("Message").fill("How does streaming work in SecretGPT?")
            page.keyboard.press("Enter")
            page.locator(".sg-status").last.get_by_text("Completed").wait_for(timeout=30_000)
            page.locator(".sg-think").last.get_by_text("Thought for").click()
            time.sleep(0.5)
            page.screenshot(path=str(ROOT / "docs" / "screenshot.png"))
            browser.close()
    finally:
        if app.running:
            asyncio.run(app.terminate())
        app.cleanup()


if __name__ == "__main__":
    main()
