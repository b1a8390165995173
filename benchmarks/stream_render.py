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
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks._app import AppProcess  # noqa: E402
from benchmarks._frames import FrameLog, analyze, payload_size  # noqa: E402
from benchmarks._history import OPEN_REPEATS, SWITCHES, Cpu, run_history, seed_history  # noqa: E402
from benchmarks._stacks import Samples, attribute, print_attribution  # noqa: E402
from benchmarks._loopback import API_KEY, MODEL, LoopbackThread, plan_tokens  # noqa: E402
from secretgpt.services.ollama_loopback import synthetic_markdown  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
FLOOR_SCRIPT = Path(__file__).resolve().parent / "_sdk_floor.py"
WARMUP_TOKENS = 300
IDLE_SECONDS = 3.0  # the app's idle CPU is measured over this long, before the measured answer


# --- cases -------------------------------------------------------------------------------------

@dataclass
class Case:
    name: str
    title: str
    tokens: int  # per session
    tokens_per_second: float | None  # None: a burst, as fast as the socket takes it
    sessions: int = 1
    quick_tokens: int = 1000
    bytes_target: float | None = 4.0  # None: reported, no target
    cpu_target: float | None = 2.0
    lag_target_ms: float = 300.0
    env: dict[str, str] = field(default_factory=dict)  # extra environment for the app
    prepare: Callable[[Path], None] | None = None  # fill the app's data dir before it starts
    # (conversations, messages each): imported through the page before the stream, then opening
    # the app and switching conversations are timed (see _history.py)
    history: tuple[int, int] | None = None
    server_ms_target: float = 300.0  # app CPU per open / switch

    def sized(self, tokens: int) -> Case:
        copy = Case(**{**self.__dict__})
        copy.tokens = tokens
        return copy


CASES: list[Case] = [
    Case("3k", "3 000 tokens at 100 tok/s", 3_000, 100.0),
    Case("20k", "20 000 tokens at 100 tok/s", 20_000, 100.0),
    Case("burst20k", "20 000-token burst", 20_000, None, quick_tokens=2_000),
    Case("concurrent10", "10 concurrent sessions, 1 000 tokens each at 50 tok/s", 1_000, 50.0, sessions=10,
         quick_tokens=200, bytes_target=None, cpu_target=None, lag_target_ms=500.0,
         env={"MAX_CONCURRENT_STREAMS": "20"}),
    Case("stored200", "3 000 tokens at 100 tok/s, with 200 stored conversations × 50 messages", 3_000, 100.0,
         history=(200, 50), prepare=lambda data_dir: seed_history(data_dir, 200, 50)),
]
QUICK_DEFAULT = ["3k", "burst20k", "concurrent10"]


# --- the browser side --------------------------------------------------------------------------

OBSERVER_JS = """() => {
  if (window.__sgObserver) return;
  const check = () => {
    const b = window.__sgBench;
    if (!b || (b.seenAt && b.completedAt)) return;
    const all = document.querySelectorAll('.sg-message');
    const last = all[all.length - 1];
    if (!last) return;
    if (!b.seenAt && last.textContent.includes(b.sentinel)) {
      b.seenAt = Date.now();
      requestAnimationFrame(() => { b.paintAt = Date.now(); });
    }
    if (!b.completedAt) {
      const status = last.querySelector('.sg-status');
      if (status && status.textContent.trim() === 'Completed') b.completedAt = Date.now();
    }
  };
  window.__sgObserver = new MutationObserver(check);
  window.__sgObserver.observe(document.body, {subtree: true, childList: true, characterData: true});
}"""
# Before any page script: note when the websocket frame carrying the sentinel reaches the page.
WEBSOCKET_HOOK_JS = """(() => {
  const Native = window.WebSocket;
  class Observed extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (e) => {
        const b = window.__sgBench;
        if (b && !b.frameAt && typeof e.data === 'string' && e.data.includes(b.sentinel)) b.frameAt = Date.now();
      });
    }
  }
  window.WebSocket = Observed;
})();"""
ARM_JS = "(s) => { window.__sgBench = {sentinel: s, frameAt: null, seenAt: null, paintAt: null, completedAt: null}; }"
DONE_JS = "() => !!(window.__sgBench && window.__sgBench.completedAt && window.__sgBench.paintAt)"
SCROLL_JS = """() => {
  const c = document.querySelector('.sg-scroll .q-scrollarea__container');
  return c ? Math.round(c.scrollHeight - c.scrollTop - c.clientHeight) : null;
}"""
MEASURE_JS = """() => {
  const all = document.querySelectorAll('.sg-message');
  const last = all[all.length - 1];
  const enc = (s) => new TextEncoder().encode(s).length;
  const answer = last && last.querySelector('.sg-answer');
  return {
    bench: window.__sgBench,
    messages: all.length,
    message_html: last ? enc(last.innerHTML) : 0,
    answer_html: answer ? enc(answer.innerHTML) : 0,
    answer_text: answer ? answer.textContent : '',
    status: last && last.querySelector('.sg-status') ? last.querySelector('.sg-status').textContent.trim() : null,
    dom_nodes: last ? last.querySelectorAll('*').length : 0,
  };
}"""


@dataclass
class Session:
    index: int
    context: object
    page: object
    log: FrameLog
    console: list[str] = field(default_factory=list)
    prompt: str = ""
    sentinel: str = ""
    expected_text: str = ""
    sent_at: float = 0.0
    result: dict = field(default_factory=dict)


