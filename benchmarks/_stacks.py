"""Where the app's time went in a measured window, from `_sampled_main.py`'s stack samples.

Only the main thread (the event loop: NiceGUI, page building, rendering) is attributed; samples
where it waits in the selector are idle and left out. SQLite's C work runs in aiosqlite's worker
thread, which the psutil figures count separately ("other threads").
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

# (label, predicate over a frame (file, function)); inclusive: a sample counts for every label
# whose frame is anywhere on its stack.
CATEGORIES: list[tuple[str, str, str]] = [
    ("page build: page.index", "web_ui/page.py", "index"),
    ("chat: ChatView.open", "web_ui/chat_view.py", "open"),
    ("chat: render the thread (_render_thread)", "web_ui/chat_view.py", "_render_thread"),
    ("  answers (AnswerMessage.show_stored)", "web_ui/answer_view.py", "show_stored"),
    ("  markdown → HTML (render_markdown)", "web_ui/markdown_render.py", "render_markdown"),
    ("drawer: ConversationDrawer.refresh", "web_ui/conversation_drawer.py", "refresh"),
    ("  drawer items (_item)", "web_ui/conversation_drawer.py", "_item"),
    ("removing old elements (Element.clear)", "nicegui/element.py", "clear"),
    ("creating elements (Element.__init__)", "nicegui/element.py", "__init__"),
    ("  inspect.signature (NiceGUI observables)", "inspect.py", "signature"),
    ("outbox: serialize + emit updates", "nicegui/outbox.py", "loop"),
    ("page HTML response (Client.build_response)", "nicegui/client.py", "build_response"),
    ("SQLAlchemy (main thread)", "sqlalchemy/", ""),
    ("socket.io / engine.io", "socketio/", ""),
    ("storage.user writes (PersistentDict)", "nicegui/persistence/", ""),
]
_IDLE_LEAVES = {("runners.py", "run"), ("selectors.py", "select"), ("base_events.py", "run_forever")}


class Samples:
    def __init__(self, path: Path) -> None:
        self.stacks: dict[int, list[tuple[str, str, int]]] = {}
        self.samples: list[tuple[float, str, int]] = []
        with open(path) as fh:
            for line in fh:
                parts = line.rstrip("\n").split("\t")
                if parts[0] == "S" and len(parts) == 3:
                    try:
                        self.stacks[int(parts[1])] = [tuple(f) for f in json.loads(parts[2])]
                    except ValueError:
                        pass
                elif parts[0] == "T" and len(parts) == 4:
                    self.samples.append((float(parts[1]), parts[2], int(parts[3])))

    def window(self, start: float, end: float, thread: str = "MainThread") -> list[list[tuple[str, str, int]]]:
        """The main thread's busy stacks (leaf first) between start and end (time.time())."""
        out = []
        for t, name, sid in self.samples:
            if start <= t <= end and name == thread:
                stack = self.stacks.get(sid)
                if stack and (stack[0][0].rsplit("/", 1)[-1], stack[0][1]) not in _IDLE_LEAVES:
                    out.append(stack)
        return out


def attribute(samples: Samples, windows: list[tuple[float, float]], main_cpu_ms: float) -> dict:
    """Shares of the busy main-thread samples in the windows, turned into ms of main-thread CPU
    (per window, averaged)."""
    stacks = [s for a, b in windows for s in samples.window(a, b)]
    n = len(stacks)
    if not n:
        return {"samples": 0}
    per_window = main_cpu_ms / max(1, len(windows))
    cats = []
    for label, file_part, func in CATEGORIES:
        hits = sum(1 for s in stacks if any(file_part in f and (not func or fn == func) for f, fn, _ in s))
        cats.append((label, hits / n, hits / n * per_window))
    own = Counter()
    for s in stacks:
        f, fn, line = s[0]
        own[f"{_short(f)}:{line}({fn})"] += 1
    return {"samples": n, "main_cpu_ms_per_op": per_window, "categories": cats,
            "own": [(k, v / n, v / n * per_window) for k, v in own.most_common(12)]}


def _short(path: str) -> str:
    for marker in ("site-packages/", "/work/main/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path.rsplit("/", 2)[-1] if "/" in path else path


def print_attribution(title: str, a: dict) -> None:
    if not a.get("samples"):
        print(f"  {title}: no busy samples")
        return
    print(f"  {title}: {a['samples']} busy main-thread samples; main-thread CPU {a['main_cpu_ms_per_op']:.0f} ms "
          f"per op, inclusive shares:")
    for label, share, ms in a["categories"]:
        if share >= 0.005:
            print(f"    {label:<46} {share * 100:5.1f} %  ≈ {ms:6.0f} ms")
    print("    top own (leaf) functions: " + ", ".join(f"{k} {share * 100:.1f}%" for k, share, _ in a["own"][:8]))


def top_frames(samples: Samples, window: tuple[float, float], limit: int = 70) -> list[tuple[str, int]]:
    """The functions most often on the main thread's stack in `window` (inclusive), with the
    number of samples busy in the window as the first row."""
    stacks = samples.window(*window)
    counts: Counter[str] = Counter()
    for stack in stacks:
        counts.update({f"{'/'.join(f.split('/')[-2:])}:{fn}" for f, fn, _ in stack})
    return [("(busy samples)", len(stacks)), *counts.most_common(limit)]
