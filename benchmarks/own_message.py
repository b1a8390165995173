"""How fast your own message appears: Enter → the message drawn on the page, in Debian's headless
Chromium against `python main.py` (the offline demo model; nothing but loopback traffic).

    python benchmarks/own_message.py            # 3 fresh app starts, ~1 min
    python benchmarks/own_message.py --starts 5 --later 20

For each fresh start of the app it times the very first message (fresh app, fresh browser session),
the first message of a second browser session, and `--later` messages after that one (each sent once
the previous answer has completed). The figure is from the Enter keydown to the first animation
frame after the message is in the DOM (`performance.now()` in the page), so it includes the round
trip to the server and the browser's layout, not only the server's work. Target: < 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from pathlib import Path

from playwright.async_api import Browser, Page, async_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.app_process import AppProcess  # noqa: E402

HOOK_JS = """() => { window.__own = []; let sent = null;
  document.addEventListener('keydown', e => { if (e.key === 'Enter' && !e.shiftKey) sent = performance.now(); }, true);
  let seen = document.querySelectorAll('.sg-user').length;
  new MutationObserver(() => { const n = document.querySelectorAll('.sg-user').length;
    if (n > seen && sent !== null) { seen = n; const at = sent; sent = null;
      requestAnimationFrame(() => window.__own.push(performance.now() - at)); } })
    .observe(document.body, {childList: true, subtree: true}); }"""


async def send_and_time(page: Page, text: str) -> float:
    count = len(await page.evaluate("window.__own"))
    await page.get_by_label("Message", exact=True).fill(text)
    await page.get_by_label("Message", exact=True).press("Enter")
    await page.wait_for_function(f"window.__own.length > {count}", timeout=30_000)
    elapsed = (await page.evaluate("window.__own"))[count]
    # Its answer has completed (the page refuses, visibly, a message sent while one streams).
    await page.wait_for_function(
        "n => [...document.querySelectorAll('.sg-message .sg-status')]"
        ".filter(s => s.textContent.trim() === 'Completed').length > n", arg=count, timeout=30_000)
    return float(elapsed)


async def session(browser: Browser, url: str, messages: int) -> list[float]:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    await page.goto(url)
    await page.get_by_label("Message", exact=True).wait_for()
    await page.evaluate(HOOK_JS)
    try:
        return [await send_and_time(page, f"Message {i}") for i in range(messages)]
    finally:
        await context.close()


async def one_start(later: int) -> tuple[float, float, list[float]]:
    work = Path(tempfile.mkdtemp())
    app = AppProcess(work / "data", work / "work", model_url="", model="secretgpt-demo", model_api_key="",
                     env={"DEMO_TOKENS_PER_SECOND": "4000"})
    await app.start()
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path="/usr/bin/chromium", args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"])
            first = (await session(browser, app.url, 1))[0]
            second, *rest = await session(browser, app.url, 1 + later)
            await browser.close()
        return first, second, rest
    finally:
        if app.running:
            await app.terminate()
        app.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--starts", type=int, default=3, help="fresh app starts (default 3)")
    parser.add_argument("--later", type=int, default=10, help="later messages per start (default 10)")
    args = parser.parse_args()
    firsts, seconds, later = [], [], []
    for run in range(args.starts):
        first, second, rest = asyncio.run(one_start(args.later))
        firsts.append(first)
        seconds.append(second)
        later.extend(rest)
        print(f"start {run + 1}: first message {first:.0f} ms, new session's first {second:.0f} ms, "
              f"later median {statistics.median(rest):.0f} ms (max {max(rest):.0f})", flush=True)
    print(f"\nEnter → own message drawn (target < 100 ms), {args.starts} app starts:")
    print(f"  very first after start : median {statistics.median(firsts):.0f} ms, max {max(firsts):.0f} ms")
    print(f"  first of a new session : median {statistics.median(seconds):.0f} ms, max {max(seconds):.0f} ms")
    print(f"  later messages ({len(later)})    : median {statistics.median(later):.0f} ms, "
          f"max {max(later):.0f} ms")
    every = [*firsts, *seconds, *later]
    p95 = statistics.quantiles(every, n=20)[-1] if len(every) >= 2 else every[0]
    print(f"  all {len(every)} messages     : p95 {p95:.0f} ms")


if __name__ == "__main__":
    main()
