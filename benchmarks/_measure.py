"""How stream_render measures one case: the app and the SDK-only floor read the same streams, the
browser sessions show them, and the figures come from the page, the websocket frames, the model
server's clock and the app's CPU and memory samples."""

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
from pathlib import Path

from benchmarks._frames import analyze, payload_size
from benchmarks._history import OPEN_REPEATS, SWITCHES, Cpu, run_history
from benchmarks._loopback import API_KEY, MODEL, LoopbackThread
from benchmarks._measured_app import MeasuredApp
from benchmarks._page import (
    ARM_JS, DONE_JS, MEASURE_JS, SCROLL_JS, Session, open_session, send, warm_up, watch_scroll,
)
from benchmarks._plan import IDLE_SECONDS, Case, StreamPlan, app_env, output_path, plan_streams
from benchmarks._report import checks

ROOT = Path(__file__).resolve().parent.parent
FLOOR_SCRIPT = Path(__file__).resolve().parent / "_sdk_floor.py"


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


async def run_case(case: Case, browser, loopback: LoopbackThread, args: argparse.Namespace, run_tag: str,
                   tree: Path | None = None) -> dict:
    data_dir = Path(tempfile.mkdtemp(prefix=f"sg-bench-{case.name}-"))
    if case.prepare is not None:
        case.prepare(data_dir)
    env = app_env(case, args, loopback.protocol)
    result: dict = {"case": case.name, "protocol": loopback.protocol, "title": case.title, "tokens": case.tokens,
                    "sessions": case.sessions, "tokens_per_second": case.tokens_per_second, "env": env,
                    "data_dir": str(data_dir), "tree": str(tree) if tree else None}
    profile_to = output_path(args.profile_app, f"{case.name}.prof")
    sample_to = output_path(args.sample_app, f"{case.name}.stacks")
    if profile_to is not None:
        result["profile"] = str(profile_to)
    if sample_to is not None:
        result["samples"] = str(sample_to)
    run = CaseRun(case, browser, loopback, args, MeasuredApp(loopback.url, MODEL, API_KEY, data_dir, env,
                                                            profile_to, sample_to, tree), data_dir, result)
    try:
        await run.measure(f"{run_tag}{case.name.replace('_', '')}{loopback.protocol[:2]}{'t' if tree else ''}")
        result["checks"] = checks(case, result)
    except Exception as exc:
        result["error"] = f"{type(exc).__name__}: {exc}"
        result["traceback"] = traceback.format_exc()
        result["app_log_tail"] = run.app.log_tail()
    finally:
        await run.close()
        if not args.keep and "error" not in result:
            shutil.rmtree(data_dir, ignore_errors=True)
    return result