async def open_session(browser, url: str, index: int) -> Session:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    await context.add_init_script(WEBSOCKET_HOOK_JS)
    page = await context.new_page()
    session = Session(index, context, page, FrameLog())

    def on_websocket(ws) -> None:
        session.log.sockets_opened += 1

        def on_frame(payload) -> None:
            if session.log.armed:
                session.log.frames.append((time.time(), payload))

        def on_sent(payload) -> None:
            if session.log.armed:
                session.log.sent.append((time.time(), payload))

        ws.on("framereceived", on_frame)
        ws.on("framesent", on_sent)
        ws.on("close", lambda _ws: session.log.sockets_closed.append(time.time()))

    page.on("websocket", on_websocket)
    page.on("console", lambda m: session.console.append(f"{m.type}: {m.text}"[:300])
            if m.type in ("error", "warning") else None)
    await page.goto(url + "/", wait_until="load")
    await page.get_by_label("Message").wait_for(state="visible", timeout=30_000)
    await page.evaluate(OBSERVER_JS)
    return session


async def send(session: Session, prompt: str) -> None:
    box = session.page.get_by_label("Message")
    await box.fill(prompt)
    session.sent_at = time.time()
    await box.press("Enter")


async def warm_up(session: Session, loopback: LoopbackThread, tag: str) -> None:
    """One short answer first (imports, renderer, first socket traffic), then a fresh chat."""
    sentinel = f"ENDMARK{tag}W"
    prompt = loopback.add_plan(f"{tag}-warmup", plan_tokens(WARMUP_TOKENS, sentinel), None)
    await session.page.evaluate(ARM_JS, sentinel)
    await send(session, prompt)
    await session.page.wait_for_function(DONE_JS, polling=100, timeout=60_000)
    new_chat = session.page.get_by_role("button", name="New chat")
    if await new_chat.count():
        await new_chat.first.click()
        await session.page.wait_for_function("() => !document.querySelector('.sg-message')", polling=100,
                                             timeout=10_000)


async def watch_scroll(session: Session, samples: list[int | None], every: float = 2.0) -> None:
    """How far the chat is from its bottom while the answer streams (auto-scroll should follow)."""
    while True:
        await asyncio.sleep(every)
        try:
            samples.append(await session.page.evaluate(SCROLL_JS))
        except Exception:
            return


# --- the SDK floor -----------------------------------------------------------------------------

class Floor:
    """`_sdk_floor.py` in its own process: ready after imports and a warm-up, streams on "go"."""

    def __init__(self, url: str, prompts: list[str], warmup_prompt: str, log_path: Path, protocol: str) -> None:
        self.args = [sys.executable, str(FLOOR_SCRIPT), "--protocol", protocol, "--url", url, "--model", MODEL,
                     "--warmup", warmup_prompt]
        for p in prompts:
            self.args += ["--prompt", p]
        self.log_path = log_path
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        env = {**os.environ, "SECRET_AI_API_KEY": API_KEY}
        self._log = open(self.log_path, "wb")
        self.proc = await asyncio.create_subprocess_exec(*self.args, cwd=ROOT, env=env, stdin=asyncio.subprocess.PIPE,
                                                         stdout=asyncio.subprocess.PIPE, stderr=self._log,
                                                         limit=64 * 1024 * 1024)
        line = await asyncio.wait_for(self.proc.stdout.readline(), 120)
        if not line or not json.loads(line).get("ready"):
            raise RuntimeError(f"SDK floor process failed to start: {line!r} (log: {self.log_path})")

    def go(self) -> None:
        self.proc.stdin.write(b"go\n")

    async def result(self, timeout: float) -> dict:
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        await self.proc.wait()
        self._log.close()
        if not line:
            raise RuntimeError(f"SDK floor process gave no result (log: {self.log_path})")
        return json.loads(line)

    def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()


# --- one case ----------------------------------------------------------------------------------

_WORD_RE = re.compile(r"\w+")
_FENCE_INFO_RE = re.compile(r"^(\s*(?:`{3,}|~{3,}))\w+", re.M)


def words_of_markdown(text: str) -> list[str]:
    return _WORD_RE.findall(_FENCE_INFO_RE.sub(r"\1", text))


def compare_words(expected: list[str], shown: list[str]) -> dict:
    if expected == shown:
        return {"complete": True, "expected_words": len(expected), "shown_words": len(shown)}
    first = next((i for i, (a, b) in enumerate(zip(expected, shown)) if a != b), min(len(expected), len(shown)))
    return {"complete": False, "expected_words": len(expected), "shown_words": len(shown), "first_mismatch": first,
            "expected_near": " ".join(expected[max(0, first - 5):first + 5]),
            "shown_near": " ".join(shown[max(0, first - 5):first + 5])}


