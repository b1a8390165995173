"""The browser side of stream_render: one Chromium page per session, with the hooks that time when
the last token reaches the page, the DOM and the screen."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from benchmarks._frames import FrameLog
from benchmarks._loopback import LoopbackThread, plan_tokens
from benchmarks._plan import WARMUP_TOKENS

OBSERVER_JS = """() => {
  if (window.__sgObserver) return;
  const check = () => {
    const b = window.__sgBench;
    if (!b || (b.seenAt && b.completedAt && b.firstAt)) return;
    const all = document.querySelectorAll('.sg-message');
    const last = all[all.length - 1];
    if (!last) return;
    if (!b.firstAt) {
      const answer = last.querySelector('.sg-answer');
      if (answer && answer.textContent.trim()) {
        b.firstAt = Date.now();
        requestAnimationFrame(() => { b.firstPaintAt = Date.now(); });
      }
    }
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
        if (!b || typeof e.data !== 'string') return;
        if (!b.frameAt && e.data.includes(b.sentinel)) b.frameAt = Date.now();
      });
    }
  }
  window.WebSocket = Observed;
})();"""
ARM_JS = "(s) => { window.__sgBench = {sentinel: s, frameAt: null, firstAt: null, firstPaintAt: null, seenAt: null, paintAt: null, completedAt: null}; }"
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
    // The words the model wrote: without the code blocks' headers (language label and Copy), which the page adds.
    answer_text: answer ? (() => { const copy = answer.cloneNode(true);
      copy.querySelectorAll('.sg-code-head').forEach((head) => head.remove()); return copy.textContent; })() : '',
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


async def warm_up(session: Session, loopback: LoopbackThread, tag: str) -> tuple[float | None, float | None, list[float]]:
    """One short answer first (imports, renderer, first socket traffic), then a fresh chat; returns
    that first answer's times from Enter to its request reaching the model and to its first text on
    screen (the cold case), in ms."""
    sentinel = f"ENDMARK{tag}W"
    prompt = loopback.add_plan(f"{tag}-warmup", plan_tokens(WARMUP_TOKENS, sentinel), None)
    await session.page.evaluate(ARM_JS, sentinel)
    await send(session, prompt)
    await session.page.wait_for_function(DONE_JS, polling=100, timeout=60_000)
    painted = await session.page.evaluate("() => window.__sgBench.firstPaintAt")
    new_chat = session.page.get_by_role("button", name="New chat")
    if await new_chat.count():
        await new_chat.first.click()
        await session.page.wait_for_function("() => !document.querySelector('.sg-message')", polling=100,
                                             timeout=10_000)
    requested = loopback.requested_at.get(prompt.removeprefix("bench:"))
    return (requested * 1000 - session.sent_at * 1000 if requested else None,
            painted - session.sent_at * 1000 if painted else None,
            [session.sent_at, (painted or 0) / 1000 or time.time()])


async def watch_scroll(session: Session, samples: list[int | None], every: float = 2.0) -> None:
    """How far the chat is from its bottom while the answer streams (auto-scroll should follow)."""
    while True:
        await asyncio.sleep(every)
        try:
            samples.append(await session.page.evaluate(SCROLL_JS))
        except Exception:
            return
