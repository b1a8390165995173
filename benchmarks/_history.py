"""The stored-history part of a case: seed N conversations into the benchmark browser's account,
then time opening the app and switching conversations.

Seeding. Conversations belong to the browser that made them (owner "web:" + NiceGUI's browser
id cookie). The benchmark browser gets them the way a user would: through the page's "Import"
dialog, uploading a JSON export file (`_seed.py` builds it with the app's own export models).
So the owner is whatever the app decides for that browser; nothing is written around the app.

Server time of an operation = the app process's user+system CPU (psutil, all threads) from just
before the operation (the app idle) until the app is idle again (no more than 10 ms of CPU in a
0.5 s window), so work the app does after the page shows the result (e.g. rebuilding the drawer)
is counted too. The raw figure includes up to that quiet window's idle CPU (~0.5-1 % of a core).
psutil's CPU times tick in 10 ms steps.

Wall time is measured in the browser (`performance.now()`): from the click event (capture phase)
or from navigation start, to the next animation frame after the DOM first shows the conversation's
last message (each seeded conversation's last answer ends with a unique word, `CONVEND017`).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections import deque
from pathlib import Path

from benchmarks._seed import write_export

SEED_FILE = "seed-history.json"
SEED_INFO = "seed-history-info.json"
OPEN_REPEATS = 3
SWITCHES = 10
QUIET_WINDOW_S = 0.5
QUIET_CPU_S = 0.0101  # at most one 10 ms tick in the window
SETTLE_MAX_S = 15.0


def seed_history(data_dir: Path, conversations: int, messages: int) -> None:
    """`Case.prepare`: write the export file the page will import (before the app starts)."""
    t0 = time.monotonic()
    info = write_export(data_dir / SEED_FILE, conversations, messages)
    info["build_s"] = time.monotonic() - t0
    (data_dir / SEED_INFO).write_text(json.dumps(info))


# In the page from its first script on: when the last answer's CONVEND word changes, when the
# drawer's active item changes, when the drawer first holds the expected number of items, and
# every click (capture phase). Times are performance.now() (ms since navigation start).
WATCH_JS = """(expect) => {
  if (window.__sgNav) return;
  const b = window.__sgNav = {on: true, expect, transitions: [], active: [], clicks: [], drawerFullAt: null};
  let lastMarker, lastActive;
  const check = () => {
    if (!b.on) return;
    const all = document.querySelectorAll('.sg-message');
    const last = all[all.length - 1];
    const found = last ? last.textContent.match(/CONVEND\\d{3}/) : null;
    const marker = found ? found[0] : null;
    if (marker !== lastMarker) {
      lastMarker = marker;
      const e = {marker, domAt: performance.now(), paintAt: null, answers: all.length,
                 users: document.querySelectorAll('.sg-user').length};
      b.transitions.push(e);
      requestAnimationFrame(() => { e.paintAt = performance.now(); });
    }
    const act = document.querySelector('.sg-conversation.q-item--active .q-item__label');
    const title = act ? act.textContent.trim() : null;
    if (title !== lastActive) {
      lastActive = title;
      b.active.push({title, at: performance.now()});
    }
    if (b.expect && b.drawerFullAt === null && document.querySelectorAll('.sg-conversation').length >= b.expect) {
      b.drawerFullAt = performance.now();
    }
  };
  document.addEventListener('click', () => b.clicks.push(performance.now()), true);
  new MutationObserver(check).observe(document, {subtree: true, childList: true, characterData: true});
  check();
}"""
SHOWN_JS = """([marker, after, expect]) => {
  const b = window.__sgNav;
  if (!b) return true;  // the page was reloaded under us: the caller reports it
  const t = b.transitions.find(e => e.marker === marker && e.domAt >= after && e.paintAt !== null);
  return !!t && (!expect || (b.drawerFullAt !== null && document.querySelectorAll('.sg-conversation').length >= expect));
}"""
NAV_JS = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const b = window.__sgNav;
  return {nav: nav ? {responseStart: nav.responseStart, responseEnd: nav.responseEnd,
                      domContentLoaded: nav.domContentLoadedEventEnd, load: nav.loadEventEnd,
                      transferSize: nav.transferSize, decodedBodySize: nav.decodedBodySize} : null,
          nav_state: b, conversations: document.querySelectorAll('.sg-conversation').length,
          answers: document.querySelectorAll('.sg-message').length,
          users: document.querySelectorAll('.sg-user').length,
          dom_nodes: document.querySelectorAll('*').length,
          // nicegui.js keeps its Vue app in a top-level `let` of a classic script
          nicegui_elements: (typeof mounted_app !== 'undefined' && mounted_app && mounted_app.elements)
            ? Object.keys(mounted_app.elements).length : null};
}"""