async def run_case(case: Case, browser, loopback: LoopbackThread, args: argparse.Namespace, run_tag: str) -> dict:
    data_dir = Path(tempfile.mkdtemp(prefix=f"sg-bench-{case.name}-"))
    if case.prepare is not None:
        case.prepare(data_dir)
    env = dict(case.env)
    if args.typing_speed:
        env["TYPING_SPEED"] = args.typing_speed
    if args.update_hz:
        env["STREAMING_UPDATE_HZ"] = str(args.update_hz)
    env["SECRET_AI_PROTOCOL"] = loopback.protocol
    tag = f"{run_tag}{case.name.replace('_', '')}{loopback.protocol[:2]}"
    result: dict = {"case": case.name, "protocol": loopback.protocol, "title": case.title, "tokens": case.tokens, "sessions": case.sessions,
                    "tokens_per_second": case.tokens_per_second, "env": env, "data_dir": str(data_dir)}
    profile_to = Path(args.profile_app).resolve() / f"{case.name}.prof" if args.profile_app else None
    if profile_to is not None:
        profile_to.parent.mkdir(parents=True, exist_ok=True)
        result["profile"] = str(profile_to)
    sample_to = Path(args.sample_app).resolve() / f"{case.name}.stacks" if args.sample_app else None
    if sample_to is not None:
        sample_to.parent.mkdir(parents=True, exist_ok=True)
        result["samples"] = str(sample_to)
    app = AppProcess(loopback.url, MODEL, API_KEY, data_dir, env, profile_to, sample_to)
    floor: Floor | None = None
    sessions: list[Session] = []
    try:
        t0 = time.monotonic()
        app.start()
        result["app_start_s"] = time.monotonic() - t0

        # Plans: the app's streams and the floor's, token for token the same but for the sentinel.
        app_prompts, floor_prompts, floor_sentinels = [], [], []
        for i in range(case.sessions):
            sentinel = f"ENDMARK{tag}A{i}"
            tokens = plan_tokens(case.tokens, sentinel)
            app_prompts.append((loopback.add_plan(f"{tag}-app-{i}", tokens, case.tokens_per_second), sentinel,
                                "".join(tokens)))
            f_sentinel = f"ENDMARK{tag}F{i}"
            f_tokens = tokens[:-1] + [tokens[-1].replace(sentinel, f_sentinel)]
            floor_sentinels.append(f_sentinel)
            floor_prompts.append((loopback.add_plan(f"{tag}-floor-{i}", f_tokens, case.tokens_per_second),
                                  "".join(f_tokens)))
        floor_warmup = loopback.add_plan(f"{tag}-floor-warmup", synthetic_markdown(WARMUP_TOKENS), None)
        floor_mode = args.floor if args.floor != "auto" else (
            "sequential" if case.tokens_per_second is None else "concurrent")
        result["floor_mode"] = floor_mode
        floor = Floor(loopback.url, [p for p, _ in floor_prompts], floor_warmup, data_dir / "floor.log",
                      loopback.protocol)
        stream_seconds = case.tokens / case.tokens_per_second if case.tokens_per_second else 30.0
        await floor.start()
        floor_result = None
        if floor_mode == "sequential":
            floor.go()
            floor_result = await floor.result(stream_seconds * 2 + 120)

        sessions = list(await asyncio.gather(*(open_session(browser, app.url, i) for i in range(case.sessions))))
        if case.history is not None:
            print(f"  seeding {case.history[0]} × {case.history[1]} messages through the Import dialog, then "
                  f"{SWITCHES} switches and {OPEN_REPEATS} app openings …", flush=True)
            t_history = time.monotonic()
            result["history"] = await run_history(sessions[0], app, data_dir, *case.history)
            result["history"]["total_s"] = time.monotonic() - t_history
        await warm_up(sessions[0], loopback, tag)
        await asyncio.sleep(0.5)  # let the warm-up's tail traffic pass
        # ...and whatever the app still does after it ("New chat" rebuilds the conversation list,
        # which takes a while with a full drawer), so it is counted neither as idle nor as the stream.
        result["settle_before_idle_s"] = (await Cpu(app.proc).settle())[1]
        idle0 = app.sampler.sample()
        await asyncio.sleep(IDLE_SECONDS)
        idle1 = app.sampler.sample()
        result["app_idle_cpu_pct"] = (idle1[1] - idle0[1]) / (idle1[0] - idle0[0]) * 100

        for session, (prompt, sentinel, text) in zip(sessions, app_prompts):
            session.prompt, session.sentinel, session.expected_text = prompt, sentinel, text
            await session.page.evaluate(ARM_JS, sentinel)
            session.log.armed = True
        sampler = app.sampler
        cpu_before = sampler.sample()[1]
        rss_before = app.proc.memory_info().rss
        if floor_mode == "concurrent":
            floor.go()
        await asyncio.gather(*(send(s, s.prompt) for s in sessions))

        timeout_ms = (stream_seconds * 2 + 120) * 1000
        scroll_samples: list[int | None] = []
        watcher = asyncio.create_task(watch_scroll(sessions[0], scroll_samples))
        try:
            waits = await asyncio.gather(*(s.page.wait_for_function(DONE_JS, polling=100, timeout=timeout_ms)
                                           for s in sessions), return_exceptions=True)
        finally:
            watcher.cancel()
        for session, waited in zip(sessions, waits):
            session.log.armed = False
            session.result["wait_error"] = None if not isinstance(waited, BaseException) else \
                f"{type(waited).__name__}: {str(waited).splitlines()[0][:200]}"
        await asyncio.sleep(0.3)
        done_at = time.time()
        cpu_done = sampler.sample()[1]
        if floor_result is None:
            floor_result = await floor.result(stream_seconds + 120)

        # --- per session figures ---
        lags, seen_times = [], []
        for session in sessions:
            m = await session.page.evaluate(MEASURE_JS)
            bench = m["bench"] or {}
            r = session.result
            r["index"] = session.index
            server_at = loopback.sentinel_times.get(session.sentinel)
            seen = bench.get("seenAt")
            paint = bench.get("paintAt")
            r["server_last_token_at"] = server_at
            r["frame_lag_ms"] = (bench["frameAt"] / 1000 - server_at) * 1000 \
                if bench.get("frameAt") and server_at else None
            r["dom_lag_ms"] = (seen / 1000 - server_at) * 1000 if seen and server_at else None
            r["lag_ms"] = (paint / 1000 - server_at) * 1000 if paint and server_at else None
            r["completed_after_last_token_ms"] = (bench["completedAt"] / 1000 - server_at) * 1000 \
                if bench.get("completedAt") and server_at else None
            r["status"] = m["status"]
            r["message_html_bytes"] = m["message_html"]
            r["answer_html_bytes"] = m["answer_html"]
            r["dom_elements"] = m["dom_nodes"]
            r["ws_bytes"] = session.log.bytes
            r["ws_frames"] = len(session.log.frames)
            r["ws_sent_bytes"] = sum(payload_size(p) for _, p in session.log.sent)
            r["ws_sent_frames"] = len(session.log.sent)
            r["bytes_ratio"] = r["ws_bytes"] / m["message_html"] if m["message_html"] else None
            r["bytes_ratio_answer"] = r["ws_bytes"] / m["answer_html"] if m["answer_html"] else None
            r.update(compare_words(words_of_markdown(session.expected_text), _WORD_RE.findall(m["answer_text"])))
            r["sentinel_shown"] = session.sentinel in m["answer_text"]
            r["sockets_opened"] = session.log.sockets_opened
            r["sockets_closed"] = len(session.log.sockets_closed)
            r["disconnected"] = session.log.sockets_closed != [] or session.log.sockets_opened != 1
            r["console"] = session.console[:5]
            conns = loopback.connections_for(session.prompt)
            r["model_connections"] = len(conns)
            r["model_stream_finished"] = bool(conns) and all(c.finished for c in conns)
            r["frames"] = analyze(session.log.frames)
            if args.dump_frames:
                dump = Path(args.dump_frames) / f"{case.name}-s{session.index}.jsonl"
                dump.parent.mkdir(parents=True, exist_ok=True)
                frames = [(ts, "in", p) for ts, p in session.log.frames]
                frames += [(ts, "out", p) for ts, p in session.log.sent]
                with dump.open("w") as fh:
                    for ts, direction, payload in sorted(frames, key=lambda f: f[0]):
                        fh.write(json.dumps({"t": ts, "dir": direction, "bytes": payload_size(payload),
                                             "payload": payload if isinstance(payload, str) else repr(payload)}) + "\n")
            if r["lag_ms"] is not None:
                lags.append(r["lag_ms"])
                seen_times.append(paint / 1000)
            session.log.frames.clear()
            session.log.sent.clear()

        # --- app CPU and memory ---
        first_send = min(s.sent_at for s in sessions)
        all_seen = len(seen_times) == len(sessions)
        cpu_shown = sampler.cpu_at(max(seen_times)) if all_seen else None
        total_tokens = case.tokens * case.sessions
        result["app_cpu_s_to_last_token"] = cpu_shown - cpu_before if cpu_shown is not None else None
        result["app_cpu_s_to_completed"] = cpu_done - cpu_before
        result["app_cpu_per_1k"] = result["app_cpu_s_to_last_token"] / (total_tokens / 1000) \
            if cpu_shown is not None else None
        result["app_wall_s"] = (max(seen_times) - first_send) if all_seen else None
        result["stream_window"] = [first_send, done_at]
        result["rss_before_mb"] = rss_before / 2**20
        result["peak_rss_mb"] = sampler.peak_rss(first_send, done_at) / 2**20
        result["floor_cpu_s"] = floor_result["cpu_s"]
        result["floor_wall_s"] = floor_result["wall_s"]
        result["floor_cpu_per_1k"] = floor_result["cpu_s"] / (total_tokens / 1000)
        floor_lags = [(at - loopback.sentinel_times[s]) * 1000 for at, s in
                      zip(floor_result["last_content_at"], floor_sentinels) if at and s in loopback.sentinel_times]
        result["floor_lag_ms"] = max(floor_lags) if len(floor_lags) == len(floor_sentinels) else None
        result["floor_complete"] = floor_result["texts"] == [t for _, t in floor_prompts]
        result["cpu_ratio"] = result["app_cpu_per_1k"] / result["floor_cpu_per_1k"] \
            if result["app_cpu_per_1k"] is not None and result["floor_cpu_per_1k"] > 0 else None
        result["sessions_detail"] = [s.result for s in sessions]
        result["max_lag_ms"] = max(lags) if len(lags) == len(sessions) else None
        result["median_lag_ms"] = statistics.median(lags) if lags else None
        ratios = [s.result["bytes_ratio"] for s in sessions if s.result["bytes_ratio"] is not None]
        result["bytes_ratio"] = max(ratios) if len(ratios) == len(sessions) else None
        ratios_a = [s.result["bytes_ratio_answer"] for s in sessions if s.result["bytes_ratio_answer"] is not None]
        result["bytes_ratio_answer"] = max(ratios_a) if ratios_a else None
        result["all_complete"] = all(s.result["complete"] and s.result["status"] == "Completed" for s in sessions)
        result["any_disconnect"] = any(s.result["disconnected"] for s in sessions)
        result["app_alive"] = app.running
        end_gap = await sessions[0].page.evaluate(SCROLL_JS)
        result["scroll_gap_samples_px"] = scroll_samples
        result["scroll_gap_end_px"] = end_gap
        result["auto_scroll_followed"] = end_gap is not None and end_gap <= 5
        result["unplanned_prompts"] = list(loopback.unplanned)
        result["checks"] = checks(case, result)
        return result
    except Exception as exc:
        result["error"] = f"{type(exc).__name__}: {exc}"
        result["traceback"] = traceback.format_exc()
        result["app_log_tail"] = app.log_tail()
        return result
    finally:
        for session in sessions:
            try:
                await session.context.close()
            except Exception:
                pass
        if floor is not None:
            floor.kill()
        app.stop()
        if not args.keep and "error" not in result:
            shutil.rmtree(data_dir, ignore_errors=True)


