"""One polite live region for screen readers: "Answer started", then how the answer ended. Never
the tokens themselves (a reader hears the answer when they go to it)."""

from __future__ import annotations

from nicegui import ui

from ...records import StreamStatus

ENDINGS = {
    StreamStatus.COMPLETED: "Answer complete",
    StreamStatus.STOPPED: "Answer stopped",
}


class Announcer(ui.label):
    def __init__(self) -> None:
        super().__init__("")
        # Visually hidden, but read out: role=status is a polite live region.
        self.classes("sr-only sg-announcer").props("role=status aria-live=polite aria-atomic=true") \
            .mark("announcer")

    def started(self) -> None:
        self.text = "Answer started"

    def ended(self, status: StreamStatus | None) -> None:
        self.text = ENDINGS.get(status, "Answer failed") if status is not None else "Answer failed"