class Cpu:
    """The app's CPU seconds (user+system, all threads), read directly (not via the sampler)."""

    def __init__(self, proc) -> None:
        self.proc = proc

    def now(self) -> float:
        t = self.proc.cpu_times()
        return t.user + t.system

    def main_thread(self) -> float:
        """CPU seconds of the main thread (the event loop) alone; the rest is other threads
        (aiosqlite's worker, executors)."""
        for t in self.proc.threads():
            if t.id == self.proc.pid:
                return t.user_time + t.system_time
        return 0.0

    async def settle(self) -> tuple[float, float]:
        """Wait until the app is idle; returns (CPU seconds then, seconds waited)."""
        t0 = time.monotonic()
        history: deque[tuple[float, float]] = deque()
        while True:
            now, cpu = time.monotonic(), self.now()
            history.append((now, cpu))
            while len(history) > 1 and history[1][0] <= now - QUIET_WINDOW_S:
                history.popleft()
            if history[0][0] <= now - QUIET_WINDOW_S and cpu - history[0][1] <= QUIET_CPU_S:
                return cpu, now - t0
            if now - t0 > SETTLE_MAX_S:
                return cpu, now - t0
            await asyncio.sleep(0.05)


def _transition(state: dict, marker: str, after: float) -> dict | None:
    return next((e for e in state["transitions"] if e["marker"] == marker and e["domAt"] >= after), None)


DRAWER_PAGE = 40  # secretgpt.interfaces.web_ui.conversation_drawer.PAGE
RECENT_MESSAGES = 16  # secretgpt.interfaces.web_ui.chat_view.RECENT_MESSAGES


async def seed_through_import(page, data_dir: Path, cpu: Cpu, expect: int) -> dict:
    """Upload the export file through the page's Import dialog; wait for the drawer to list it."""
    info = json.loads((data_dir / SEED_INFO).read_text())
    await cpu.settle()
    c0, m0, t0, w0 = cpu.now(), cpu.main_thread(), time.monotonic(), time.time()
    await page.get_by_role("button", name="Import").click()
    chooser = page.locator(".q-dialog input[type=file]")
    await chooser.wait_for(state="attached", timeout=10_000)
    await chooser.set_input_files(str(data_dir / SEED_FILE))
    await page.wait_for_function(f"() => document.querySelectorAll('.sg-conversation').length >= {expect}",
                                 polling=100, timeout=180_000)
    shown_s = time.monotonic() - t0
    c1, _ = await cpu.settle()
    notes = await page.locator(".q-notification").all_inner_texts()
    info.update(import_wall_s=shown_s, import_cpu_s=c1 - c0, import_main_thread_cpu_s=cpu.main_thread() - m0,
                import_window=[w0, time.time()], import_notice=" / ".join(" ".join(n.replace("check_circle", "").split()) for n in notes)[:200])
    return info