def checks(case: Case, r: dict) -> list[dict]:
    """Each figure against its target: PASS, FAIL or info."""
    def row(label: str, value: str, target: str, ok: bool | None) -> dict:
        return {"metric": label, "value": value, "target": target,
                "result": "info" if ok is None else ("PASS" if ok else "FAIL")}

    def fmt(v: float | None, spec: str, unit: str = "") -> str:
        return "n/a" if v is None else f"{v:{spec}}{unit}"

    rows = []
    br, ba = r.get("bytes_ratio"), r.get("bytes_ratio_answer")
    label = "bytes ratio (ws ÷ .sg-message)" + (" max/session" if case.sessions > 1 else "")
    rows.append(row(label, fmt(br, ".3f"), f"≤ {case.bytes_target:g}" if case.bytes_target else "",
                    None if case.bytes_target is None else (br is not None and br <= case.bytes_target)))
    rows.append(row("bytes ratio (ws ÷ .sg-answer)", fmt(ba, ".2f"), "", None))
    cr = r.get("cpu_ratio")
    rows.append(row("CPU ratio (app ÷ SDK-only, per 1k tok)", fmt(cr, ".3f"),
                    f"≤ {case.cpu_target:g}" if case.cpu_target else "",
                    None if case.cpu_target is None else (cr is not None and cr <= case.cpu_target)))
    rows.append(row("  app CPU s / 1k tokens", fmt(r.get("app_cpu_per_1k"), ".3f"), "", None))
    rows.append(row("  SDK-only CPU s / 1k tokens", fmt(r.get("floor_cpu_per_1k"), ".3f"), "", None))
    rows.append(row("peak server RSS", fmt(r.get("peak_rss_mb"), ".0f", " MB"), "", None))
    lag = r.get("max_lag_ms")
    label = "lag last token → browser" + (" (max)" if case.sessions > 1 else "")
    rows.append(row(label, fmt(lag, ".0f", " ms"), f"≤ {case.lag_target_ms:g} ms",
                    lag is not None and lag <= case.lag_target_ms))
    fl = r.get("floor_lag_ms")
    rows.append(row("  same lag for the SDK-only read", fmt(fl, ".0f", " ms"), "", None))
    rows.append(row("  app lag beyond the SDK-only lag", fmt(lag - fl if lag is not None and fl is not None else None,
                                                            ".0f", " ms"), "", None))
    rows.append(row("shown complete" + (" (all sessions)" if case.sessions > 1 else ""),
                    "yes" if r.get("all_complete") else "NO", "yes", bool(r.get("all_complete"))))
    gaps = [g for g in r.get("scroll_gap_samples_px") or [] if g is not None]
    rows.append(row("auto-scroll at bottom when done (session 0)",
                    "yes" if r.get("auto_scroll_followed") else f"NO ({r.get('scroll_gap_end_px')} px)", "", None))
    rows.append(row("  max distance from bottom while streaming", f"{max(gaps)} px" if gaps else "n/a", "", None))
    rows.append(row("browser never disconnected", "yes" if not r.get("any_disconnect") else "NO", "yes",
                    not r.get("any_disconnect")))
    h = r.get("history")
    if h:
        target = f"≤ {case.server_ms_target:g} ms"
        oc, sc = h["open_cpu_ms"], h["switch_cpu_ms"]
        ow, sw = h["open_wall_ms"], h["switch_wall_ms"]
        rows.append(row(f"open app: server CPU (max of {oc['n']})", fmt(oc["max"], ".0f", " ms"), target,
                        oc["max"] is not None and oc["n"] == OPEN_REPEATS and oc["max"] <= case.server_ms_target))
        rows.append(row("  open app: server CPU median", fmt(oc["median"], ".0f", " ms"), "", None))
        rows.append(row("  open app: wall, navigation → drawer + last msg (max)", fmt(ow["max"], ".0f", " ms"), "",
                        None))
        rows.append(row(f"switch conversation: server CPU (max of {sc['n']})", fmt(sc["max"], ".0f", " ms"), target,
                        sc["max"] is not None and sc["n"] == SWITCHES and sc["max"] <= case.server_ms_target))
        rows.append(row("  switch: server CPU median", fmt(sc["median"], ".0f", " ms"), "", None))
        rows.append(row("  switch: wall, click → last msg painted (max)", fmt(sw["max"], ".0f", " ms"), "", None))
        rows.append(row("  switch: wall median", fmt(sw["median"], ".0f", " ms"), "", None))
        ok = h["all_shown"] and h["full_threads"] and h["drawer_full"]
        rows.append(row("stored conversations shown in full", "yes" if ok else "NO", "yes", ok))
    return rows


