"""What stream_render prints: each figure against its target, the details of a case, profiles and
stack samples, and the summary table."""

from __future__ import annotations

from pathlib import Path

from benchmarks._history import OPEN_REPEATS, SWITCHES
from benchmarks._plan import Case
from benchmarks._stacks import Samples, attribute, print_attribution, top_frames

ROOT = Path(__file__).resolve().parent.parent


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
    rows += _first_text_rows(case, r, row, fmt)
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


def _first_text_rows(case: Case, r: dict, row, fmt) -> list[dict]:
    """From Enter to the first answer text on screen, warm (the measured answer) and cold (the
    app's first answer), each with its part before the request reached the model."""
    rows = []
    first = r.get("first_text_ms")
    rows.append(row("first answer text on screen after Enter" + (" (max)" if case.sessions > 1 else ""),
                    fmt(first, ".0f", " ms"), "≤ 300 ms", first is not None and first <= 300))
    s0 = (r.get("sessions_detail") or [{}])[0]
    rows.append(row("  of which Enter → request at the model (session 0)", fmt(s0.get("request_ms"), ".0f", " ms"),
                    "", None))
    cold = r.get("cold_first_text_ms")
    rows.append(row("  the same for the app's first answer (warm-up)", fmt(cold, ".0f", " ms"), "≤ 300 ms",
                    cold is not None and cold <= 300))
    rows.append(row("    of which Enter → request at the model", fmt(r.get("cold_request_ms"), ".0f", " ms"), "", None))
    return rows


def print_result(r: dict, verbose: bool) -> None:
    print()
    print(f"=== {r['case']} over {r['protocol']}: {r['title']}" + (f" [app from {r['tree']}]" if r.get("tree") else "") + " "
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
    _print_problems(sessions)
    _print_frames(s0["frames"], r, verbose)
    if r.get("unplanned_prompts"):
        print(f"note: the model server got unplanned prompts: {r['unplanned_prompts'][:3]}")
    if r.get("history"):
        print_history(r["history"])


def _print_problems(sessions: list[dict]) -> None:
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


def _print_frames(f: dict, r: dict, verbose: bool) -> None:
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
    if r.get("cold_window"):
        print("the app's first answer, Enter → first text on screen: functions on the main thread's stack "
              "(samples, inclusive)")
        for name, n in top_frames(samples, tuple(r["cold_window"])):
            print(f"  {n:5d}  {name}")
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
          f"{'first ms':>8} {'lag ms':>7} {'complete':>8} {'disconn':>7}  verdict")
    for r in results:
        if "error" in r:
            print(f"{r['case']:<14} {r.get('protocol', ''):<8} CRASHED: {r['error'][:80]}")
            continue
        verdict = "FAIL" if any(c["result"] == "FAIL" for c in r["checks"]) else "PASS"
        name = r['case'] + (" (tree)" if r.get("tree") else "")
        print(f"{name:<14} {r['protocol']:<8} {fmt_num(r['bytes_ratio'], '.2f'):>7} {fmt_num(r['cpu_ratio'], '.3f'):>6} "
              f"{fmt_num(r['app_cpu_per_1k'], '.3f'):>9} {r['floor_cpu_per_1k']:>9.3f} {r['peak_rss_mb']:>7.0f} "
              f"{fmt_num(r.get('first_text_ms'), '.0f'):>8} {fmt_num(r['max_lag_ms'], '.0f'):>7} {('yes' if r['all_complete'] else 'NO'):>8} "
              f"{('yes' if r['any_disconnect'] else 'no'):>7}  {verdict}")
    for r in results:
        h = r.get("history")
        if h and "error" not in r:
            print(f"{r['case']}: open app server CPU max {fmt_num(h['open_cpu_ms']['max'], '.0f')} ms "
                  f"(wall max {fmt_num(h['open_wall_ms']['max'], '.0f')} ms); switch server CPU max "
                  f"{fmt_num(h['switch_cpu_ms']['max'], '.0f')} ms, median {fmt_num(h['switch_cpu_ms']['median'], '.0f')}"
                  f" ms (wall max {fmt_num(h['switch_wall_ms']['max'], '.0f')} ms)")
