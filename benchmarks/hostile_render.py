"""Hostile Markdown: does one pathological answer hold up the rest of the server?

    .venv/bin/python benchmarks/hostile_render.py                      # every case (~4 min)
    .venv/bin/python benchmarks/hostile_render.py --cases brackets20k,nested1000

Each case starts `python main.py` (fresh data dir) against the loopback model server, opens the
chat page in Debian's headless chromium, and has the model answer with one pathological text, as
fast as the socket takes it. Meanwhile a probe thread sends `GET /api/v1/models` every 50 ms
(one request at a time, 120 s timeout) and records each one's latency: another user's requests.
Then the page is reloaded, which opens the same conversation from history (the whole answer is
rendered again), with the probe still running.

Per case it prints: seconds until the page shows the answer (status "Completed", and again after
the reload), the probe's worst and 99th-percentile latency in each window, and the app's CPU.
Target (checked here, not in pytest): no probe request takes longer than `PROBE_TARGET_MS`.
Exits 0 whether targets pass or fail; 1 only if the benchmark itself crashed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks._measured_app import MeasuredApp  # noqa: E402
from benchmarks._loopback import API_KEY, MODEL, LoopbackThread  # noqa: E402
from benchmarks.stream_render import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from secretgpt.services.loopback_model import synthetic_markdown  # noqa: E402

TOKEN = "hostile-bench-token"
PROBE_EVERY = 0.05
PROBE_TARGET_MS = 1000
DONE_TIMEOUT_S = 240
SENTINEL = "HOSTILEEND"  # the answer's last word: shown means the whole answer arrived


def _chunks(text: str, size: int) -> list[str]:
    return [text[i:i + size] for i in range(0, len(text), size)]


def _five_megabytes() -> str:
    piece = "".join(synthetic_markdown(4000))
    return (piece * (5_000_000 // len(piece) + 1))[:5_000_000]


def _ordinary(chars: int) -> str:
    return "".join(synthetic_markdown(chars // 3))[:chars]


# name → (what, the answer's chunks)
CASES: dict[str, tuple[str, object]] = {
    "ordinary20k": ("for reference: 20 KB of ordinary Markdown", lambda: _chunks(_ordinary(20_000), 200)),
    "ordinary1mb": ("for reference: 1 MB of ordinary Markdown", lambda: _chunks(_ordinary(1_000_000), 500)),
    "backticks80k": ("40 000 backticks, x, 40 000 backticks", lambda: _chunks("`" * 40_000 + "x" + "`" * 40_000, 400)),
    "backticks20k": ("20 000 backticks", lambda: _chunks("`" * 20_000, 200)),
    "brackets20k": ("20 000 [", lambda: _chunks("[" * 20_000, 200)),
    "brackets60k": ("60 000 [ (just under the block cap: the worst block we render)",
                    lambda: _chunks("[" * 60_000, 600)),
    "nested1000": ("blockquote, list and indented list 1 000 deep", lambda: _chunks(
        ">" * 1000 + " quote\n\n" + "- " * 1000 + "list\n\n" + "".join("  " * i + "- n\n" for i in range(1000)), 500)),
    "answer5mb": ("5 MB of Markdown in one chunk", lambda: [_five_megabytes()]),
    # Code blocks and math (each code block gets a header, each $…$ becomes MathML).
    "fences10k": ("10 000 tiny fenced code blocks", lambda: _chunks("```py\nx\n```\n\n" * 10_000, 400)),
    "math10k": ("10 000 inline $x^2$ in one paragraph (just under the block cap)", lambda: _chunks("$x^2$ " * 10_000, 600)),
    "mathnest": ("$$…$$ 1 000 nested \\sqrt{ and \\left(, and one $…$ of 60 000 characters", lambda: _chunks(
        "$$" + "\\sqrt{" * 1000 + "x" + "}" * 1000 + "$$\n\n$$" + "\\left(" * 1000 + "x" + "\\right)" * 1000
        + "$$\n\n$" + "x+" * 30_000 + "x$", 500)),
    "dollars60k": ("60 000 $", lambda: _chunks("$" * 60_000, 600)),
}


class Probe:
    """Another client of the server: one small API request at a time, latency recorded."""

    def __init__(self, url: str) -> None:
        self.url = url + "/api/v1/models"
        self.samples: list[tuple[float, float]] = []  # (start time, seconds)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="probe", daemon=True)

    def start(self) -> Probe:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(130)

    def _run(self) -> None:
        request = urllib.request.Request(self.url, headers={"Authorization": f"Bearer {TOKEN}"})
        while not self._stop.is_set():
            started = time.time()
            try:
                with urllib.request.urlopen(request, timeout=120) as response:
                    response.read()
            except OSError:
                pass
            self.samples.append((started, time.time() - started))
            self._stop.wait(PROBE_EVERY)

    def window(self, start: float, end: float) -> dict:
        # A request counts for a window if it was in flight during it.
        lat = [s for t, s in self.samples if t <= end and t + s >= start]
        if not lat:
            return {"n": 0, "max_ms": None, "p99_ms": None, "median_ms": None}
        lat_ms = sorted(x * 1000 for x in lat)
        return {"n": len(lat_ms), "max_ms": lat_ms[-1], "p99_ms": lat_ms[min(len(lat_ms) - 1, int(len(lat_ms) * 0.99))],
                "median_ms": statistics.median(lat_ms)}


@dataclass
class Outcome:
    shown: bool
    seconds: float
    cpu_s: float


async def wait_completed(page, app: MeasuredApp, started: float, cpu0: float, timeout: float) -> Outcome:
    """Until the answer is complete and rendered: status "Completed", the closing sentinel shown,
    and no block still waiting for the renderer's worker thread."""
    try:
        await page.locator(".sg-message .sg-status").last.filter(has_text="Completed").wait_for(
            timeout=timeout * 1000)
        await page.wait_for_function(
            f"() => {{ const a = [...document.querySelectorAll('.sg-answer')].pop();"
            f" return a && a.innerText.includes('{SENTINEL}') && !a.querySelector('.sg-rendering'); }}",
            polling=50, timeout=timeout * 1000)
        shown = True
    except Exception:  # noqa: BLE001 (a timeout is a result here)
        shown = False
    return Outcome(shown, time.time() - started, app.proc.cpu_times().user + app.proc.cpu_times().system - cpu0)


