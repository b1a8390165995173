"""The verification log on the page: each verified measurement set of a host, newest first (a line
is added only when a host's measurements change), and its download as JSON Lines."""

from __future__ import annotations

from datetime import datetime

from nicegui import ui

from ...hub import AttestationDesk, LogEntry
from ...hub import MEASUREMENT_LABELS, short_digest

SHOWN_ENTRIES = 200  # the page lists the newest; the download has them all
FILENAME = "attestation-log.jsonl"


class VerificationLogDialog(ui.dialog):
    """`origin`: one host's entries (None: every host's)."""

    def __init__(self, desk: AttestationDesk, origin: str | None = None) -> None:
        super().__init__()
        self._desk = desk
        self._origin = origin
        with self, ui.card().classes("w-[44rem] max-w-full sg-verification-log").mark("verification-log"):
            with ui.row().classes("w-full items-center"):
                ui.label("Verification log").classes("text-lg font-medium")
                ui.space()
                ui.button(icon="close", on_click=self.close).props("flat round dense aria-label=Close")
            ui.label(f"Host: {origin}" if origin else "All hosts").classes("text-xs text-grey-7")
            ui.label("What this app verified, newest first: a line is added when a host's measurements differ "
                     f"from the last ones verified. Kept in the data dir as {FILENAME}.").classes("text-xs")
            self._entries = ui.column().classes("w-full gap-1")
            with ui.row().classes("w-full justify-end"):
                ui.button("Download", icon="download", on_click=self._download) \
                    .props("outline no-caps aria-label='Download the verification log (JSON Lines)'") \
                    .mark("download-log")

    async def load(self) -> None:
        entries = await self._desk.log_entries(self._origin, SHOWN_ENTRIES)
        self._entries.clear()
        with self._entries:
            if not entries:
                ui.label("Nothing verified yet.").classes("text-sm text-grey-7").mark("log-empty")
            for entry in entries:
                log_entry(entry, with_origin=self._origin is None)

    async def _download(self) -> None:
        text = await self._desk.log_export(self._origin)
        ui.download.content(text.encode("utf-8"), FILENAME, "application/x-ndjson")


def log_entry(entry: LogEntry, *, with_origin: bool) -> None:
    with ui.column().classes("w-full gap-0 border-t pt-1 sg-log-entry").mark("log-entry"):
        if entry.kind == "acknowledged":
            ui.label(f"{_when(entry.at)} · change noted").classes("text-sm text-grey-8")
            return
        image = " ".join(v for v in (entry.template, entry.version) if v)
        m = entry.measurements
        head = " · ".join(p for p in (_when(entry.at), "verified", m.tee if m else "", image) if p)
        ui.label(head).classes("text-sm font-medium")
        if with_origin:
            ui.label(entry.origin).classes("text-xs text-grey-7")
        if entry.changes:
            ui.label("Changed: " + ", ".join(c.label for c in entry.changes)) \
                .classes("text-xs font-medium text-orange-800 dark:text-orange-300").mark("log-entry-changes")
        values = m.model_dump() if m else {}
        shown = [f"{label} {short_digest(values[field])}" for field, label in MEASUREMENT_LABELS.items()
                 if field != "tee" and values.get(field)]
        ui.label(" · ".join(shown)).classes("text-xs font-mono break-all")


def _when(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC"