# --- reporting ---------------------------------------------------------------------------------

def print_result(r: dict, verbose: bool) -> None:
    print()
    print(f"=== {r['case']} over {r['protocol']}: {r['title']} "
          f"({r['tokens']:,} tokens × {r['sessions']} session(s)) ===")
    if "error" in r:
        print(f"CRASHED: {r['error']}")
        print(r.get("traceback", ""))
        if r.get("app_log_tail"):
            print("--- app log tail ---")
            print(r["app_log_tail"])
        if r.get("history"):
            print_history(r["history"])
        return
    width = max(len(c["metric"]) for c in r["checks"])
    print(f"{'metric':<{width}}  {'value':>10}  {'target':<10}  result")
    for c in r["checks"]:
        print(f"{c['metric']:<{width}}  {c['value']:>10}  {c['target']:<10}  {c['result']}")
    sessions = r["sessions_detail"]
    s0 = sessions[0]
    ws_bytes = sum(s["ws_bytes"] for s in sessions)
    frames = sum(s["ws_frames"] for s in sessions)
    sent = sum(s["ws_sent_bytes"] for s in sessions)
    sent_frames = sum(s["ws_sent_frames"] for s in sessions)
    print(f"details: ws received {ws_bytes:,} B in {frames:,} frames (sent {sent:,} B in {sent_frames:,}); "
          f".sg-message HTML {s0['message_html_bytes']:,} B "
          f"(.sg-answer {s0['answer_html_bytes']:,} B, {s0['dom_elements']:,} DOM elements); "
          f"app CPU {fmt_num(r['app_cpu_s_to_last_token'], '.2f')} s to last token, "
          f"{r['app_cpu_s_to_completed']:.2f} s to 'Completed', wall {fmt_num(r['app_wall_s'], '.1f')} s; "
          f"SDK-only {r['floor_cpu_s']:.2f} s CPU over {r['floor_wall_s']:.1f} s ({r['floor_mode']}, "
          f"{'complete' if r['floor_complete'] else 'INCOMPLETE'}); app idle CPU {r['app_idle_cpu_pct']:.1f} %; "
          f"RSS before {r['rss_before_mb']:.0f} MB; "
          f"app start {r['app_start_s']:.1f} s")
    if r["sessions"] > 1:
        lags = [s["lag_ms"] for s in sessions]
        print("per-session lag ms: " + ", ".join("n/a" if v is None else f"{v:.0f}" for v in lags))
        print("per-session bytes ratio: " + ", ".join(fmt_num(s["bytes_ratio"], ".2f") for s in sessions))
    print(f"lag detail (session 0), after the model wrote the last token: its websocket frame reached the page "
          f"{fmt_num(s0['frame_lag_ms'], '.0f')} ms, DOM {fmt_num(s0['dom_lag_ms'], '.0f')} ms, next frame "
          f"{fmt_num(s0['lag_ms'], '.0f')} ms, 'Completed' {fmt_num(s0['completed_after_last_token_ms'], '.0f')} ms "
          "after the last token")
    for s in sessions:
        problems = []
        if s.get("wait_error"):
            problems.append(f"wait: {s['wait_error']}")
        if not s["complete"]:
            problems.append(f"words shown {s['shown_words']:,} of {s['expected_words']:,}, first mismatch at word "
                            f"{s.get('first_mismatch')}: expected '…{s.get('expected_near')}…' shown "
                            f"'…{s.get('shown_near')}…'")
        if s["status"] != "Completed":
            problems.append(f"status badge: {s['status']!r}")
        if s["disconnected"]:
            problems.append(f"websockets opened {s['sockets_opened']}, closed {s['sockets_closed']}")
        if not s["model_stream_finished"]:
            problems.append(f"model stream not finished (connections: {s['model_connections']})")
        if s["console"]:
            problems.append(f"console: {s['console']}")
        if problems:
            print(f"  session {s['index']}: " + "; ".join(problems))
    f = s0["frames"]
    if f.get("frames"):
        print(f"frames (session 0): {f['frames']:,} frames, mean {f['mean_bytes']:.0f} B, median "
              f"{f['median_bytes']:.0f} B, max {f['max_bytes']:,} B, {fmt_num(f['frames_per_s'], '.1f')}/s; "
              f"element updates: {f['distinct_elements']:,} distinct elements, first sends "
              f"{f['element_first_send_bytes']:,} B, re-sends {f['element_resend_bytes']:,} B")
        events = ", ".join(f"{k} {v['count']}×/{v['bytes']:,} B" for k, v in list(f["events"].items())[:6])
        print(f"  by event: {events}")
        tags = ", ".join(f"{k} {v['count']}×/{v['bytes']:,} B (html {v['html_bytes']:,})"
                         for k, v in list(f["update_tags"].items())[:6])
        print(f"  updated elements by tag: {tags}")
        print(f"  elements per update frame: {f['elements_per_update']}")
        if verbose or any(c["result"] == "FAIL" for c in r["checks"]):
            for sample in f["samples"]:
                print(f"  {sample['which']} frame ({sample['bytes']:,} B): {sample['prefix']!r}")
    if r.get("unplanned_prompts"):
        print(f"note: the model server got unplanned prompts: {r['unplanned_prompts'][:3]}")
    if r.get("history"):
        print_history(r["history"])