class CaseRun:
    def __init__(self, case: Case, browser, loopback: LoopbackThread, args: argparse.Namespace, app: MeasuredApp,
                 data_dir: Path, result: dict) -> None:
        self.case, self.browser, self.loopback, self.args = case, browser, loopback, args
        self.app, self.data_dir, self.result = app, data_dir, result
        self.floor: Floor | None = None
        self.sessions: list[Session] = []
        self.stream_seconds = case.tokens / case.tokens_per_second if case.tokens_per_second else 30.0

    async def measure(self, tag: str) -> None:
        result = self.result
        t0 = time.monotonic()
        await self.app.start()
        result["app_start_s"] = time.monotonic() - t0
        plans, floor_warmup = plan_streams(self.case, self.loopback, tag)
        floor_result = await self._start_floor(plans, floor_warmup)
        await self._open_sessions(tag)
        seen_times, scroll_samples = await self._stream(plans)
        if floor_result is None:
            assert self.floor is not None
            floor_result = await self.floor.result(self.stream_seconds + 120)
        lags = [s.result["lag_ms"] for s in self.sessions if s.result["lag_ms"] is not None]
        self._app_figures(seen_times, lags)
        self._floor_figures(floor_result, plans)
        result["app_alive"] = self.app.running
        end_gap = await self.sessions[0].page.evaluate(SCROLL_JS)
        result["scroll_gap_samples_px"] = scroll_samples
        result["scroll_gap_end_px"] = end_gap
        result["auto_scroll_followed"] = end_gap is not None and end_gap <= 5
        result["unplanned_prompts"] = list(self.loopback.unplanned)

    async def _start_floor(self, plans: list[StreamPlan], warmup: str) -> dict | None:
        """The SDK-only reader: before the app's stream for bursts, alongside it for paced streams."""
        mode = self.args.floor if self.args.floor != "auto" else (
            "sequential" if self.case.tokens_per_second is None else "concurrent")
        self.result["floor_mode"] = mode
        self.floor = Floor(self.loopback.url, [p.floor_prompt for p in plans], warmup, self.data_dir / "floor.log",
                           self.loopback.protocol)
        await self.floor.start()
        if mode != "sequential":
            return None
        self.floor.go()
        return await self.floor.result(self.stream_seconds * 2 + 120)

    async def _open_sessions(self, tag: str) -> None:
        """The browser sessions, the stored history (if the case has one), a warm-up answer, idle CPU."""
        case, app, result = self.case, self.app, self.result
        self.sessions = list(await asyncio.gather(*(open_session(self.browser, app.url, i)
                                                    for i in range(case.sessions))))
        if case.history is not None:
            print(f"  seeding {case.history[0]} × {case.history[1]} messages through the Import dialog, then "
                  f"{SWITCHES} switches and {OPEN_REPEATS} app openings …", flush=True)
            t_history = time.monotonic()
            result["history"] = await run_history(self.sessions[0], app, self.data_dir, *case.history)
            result["history"]["total_s"] = time.monotonic() - t_history
        result["cold_request_ms"], result["cold_first_text_ms"], result["cold_window"] = await warm_up(self.sessions[0], self.loopback, tag)
        await asyncio.sleep(0.5)  # let the warm-up's tail traffic pass
        # ...and whatever the app still does after it ("New chat" rebuilds the conversation list,
        # which takes a while with a full drawer), so it is counted neither as idle nor as the stream.
        assert app.proc is not None and app.sampler is not None
        result["settle_before_idle_s"] = (await Cpu(app.proc).settle())[1]
        idle0 = app.sampler.sample()
        await asyncio.sleep(IDLE_SECONDS)
        idle1 = app.sampler.sample()
        result["app_idle_cpu_pct"] = (idle1[1] - idle0[1]) / (idle1[0] - idle0[0]) * 100

    async def _stream(self, plans: list[StreamPlan]) -> tuple[list[float], list[int | None]]:
        """Send every session's message and wait until each page shows its last token and
        'Completed'; returns when each page painted the last token, and the scroll samples."""
        sessions, app, result = self.sessions, self.app, self.result
        assert app.sampler is not None and app.proc is not None and self.floor is not None
        for session, plan in zip(sessions, plans):
            session.prompt, session.sentinel, session.expected_text = plan.prompt, plan.sentinel, plan.text
            await session.page.evaluate(ARM_JS, plan.sentinel)
            session.log.armed = True
        self.cpu_before = app.sampler.sample()[1]
        result["rss_before_mb"] = app.proc.memory_info().rss / 2**20
        if result["floor_mode"] == "concurrent":
            self.floor.go()
        await asyncio.gather(*(send(s, s.prompt) for s in sessions))
        timeout_ms = (self.stream_seconds * 2 + 120) * 1000
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
        self.done_at = time.time()
        self.cpu_done = app.sampler.sample()[1]
        seen_times = []
        for session in sessions:
            paint = await self._session_figures(session)
            if session.result["lag_ms"] is not None and paint:
                seen_times.append(paint / 1000)
        return seen_times, scroll_samples

    async def _session_figures(self, session: Session) -> float | None:
        """One page's figures (into `session.result`); returns when it painted the last token."""
        m = await session.page.evaluate(MEASURE_JS)
        bench = m["bench"] or {}
        r = session.result
        r["index"] = session.index
        server_at = self.loopback.sentinel_times.get(session.sentinel)

        def after_server(at: float | None) -> float | None:
            return (at / 1000 - server_at) * 1000 if at and server_at else None

        r["server_last_token_at"] = server_at
        # From Enter to the first answer characters in the DOM, and painted (the next animation frame).
        r["first_text_dom_ms"] = bench["firstAt"] - session.sent_at * 1000 if bench.get("firstAt") else None
        requested = self.loopback.requested_at.get(session.prompt.removeprefix("bench:"))
        r["request_ms"] = (requested - session.sent_at) * 1000 if requested else None
        r["first_text_ms"] = bench["firstPaintAt"] - session.sent_at * 1000 if bench.get("firstPaintAt") else None
        r["frame_lag_ms"] = after_server(bench.get("frameAt"))
        r["dom_lag_ms"] = after_server(bench.get("seenAt"))
        r["lag_ms"] = after_server(bench.get("paintAt"))
        r["completed_after_last_token_ms"] = after_server(bench.get("completedAt"))
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
        conns = self.loopback.connections_for(session.prompt)
        r["model_connections"] = len(conns)
        r["model_stream_finished"] = bool(conns) and all(c.finished for c in conns)
        r["frames"] = analyze(session.log.frames)
        if self.args.dump_frames:
            dump_frames(session, Path(self.args.dump_frames) / f"{self.case.name}-s{session.index}.jsonl")
        session.log.frames.clear()
        session.log.sent.clear()
        return bench.get("paintAt")

    def _app_figures(self, seen_times: list[float], lags: list[float]) -> None:
        """The app's CPU and memory over the measured stream, and the figures across sessions."""
        sessions, result, sampler = self.sessions, self.result, self.app.sampler
        assert sampler is not None
        first_send = min(s.sent_at for s in sessions)
        all_seen = len(seen_times) == len(sessions)
        cpu_shown = sampler.cpu_at(max(seen_times)) if all_seen else None
        total_tokens = self.case.tokens * self.case.sessions
        result["app_cpu_s_to_last_token"] = cpu_shown - self.cpu_before if cpu_shown is not None else None
        result["app_cpu_s_to_completed"] = self.cpu_done - self.cpu_before
        result["app_cpu_per_1k"] = result["app_cpu_s_to_last_token"] / (total_tokens / 1000) \
            if cpu_shown is not None else None
        result["app_wall_s"] = (max(seen_times) - first_send) if all_seen else None
        result["stream_window"] = [first_send, self.done_at]
        result["peak_rss_mb"] = sampler.peak_rss(first_send, self.done_at) / 2**20
        result["sessions_detail"] = [s.result for s in sessions]
        result["max_lag_ms"] = max(lags) if len(lags) == len(sessions) else None
        result["median_lag_ms"] = statistics.median(lags) if lags else None
        firsts = [s.result["first_text_ms"] for s in sessions if s.result["first_text_ms"] is not None]
        result["first_text_ms"] = max(firsts) if len(firsts) == len(sessions) else None
        result["median_first_text_ms"] = statistics.median(firsts) if firsts else None
        ratios = [s.result["bytes_ratio"] for s in sessions if s.result["bytes_ratio"] is not None]
        result["bytes_ratio"] = max(ratios) if len(ratios) == len(sessions) else None
        ratios_a = [s.result["bytes_ratio_answer"] for s in sessions if s.result["bytes_ratio_answer"] is not None]
        result["bytes_ratio_answer"] = max(ratios_a) if ratios_a else None
        result["all_complete"] = all(s.result["complete"] and s.result["status"] == "Completed" for s in sessions)
        result["any_disconnect"] = any(s.result["disconnected"] for s in sessions)

    def _floor_figures(self, floor_result: dict, plans: list[StreamPlan]) -> None:
        result, loopback = self.result, self.loopback
        total_tokens = self.case.tokens * self.case.sessions
        result["floor_cpu_s"] = floor_result["cpu_s"]
        result["floor_wall_s"] = floor_result["wall_s"]
        result["floor_cpu_per_1k"] = floor_result["cpu_s"] / (total_tokens / 1000)
        sentinels = [p.floor_sentinel for p in plans]
        floor_lags = [(at - loopback.sentinel_times[s]) * 1000 for at, s in
                      zip(floor_result["last_content_at"], sentinels) if at and s in loopback.sentinel_times]
        result["floor_lag_ms"] = max(floor_lags) if len(floor_lags) == len(sentinels) else None
        result["floor_complete"] = floor_result["texts"] == [p.floor_text for p in plans]
        result["cpu_ratio"] = result["app_cpu_per_1k"] / result["floor_cpu_per_1k"] \
            if result["app_cpu_per_1k"] is not None and result["floor_cpu_per_1k"] > 0 else None

    async def close(self) -> None:
        for session in self.sessions:
            try:
                await session.context.close()
            except Exception:
                pass
        if self.floor is not None:
            self.floor.kill()
        await self.app.stop()


def dump_frames(session: Session, dump: Path) -> None:
    """The measured answer's websocket frames, both directions, as JSON lines (--dump-frames)."""
    dump.parent.mkdir(parents=True, exist_ok=True)
    frames = [(ts, "in", p) for ts, p in session.log.frames]
    frames += [(ts, "out", p) for ts, p in session.log.sent]
    with dump.open("w") as fh:
        for ts, direction, payload in sorted(frames, key=lambda f: f[0]):
            fh.write(json.dumps({"t": ts, "dir": direction, "bytes": payload_size(payload),
                                 "payload": payload if isinstance(payload, str) else repr(payload)}) + "\n")
