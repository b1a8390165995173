"""`StreamControls`: Stop, Pause/Resume and the stream's status line, under the message box."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from nicegui import ui


class StreamControls(ui.row):
    def __init__(self, on_stop: Callable[[], Awaitable[None]], on_pause: Callable[[], Awaitable[None]]) -> None:
        super().__init__()
        # Always there, at a fixed height: the controls appearing must not move the message box.
        self.classes("w-full items-center no-wrap gap-2 h-8 sg-stream-controls")
        with self:
            self.stop = ui.button("Stop", icon="stop", on_click=on_stop).props("outline dense color=negative aria-label=Stop")
            self.pause = ui.button("Pause", icon="pause", on_click=on_pause).props("outline dense aria-label=Pause")
            self.status = ui.label("").classes("text-xs text-grey-7 sg-stream-status truncate")

    def running(self, running: bool) -> None:
        self.stop.set_visibility(running)
        self.pause.set_visibility(running)

    def paused(self, paused: bool) -> None:
        """The button says what it will do: Resume while paused."""
        label = "Resume" if paused else "Pause"
        self.pause.text = label
        self.pause.props(f"aria-label={label} icon={'play_arrow' if paused else 'pause'}")
