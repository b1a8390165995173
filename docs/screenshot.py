"""Regenerate docs/screenshot.png: the demo model's streamed answer with its reasoning block open.

Usage: python docs/screenshot.py  (needs Debian chromium; starts the app on a free port)
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k != "SECRET_AI_API_KEY"}
    env.update(SECRETGPT_PORT=str(port), SECRETGPT_DATA_DIR=tempfile.mkdtemp(), DEMO_TOKENS_PER_SECOND="80")
    app = subprocess.Popen([sys.executable, "main.py"], cwd=ROOT, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(4)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"])
            page = browser.new_page(viewport={"width": 1100, "height": 980})
            page.goto(f"http://127.0.0.1:{port}/")
            page.get_by_label("Message").fill("How does streaming work in SecretGPT?")
            page.keyboard.press("Enter")
            page.locator(".sg-status").last.get_by_text("Completed").wait_for(timeout=30_000)
            page.locator(".sg-think").last.get_by_text("Thought for").click()
            time.sleep(0.5)
            page.screenshot(path=str(ROOT / "docs" / "screenshot.png"))
            browser.close()
    finally:
        app.terminate()
        app.wait(10)


if __name__ == "__main__":
    main()