async def measure_switches(page, cpu: Cpu, titles: list[str], picks: list[int]) -> list[dict]:
    """Click each picked conversation in the drawer; per click: browser wall time and app CPU."""
    await page.evaluate(WATCH_JS, 0)
    out = []
    for index in picks:
        title, marker = titles[index], f"CONVEND{index:03d}"
        item = page.locator(".sg-conversation", has_text=title)
        await item.scroll_into_view_if_needed(timeout=10_000)
        c_before, _ = await cpu.settle()
        m_before, w_start = cpu.main_thread(), time.time()
        mark = await page.evaluate("() => performance.now()")
        await item.click(timeout=10_000)
        err = None
        try:
            await page.wait_for_function(SHOWN_JS, arg=[marker, mark, 0], polling="raf", timeout=30_000)
        except Exception as exc:  # reported, not fatal: the next pick still runs
            err = f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}"
        c_shown = cpu.now()
        c_after, settle_s = await cpu.settle()
        m_after, w_end = cpu.main_thread(), time.time()
        state = await page.evaluate("() => window.__sgNav")
        if state is None:  # a new document: the page reloaded during the switch
            out.append({"index": index, "title": title, "error": "the page reloaded during the switch",
                        "wall_ms": None, "dom_ms": None, "drawer_active_ms": None,
                        "cpu_ms": (c_after - c_before) * 1000, "cpu_to_shown_ms": (c_shown - c_before) * 1000,
                        "main_thread_cpu_ms": (m_after - m_before) * 1000, "window": [w_start, w_end],
                        "settle_s": settle_s, "answers": None, "users": None})
            await page.evaluate(WATCH_JS, 0)
            continue
        click_at = next((c for c in state["clicks"] if c >= mark), None)
        t = _transition(state, marker, mark)
        active = next((a for a in state["active"] if a["at"] >= mark and a["title"] == title), None)
        out.append({
            "index": index, "title": title, "error": err,
            "wall_ms": (t["paintAt"] - click_at) if t and t["paintAt"] and click_at is not None else None,
            "dom_ms": (t["domAt"] - click_at) if t and click_at is not None else None,
            "drawer_active_ms": (active["at"] - click_at) if active and click_at is not None else None,
            "cpu_ms": (c_after - c_before) * 1000, "cpu_to_shown_ms": (c_shown - c_before) * 1000,
            "main_thread_cpu_ms": (m_after - m_before) * 1000, "window": [w_start, w_end],
            "settle_s": settle_s, "answers": t["answers"] if t else None, "users": t["users"] if t else None,
        })
    await page.evaluate("() => { if (window.__sgNav) window.__sgNav.on = false; }")
    return out


async def measure_open(context, url: str, cpu: Cpu, expect: int, marker: str) -> dict:
    """Open the app in a new tab of the benchmark browser (its cookie: its conversations), wait
    for the full drawer and the last opened conversation's last message; then close the tab and
    measure what the server spends dropping that client (after NiceGUI's reconnect timeout)."""
    page = await context.new_page()
    await page.add_init_script(f"({WATCH_JS})({expect})")
    c_before, _ = await cpu.settle()
    m_before, w_start = cpu.main_thread(), time.time()
    err = None
    try:
        await page.goto(url + "/", wait_until="commit")
        await page.wait_for_function(SHOWN_JS, arg=[marker, 0, expect], polling="raf", timeout=60_000)
    except Exception as exc:
        err = f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}"
    c_shown = cpu.now()
    c_after, settle_s = await cpu.settle()
    m_after, w_end = cpu.main_thread(), time.time()
    m = await page.evaluate(NAV_JS)
    state = m["nav_state"] or {"transitions": [], "drawerFullAt": None}
    t = _transition(state, marker, 0)
    nav = m["nav"] or {}
    shown = max(t["paintAt"], state["drawerFullAt"]) if t and t["paintAt"] and state["drawerFullAt"] else None
    result = {
        "error": err, "wall_ms": shown, "message_ms": t["paintAt"] if t else None,
        "drawer_ms": state["drawerFullAt"], "response_start_ms": nav.get("responseStart"),
        "response_end_ms": nav.get("responseEnd"), "dom_content_loaded_ms": nav.get("domContentLoaded"),
        "html_bytes": nav.get("decodedBodySize"), "cpu_ms": (c_after - c_before) * 1000,
        "cpu_to_shown_ms": (c_shown - c_before) * 1000, "settle_s": settle_s,
        "main_thread_cpu_ms": (m_after - m_before) * 1000, "window": [w_start, w_end],
        "conversations": m["conversations"], "answers": m["answers"], "users": m["users"], "dom_nodes": m["dom_nodes"],
        "nicegui_elements": m.get("nicegui_elements"),
    }
    c0, m0, w0 = cpu.now(), cpu.main_thread(), time.time()
    await page.close()
    await asyncio.sleep(3.5)  # NiceGUI's reconnect_timeout (3 s) before the client is deleted
    c1, _ = await cpu.settle()
    result["close_cpu_ms"] = (c1 - c0) * 1000
    result["close_main_thread_cpu_ms"] = (cpu.main_thread() - m0) * 1000
    result["close_window"] = [w0, time.time()]
    return result