def cpu(app: MeasuredApp) -> float:
    times = app.proc.cpu_times()
    return times.user + times.system


async def run_case(name: str, browser, loopback: LoopbackThread, workdir: Path, timeout: float) -> dict:
    what, make = CASES[name]
    chunks = [*make(), f"\n\n{SENTINEL}"]  # type: ignore[operator]
    data_dir = workdir / name
    data_dir.mkdir(parents=True)
    app = await MeasuredApp(loopback.url, MODEL, API_KEY, data_dir, {"SECRETGPT_API_TOKEN": TOKEN}).start()
    probe = Probe(app.url).start()
    result: dict = {"case": name, "what": what, "chars": sum(len(c) for c in chunks)}
    try:
        context = await browser.new_context(viewport={"width": 1280, "height": 900})
        page = await context.new_page()
        await page.goto(app.url + "/", wait_until="load")
        await page.get_by_label("Message").wait_for(state="visible", timeout=30_000)
        # A short answer first (the first one imports the model client), then a fresh chat.
        await page.get_by_label("Message").fill(loopback.add_plan(f"{name}-warmup", ["Warm ", "up."], None))
        await page.get_by_label("Message").press("Enter")
        await page.locator(".sg-message .sg-status").filter(has_text="Completed").wait_for(timeout=60_000)
        await page.get_by_role("button", name="New chat").click()
        await page.locator(".sg-message").wait_for(state="detached", timeout=10_000)
        prompt = loopback.add_plan(name, chunks, None)
        await asyncio.sleep(1.0)  # a quiet second of probes first
        quiet = probe.window(time.time() - 1.0, time.time())
        await page.get_by_label("Message").fill(prompt)
        t0, c0 = time.time(), cpu(app)
        await page.get_by_label("Message").press("Enter")
        stream = await wait_completed(page, app, t0, c0, timeout)
        result.update(quiet=quiet, stream=vars(stream), stream_probe=probe.window(t0, time.time()))
        t1, c1 = time.time(), cpu(app)
        await page.reload(wait_until="load")
        reopen = await wait_completed(page, app, t1, c1, timeout)
        result.update(reopen=vars(reopen), reopen_probe=probe.window(t1, time.time()))
        answer = page.locator(".sg-message .sg-answer").last
        result["raw_blocks"] = await answer.locator("pre.sg-raw").count()
        result["app_alive"] = app.running
        await context.close()
    finally:
        probe.stop()
        await app.stop()
    return result