def print_history(h: dict) -> None:
    seed = h["seed"]
    print(f"stored history: {seed['conversations']} conversations, {seed['messages']:,} messages "
          f"({seed['answers_with_reasoning']:,} answers with reasoning; answer text {seed['answer_chars_min']:,}–"
          f"{seed['answer_chars_max']:,} chars, median {seed['answer_chars_median']:,}), export file "
          f"{seed['file_bytes'] / 2**20:.1f} MB built in {seed['build_s']:.1f} s; imported through the page in "
          f"{seed['import_wall_s']:.1f} s ({seed['import_cpu_s']:.2f} s app CPU; notice: "
          f"{seed.get('import_notice') or '-'}); drawer items after import {seed['drawer_items_after_import']}; "
          f"'New chat' afterwards {seed['new_chat_cpu_ms']:.0f} ms app CPU; history part {h['total_s']:.0f} s")
    print("  open app (new tab; ms: server CPU to idle (main thread) [by the time shown] | wall: response start / "
          "DOMContentLoaded / last msg / drawer full | html KB, DOM nodes, NiceGUI elements; close tab → client "
          "deleted CPU):")
    for i, o in enumerate(h["opens"]):
        print(f"    #{i + 1}: CPU {o['cpu_ms']:.0f} ({o['main_thread_cpu_ms']:.0f}) [{o['cpu_to_shown_ms']:.0f}] | "
              f"{fmt_num(o['response_start_ms'], '.0f')} / {fmt_num(o['dom_content_loaded_ms'], '.0f')} / "
              f"{fmt_num(o['message_ms'], '.0f')} / {fmt_num(o['drawer_ms'], '.0f')} | "
              f"{(o['html_bytes'] or 0) / 1024:.0f} KB, {o['dom_nodes']:,} nodes, "
              f"{o['nicegui_elements'] or 0:,} elements, {o['conversations']} items, "
              f"{o['users']}+{o['answers']} msgs; close {o['close_cpu_ms']:.0f} ms"
              + (f"; ERROR {o['error']}" if o["error"] else ""))
    print("  switches (drawer click; ms: server CPU to idle (main thread) [by the time shown] | wall click → DOM / "
          "painted / drawer item active):")
    for s in h["switches"]:
        print(f"    #{s['index']:03d}: CPU {s['cpu_ms']:.0f} ({s['main_thread_cpu_ms']:.0f}) "
              f"[{s['cpu_to_shown_ms']:.0f}] | "
              f"{fmt_num(s['dom_ms'], '.0f')} / {fmt_num(s['wall_ms'], '.0f')} / "
              f"{fmt_num(s['drawer_active_ms'], '.0f')} | {s['users']}+{s['answers']} msgs"
              + (f"; ERROR {s['error']}" if s["error"] else ""))


