"""Streaming render benchmark: the real app, a real headless Chromium, a real model protocol.

    /work/venv/bin/python benchmarks/stream_render.py            # the full set (~6 min)
    /work/venv/bin/python benchmarks/stream_render.py --quick    # a smoke run (~1 min)
    /work/venv/bin/python benchmarks/stream_render.py --cases 3k,burst20k --json out.json

Each case starts `python main.py` as a subprocess pointed at the loopback model server, speaking
the OpenAI-compatible API or Ollama's (`--protocol`; it runs in this process, on its own thread and
event loop), opens the chat page in Debian's
chromium through Playwright, sends one message (after a short warm-up answer) and measures:

- bytes ratio: websocket bytes the page received during the answer ÷ the final `innerHTML` size
  (UTF-8 bytes) of that answer's `.sg-message` element (also shown against `.sg-answer` alone);
- CPU ratio: the app process's user+system CPU seconds per 1 000 tokens, from "message sent" to
  "browser shows the last token", ÷ the same per 1 000 tokens for the same stream read by the
  client library alone (`AsyncOpenAI` or `ChatSecret.astream`) in a separate process (measured in the same run: concurrently for
  paced streams, just before for bursts);
- peak RSS of the app process (sampled every 100 ms);
- lag: when the browser shows the model's last token (a unique sentinel word; DOM mutation time,
  then the next animation frame) minus when the model server wrote it (same machine clock);
- completeness (the words shown equal the words streamed) and websocket disconnects.

It prints a table per case with PASS/FAIL against the targets and exits 0 unless the benchmark
itself crashed. Add a case by appending a `Case` to `CASES` (a `prepare(data_dir)` hook can fill
the data directory before the app starts).
The plan (cases, streams) is in _plan.py, the measuring in _measure.py (the browser side in
_page.py) and the printing in _report.py.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks._loopback import LoopbackThread  # noqa: E402
from benchmarks._measure import run_case  # noqa: E402
from benchmarks._plan import parse_args, selected_cases  # noqa: E402
from benchmarks._report import print_profile, print_result, print_samples, print_summary  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


async def main_async(args) -> list[dict]:
    from playwright.async_api import async_playwright

    cases = selected_cases(args)
    results: list[dict] = []
    run_tag = f"{int(time.time()) % 100000}"
    started = time.monotonic()
    protocols = ["openai", "ollama"] if args.protocol == "both" else [args.protocol]
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            for protocol in protocols:
                loopback = LoopbackThread(protocol).start()
                try:
                    for case, tree in [(c, t) for c in cases for t in [None, *args.tree]]:
                        print(f"\n… running {case.name} over {protocol}: {case.title} "
                              f"({case.tokens:,} tokens × {case.sessions})" + (f", app from {tree}" if tree else ""),
                              flush=True)
                        result = await run_case(case, browser, loopback, args, run_tag, tree)
                        results.append(result)
                        print_result(result, args.verbose)
                        if result.get("profile"):
                            print_profile(Path(result["profile"]))
                        if result.get("samples"):
                            print_samples(result)
                        sys.stdout.flush()
                finally:
                    loopback.stop()
        finally:
            await browser.close()
    print_summary(results)
    print(f"\ntotal time {time.monotonic() - started:.0f} s; python {sys.version.split()[0]}; "
          f"cpus {os.cpu_count()}")
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv, __doc__.split("\n\n")[0])
    results = asyncio.run(main_async(args))
    if args.json:
        Path(args.json).write_text(json.dumps({"quick": args.quick, "results": results}, indent=2, default=str))
        print(f"results written to {args.json}")
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
