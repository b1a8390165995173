"""In the host's details panel: its verified measurements are not those it had when last verified
— a warning chip, "changed since you last used it", each changed field old → new (short), when
the new set was first verified, and "Noted" (no longer flagged once someone has seen it)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from nicegui import ui

from ...hub import Change
from ...hub import short_digest

CHANGED = "Changed since you last used it"


class MeasurementChanges(ui.column):
    def __init__(self, changes: list[Change], changed_at: datetime | None,
                 noted: Callable[[], Awaitable[None]] | None = None) -> None:
        super().__init__()
        self.classes("w-full gap-1 border rounded border-amber-500 bg-amber-50 dark:bg-amber-950 p-2 "
                     "sg-measurement-changes").mark("measurement-changes")
        with self:
            ui.chip(CHANGED, icon="published_with_changes", color="warning") \
                .props("aria-label='Warning: changed since you last used it'").mark("changed-chip")
            since = f" (first verified {changed_at:%Y-%m-%d %H:%M:%S} UTC)" if changed_at else ""
            ui.label("This host's verified measurements are not the ones it had when this app last verified it"
                     f"{since}: it may have been redeployed or updated.").classes("text-xs")
            for change in changes:
                ui.label(f"{change.label}: {short_digest(change.old)} → {short_digest(change.new)}") \
                    .classes("text-xs font-mono break-all").mark(f"change-{change.field}")
            if noted is not None:
                ui.button("Noted", icon="done", on_click=noted) \
                    .props("outline dense no-caps aria-label='Noted: stop flagging this change'") \
                    .classes("self-end").mark("acknowledge-change")