def print_profile(path: Path, top: int = 12) -> None:
    """Own time by package, then by function. Caveats: the whole process life (imports included),
    profiler overhead, and coroutine frames can be charged time spent awaiting."""
    import pstats
    from collections import defaultdict

    if not path.exists():
        print(f"(no profile written at {path})")
        return
    stats = pstats.Stats(str(path)).stats  # type: ignore[attr-defined]
    by_package: dict[str, float] = defaultdict(float)
    rows = []
    for (filename, line, name), (_cc, ncalls, tottime, cumtime, _callers) in stats.items():
        if "site-packages/" in filename:
            package = filename.split("site-packages/", 1)[1].split("/")[0]
        elif str(ROOT) in filename:
            package = "/".join(Path(filename).relative_to(ROOT).parts[:4])
        elif filename == "~":
            package = "builtin " + name[:50]
        else:
            package = "stdlib " + Path(filename).name
        by_package[package] += tottime
        rows.append((tottime, ncalls, cumtime, f"{Path(filename).name}:{line}({name})"))
    print(f"app profile {path} (whole process life incl. imports; coroutines may be charged await time):")
    print("  own time by package: " + ", ".join(
        f"{k} {v:.2f}s" for k, v in sorted(by_package.items(), key=lambda kv: -kv[1])[:top]))
    for tottime, ncalls, cumtime, where in sorted(rows, reverse=True)[:top]:
        print(f"  {tottime:7.3f}s own {cumtime:7.3f}s cum {ncalls:>9,} calls  {where}")


def print_samples(r: dict) -> None:
    """Attribute the stack samples (--sample-app) to the measured windows."""
    path = Path(r["samples"])
    if not path.exists():
        print(f"(no stack samples at {path})")
        return
    samples = Samples(path)
    print(f"app stack samples {path} (main thread only; ms = share × the main thread's psutil CPU in the window):")
    h = r.get("history")
    if h:
        for title, rows in (("open app", h["opens"]), ("switch conversation", h["switches"])):
            rows = [x for x in rows if x.get("window")]
            main_ms = sum(x["main_thread_cpu_ms"] for x in rows)
            total_ms = sum(x["cpu_ms"] for x in rows)
            print(f"  {title}: all threads {total_ms / max(1, len(rows)):.0f} ms per op, main thread "
                  f"{main_ms / max(1, len(rows)):.0f} ms")
            print_attribution(title, attribute(samples, [tuple(x["window"]) for x in rows], main_ms))
        closes = [x for x in h["opens"] if x.get("close_window")]
        if closes:
            print_attribution("close tab (client deleted)", attribute(
                samples, [tuple(x["close_window"]) for x in closes],
                sum(x["close_main_thread_cpu_ms"] for x in closes)))
        seed = h["seed"]
        if seed.get("new_chat_window"):
            print_attribution("'New chat' with the full drawer", attribute(
                samples, [tuple(seed["new_chat_window"])], seed["new_chat_main_thread_cpu_ms"]))
    if r.get("stream_window") and r.get("app_cpu_s_to_completed") is not None:
        print_attribution("measured stream (ms from the app's all-thread CPU)", attribute(
            samples, [tuple(r["stream_window"])], r["app_cpu_s_to_completed"] * 1000))


