"""`ScrollFollow`: keep the newest text in view while an answer streams, until the reader scrolls
up; follow again once they are back at the bottom."""

from __future__ import annotations

import time

from nicegui import ui
from nicegui.events import GenericEventArguments

SCROLL_INTERVAL = 0.4  # seconds between auto-scrolls while following a stream
AT_BOTTOM = 48  # pixels from the bottom that still count as at the bottom


class ScrollFollow:
    def __init__(self, area: ui.scroll_area) -> None:
        self._area = area
        self.following = True
        self._position = 0.0
        self._last_scroll = 0.0
        # Throttled: every programmatic scroll echoes an event back, and a stream scrolls often.
        area.on("scroll", self._on_scroll, args=["verticalPosition", "verticalSize", "verticalContainerSize"],
                throttle=0.25, leading_events=False)

    def restart(self) -> None:
        """A new answer is shown: follow it."""
        self.following = True
        self._last_scroll = 0.0

    def progress(self) -> None:
        """More text is shown: scroll to it, a few times a second at most (each scroll is a message)."""
        now = time.monotonic()
        if self.following and now - self._last_scroll >= SCROLL_INTERVAL:
            self._last_scroll = now
            self._area.scroll_to(percent=1.0)

    def to_end(self) -> None:
        """The answer is complete (or laid out again): once more to its end, if following."""
        if self.following:
            self._area.scroll_to(percent=1.0)

    def _on_scroll(self, event: GenericEventArguments) -> None:
        # Content growing under a still scroll position is not the reader scrolling up.
        position = float(event.args.get("verticalPosition") or 0)
        size = float(event.args.get("verticalSize") or 0)
        container = float(event.args.get("verticalContainerSize") or 0)
        if size - container - position <= AT_BOTTOM:
            self.following = True
        elif position < self._position - 4:
            self.following = False
        self._position = position
