"""`ScrollFollow`: keep the newest text in view while an answer streams, until the reader scrolls
up; follow again once they are back at the bottom. Away from the bottom, a "Jump to latest"
button takes them there."""

from __future__ import annotations

import asyncio
import time

from nicegui import background_tasks, ui
from nicegui.events import GenericEventArguments

SCROLL_INTERVAL = 0.4  # seconds between auto-scrolls while following a stream
AT_BOTTOM = 48  # pixels from the bottom that still count as at the bottom
# "The end": the browser clamps a scroll position to the content's height as laid out then (a
# percentage would use the scroll area's last measurement of it, which lags a page just drawn).
END = 10**9
LAID_OUT = 0.15  # seconds: a conversation just drawn is laid out by then, so its height is known


class ScrollFollow:
    def __init__(self, area: ui.scroll_area) -> None:
        self._area = area
        self.following = True
        self.position = 0.0  # pixels from the top, as the browser last reported
        self._last_scroll = 0.0
        # Throttled: every programmatic scroll echoes an event back, and a stream scrolls often.
        area.on("scroll", self._on_scroll, args=["verticalPosition", "verticalSize", "verticalContainerSize"],
                throttle=0.25, leading_events=False)
        self.jump = ui.button("Jump to latest", icon="south", on_click=self.jump_to_latest) \
            .props("rounded dense no-caps color=primary aria-label='Jump to latest'") \
            .classes("absolute bottom-3 left-1/2 -translate-x-1/2 z-10 px-3 shadow-md sg-jump").mark("jump-to-latest")
        self.jump.visible = False

    def restart(self) -> None:
        """A new answer is shown: follow it."""
        self.following = True
        self._last_scroll = 0.0
        self.jump.visible = False

    def progress(self) -> None:
        """More text is shown: scroll to it, a few times a second at most (each scroll is a message)."""
        now = time.monotonic()
        if self.following and now - self._last_scroll >= SCROLL_INTERVAL:
            self._last_scroll = now
            self._area.scroll_to(pixels=END)

    def to_end(self) -> None:
        """The answer is complete (or laid out again): once more to its end, if following."""
        if self.following:
            self._area.scroll_to(pixels=END)

    def to_latest(self) -> None:
        """A conversation was just drawn: show its end, now and once it is laid out."""
        self.restart()
        self._scroll_now_and_later(pixels=END)

    def keep(self, position: float) -> None:
        """The conversation was drawn again (another version of an answer): back to where the
        reader was, once it is laid out."""
        self.following = False
        self._scroll_now_and_later(pixels=position)

    def _scroll_now_and_later(self, **where: float) -> None:
        client = self._area.client
        if client.has_socket_connection:
            self._area.scroll_to(**where)

        async def again() -> None:
            if not client.has_socket_connection:  # a page still loading scrolls once it is shown
                await client.connected()
            await asyncio.sleep(LAID_OUT)
            if not self._area.is_deleted:
                self._area.scroll_to(**where)
        background_tasks.create(again(), name="scroll-after-layout")

    def jump_to_latest(self) -> None:
        self.following = True
        self.jump.visible = False
        self._area.scroll_to(pixels=END)

    def _on_scroll(self, event: GenericEventArguments) -> None:
        # Content growing under a still scroll position is not the reader scrolling up.
        position = float(event.args.get("verticalPosition") or 0)
        size = float(event.args.get("verticalSize") or 0)
        container = float(event.args.get("verticalContainerSize") or 0)
        at_bottom = size - container - position <= AT_BOTTOM
        if at_bottom:
            self.following = True
        elif position < self.position - 4:
            self.following = False
        self.position = position
        self.jump.visible = not at_bottom and not self.following