def fmt_num(v: float | None, spec: str) -> str:
    return "n/a" if v is None else f"{v:{spec}}"


def print_summary(results: list[dict]) -> None:
    print()
    print("=== summary ===")
    print(f"{'case':<14} {'protocol':<8} {'bytes':>7} {'CPU':>6} {'app s/1k':>9} {'SDK s/1k':>9} {'RSS MB':>7} "
          f"{'lag ms':>7} {'complete':>8} {'disconn':>7}  verdict")
    for r in results:
        if "error" in r:
            print(f"{r['case']:<14} {r.get('protocol', ''):<8} CRASHED: {r['error'][:80]}")
            continue
        verdict = "FAIL" if any(c["result"] == "FAIL" for c in r["checks"]) else "PASS"
        print(f"{r['case']:<14} {r['protocol']:<8} {fmt_num(r['bytes_ratio'], '.2f'):>7} {fmt_num(r['cpu_ratio'], '.3f'):>6} "
              f"{fmt_num(r['app_cpu_per_1k'], '.3f'):>9} {r['floor_cpu_per_1k']:>9.3f} {r['peak_rss_mb']:>7.0f} "
              f"{fmt_num(r['max_lag_ms'], '.0f'):>7} {('yes' if r['all_complete'] else 'NO'):>8} "
              f"{('yes' if r['any_disconnect'] else 'no'):>7}  {verdict}")
    for r in results:
        h = r.get("history")
        if h and "error" not in r:
            print(f"{r['case']}: open app server CPU max {fmt_num(h['open_cpu_ms']['max'], '.0f')} ms "
                  f"(wall max {fmt_num(h['open_wall_ms']['max'], '.0f')} ms); switch server CPU max "
                  f"{fmt_num(h['switch_cpu_ms']['max'], '.0f')} ms, median {fmt_num(h['switch_cpu_ms']['median'], '.0f')}"
                  f" ms (wall max {fmt_num(h['switch_wall_ms']['max'], '.0f')} ms)")


# --- main --------------------------------------------------------------------------------------

def parse_args(argv: list[str]) -> argparse.Namespace:
    names = [c.name for c in CASES]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", help=f"comma-separated, from: {', '.join(names)} (default: all; "
                                        f"with --quick: {', '.join(QUICK_DEFAULT)})")
    parser.add_argument("--quick", action="store_true", help="smoke run: each case at its small size "
                                                             "(1 000 tokens for the paced ones)")
    parser.add_argument("--tokens", type=int, help="override the tokens per session of every selected case")
    parser.add_argument("--json", help="write the results as JSON to this file")
    parser.add_argument("--protocol", choices=["openai", "ollama", "both"], default="openai",
                        help="the API the loopback model server speaks and the app uses (default: openai, as "
                             "Secret AI's hosts; both: every case on each)")
    parser.add_argument("--typing-speed", choices=["instant", "fast", "natural"],
                        help="TYPING_SPEED for the app (default: the app's own default)")
    parser.add_argument("--update-hz", type=float, help="STREAMING_UPDATE_HZ for the app (default: the app's)")
    parser.add_argument("--floor", choices=["auto", "concurrent", "sequential"], default="auto",
                        help="run the SDK-only read alongside the app's stream, or before it (auto: "
                             "alongside for paced streams, before for bursts)")
    parser.add_argument("--dump-frames", metavar="DIR",
                        help="write the measured answer's websocket frames (both directions) as JSONL here")
    parser.add_argument("--profile-app", metavar="DIR",
                        help="run the app under cProfile (slower: CPU figures inflate) and write <case>.prof here; "
                             "the top functions by own time are printed")
    parser.add_argument("--sample-app", metavar="DIR",
                        help="run the app under a SIGPROF stack sampler (_sampled_main.py; little overhead) and attribute "
                             "the samples to the measured windows (history opens/switches, the stream)")
    parser.add_argument("--keep", action="store_true", help="keep each case's data dir (app.log, floor.log)")
    parser.add_argument("--verbose", action="store_true", help="print sample frame payloads for every case")
    args = parser.parse_args(argv)
    selected = args.cases.split(",") if args.cases else (QUICK_DEFAULT if args.quick else names)
    unknown = [n for n in selected if n not in names]
    if unknown:
        parser.error(f"unknown case(s) {', '.join(unknown)}; known: {', '.join(names)}")
    args.selected = selected
    return args


async def main_async(args: argparse.Namespace) -> list[dict]:
    from playwright.async_api import async_playwright

    cases = []
    for name in args.selected:
        case = next(c for c in CASES if c.name == name)
        if args.tokens:
            case = case.sized(args.tokens)
        elif args.quick:
            case = case.sized(case.quick_tokens)
        cases.append(case)

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
                    for case in cases:
                        print(f"\n… running {case.name} over {protocol}: {case.title} "
                              f"({case.tokens:,} tokens × {case.sessions})", flush=True)
                        result = await run_case(case, browser, loopback, args, run_tag)
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
    args = parse_args(sys.argv[1:] if argv is None else argv)
    results = asyncio.run(main_async(args))
    if args.json:
        Path(args.json).write_text(json.dumps({"quick": args.quick, "results": results}, indent=2, default=str))
        print(f"results written to {args.json}")
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