def verdict(r: dict) -> str:
    worst = max((r[k]["max_ms"] or 0) for k in ("stream_probe", "reopen_probe"))
    ok = r["stream"]["shown"] and r["reopen"]["shown"] and worst <= PROBE_TARGET_MS
    return "PASS" if ok else "FAIL"


def fmt(v: float | None) -> str:
    return "—" if v is None else f"{v:,.0f}"


def print_table(results: list[dict], header: bool = True) -> None:
    if header:
        print(f"\nprobe: GET /api/v1/models every {PROBE_EVERY * 1000:.0f} ms; target: every probe ≤ "
              f"{PROBE_TARGET_MS} ms; latencies in ms")
        print(f"{'case':14} {'chars':>9} | {'stream s':>8} {'probe max':>9} {'p99':>6} {'CPU s':>6} | "
              f"{'reopen s':>8} {'probe max':>9} {'p99':>6} {'CPU s':>6} | {'quiet max':>9} verdict")
    for r in results:
        if "error" in r:
            print(f"{r['case']:14} crashed: {r['error']}")
            continue
        s, sp, o, op = r["stream"], r["stream_probe"], r["reopen"], r["reopen_probe"]
        mark = lambda x: "" if x["shown"] else " (not shown)"  # noqa: E731
        print(f"{r['case']:14} {r['chars']:>9,} | {s['seconds']:>8.1f} {fmt(sp['max_ms']):>9} {fmt(sp['p99_ms']):>6} "
              f"{s['cpu_s']:>6.1f} | {o['seconds']:>8.1f} {fmt(op['max_ms']):>9} {fmt(op['p99_ms']):>6} "
              f"{o['cpu_s']:>6.1f} | {fmt(r['quiet']['max_ms']):>9} {verdict(r)}{mark(s)}{mark(o)}")


async def main_async(args: argparse.Namespace) -> list[dict]:
    from playwright.async_api import async_playwright

    names = args.cases.split(",") if args.cases else list(CASES)
    loopback = LoopbackThread().start()
    results = []
    with tempfile.TemporaryDirectory(prefix="hostile-bench-") as tmp:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            for name in names:
                print(f"… {name}: {CASES[name][0]}", flush=True)
                try:
                    results.append(await run_case(name, browser, loopback, Path(tmp), args.done_timeout))
                except Exception as exc:  # noqa: BLE001 (report and go on with the next case)
                    results.append({"case": name, "error": f"{type(exc).__name__}: {exc}"})
                print_table(results[-1:], header=False)
            await browser.close()
    loopback.stop()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", help=f"comma-separated, from: {', '.join(CASES)} (default: all)")
    parser.add_argument("--json", type=Path, help="write the results as JSON to this file")
    parser.add_argument("--done-timeout", type=float, default=DONE_TIMEOUT_S,
                        help=f"seconds to wait for the answer to show (default {DONE_TIMEOUT_S})")
    args = parser.parse_args(argv)
    started = time.time()
    try:
        results = asyncio.run(main_async(args))
    except Exception:  # noqa: BLE001
        import traceback

        traceback.print_exc()
        return 1
    print_table(results)
    print(f"\ntotal time {time.time() - started:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