async def run_history(session, app, data_dir: Path, conversations: int, messages: int) -> dict:
    """Seed, time the switches (in the session's page), then the app openings (in new tabs);
    leaves the session's page on a new, empty chat for the stream that follows."""
    page = session.page
    cpu = Cpu(app.proc)
    # The drawer lists the newest DRAWER_PAGE conversations ("Show more" for the rest) and a
    # conversation opens at its last RECENT_MESSAGES messages ("Show earlier" for the rest).
    listed = min(conversations, DRAWER_PAGE)
    info = await seed_through_import(page, data_dir, cpu, listed)
    titles = info.pop("titles")
    shown = await page.evaluate("() => ({c: document.querySelectorAll('.sg-conversation').length, "
                                "a: document.querySelectorAll('.sg-message').length})")
    info["drawer_items_after_import"] = shown["c"]
    visible = await page.locator(".sg-conversation .q-item__label").all_inner_texts()
    step = len(visible) / SWITCHES
    picks = [titles.index(visible[min(len(visible) - 1, int(step * i + step / 2))].strip()) for i in range(SWITCHES)]
    switches = await measure_switches(page, cpu, titles, picks)
    # Opening the app opens the conversation the browser had open last: the last one clicked.
    opens = [await measure_open(session.context, app.url, cpu, listed, f"CONVEND{picks[-1]:03d}")
             for _ in range(OPEN_REPEATS)]
    # The stream goes into a new chat (the populated drawer stays), not into a stored one.
    await cpu.settle()
    c0, m0, w0 = cpu.now(), cpu.main_thread(), time.time()
    await page.get_by_role("button", name="New chat").first.click()
    await page.wait_for_function("() => !document.querySelector('.sg-message')", polling=100, timeout=10_000)
    c1, _ = await cpu.settle()
    info["new_chat_cpu_ms"] = (c1 - c0) * 1000
    info["new_chat_main_thread_cpu_ms"] = (cpu.main_thread() - m0) * 1000
    info["new_chat_window"] = [w0, time.time()]

    def stats(rows: list[dict], key: str) -> dict:
        values = [r[key] for r in rows if r.get(key) is not None]
        return {"median": statistics.median(values) if values else None, "max": max(values) if values else None,
                "n": len(values)}

    return {"seed": info, "switches": switches, "opens": opens,
            "switch_cpu_ms": stats(switches, "cpu_ms"), "switch_wall_ms": stats(switches, "wall_ms"),
            "open_cpu_ms": stats(opens, "cpu_ms"), "open_wall_ms": stats(opens, "wall_ms"),
            "all_shown": all(r["error"] is None and r["wall_ms"] is not None for r in switches + opens),
            "full_threads": all(r.get("answers") == min(messages, RECENT_MESSAGES) // 2
                                and r.get("users") == min(messages, RECENT_MESSAGES) // 2
                                for r in switches + opens),
            "drawer_full": all(r["conversations"] == listed for r in opens)}
