"""`ImportDialog`: choose an export file, see what it holds, confirm; awaiting it gives the ids of
the conversations imported (empty if none).

Nothing is imported before the reader confirms. A file that is not a SecretGPT JSON export is
refused with what was expected (a Markdown export is recognised and named as such). A
conversation the reader already has (the one the file was exported from, or an earlier import of
it) is flagged; importing it again makes a copy only if the reader asks for one.
"""

from __future__ import annotations

from nicegui import events, ui

from ...hub import ChatHub
from ...records import ImportCandidate, InvalidImport
from .notices import notify

MAX_IMPORT_BYTES = 50_000_000  # the page's cap; the server's own (MAX_IMPORT_MB) still applies
SHOWN = 8  # conversations listed by name in the preview


class ImportDialog(ui.dialog):
    def __init__(self, hub: ChatHub, owner: str) -> None:
        super().__init__()
        self.hub = hub
        self.owner = owner
        self._data = b""
        with self, ui.card().classes("w-[28rem] max-w-full").mark("import-dialog"):
            ui.label("Import conversations").classes("text-lg")
            ui.label("Choose a JSON file exported from SecretGPT (Export JSON of one conversation, or "
                     "Export all).").classes("text-grey-8")
            # The uploader's own header ("0.0B / 0.00%") says nothing useful here: hidden.
            self.upload = ui.upload(on_upload=self._chosen, auto_upload=True, max_file_size=MAX_IMPORT_BYTES,
                                    on_rejected=self._rejected) \
                .props("accept=.json,application/json,.md flat bordered hide-upload-btn no-thumbnails "
                       "label='Choose a file…'") \
                .classes("w-full [&_.q-uploader\\_\\_subtitle]:hidden").mark("import-file")
            self.message = ui.label("").classes("whitespace-pre-line sg-import-message").mark("import-message")
            self.preview = ui.column().classes("w-full gap-0 text-sm").mark("import-preview")
            with ui.row().classes("w-full justify-end gap-2"):
                ui.button("Cancel", on_click=lambda: self.submit([])).props("flat").mark("import-cancel")
                self.new_only = ui.button("Import new only", on_click=lambda: self._import(skip_existing=True)) \
                    .props("flat").mark("import-new-only")
                self.confirm = ui.button("Import", on_click=lambda: self._import(skip_existing=False)) \
                    .mark("import-confirm")
        self._show_buttons([])
        self.open()

    async def _chosen(self, event: events.UploadEventArguments) -> None:
        self.upload.reset()  # the same file may be chosen again
        self._data = await event.file.read()
        self.preview.clear()
        try:
            candidates = await self.hub.preview_import(self._data, owner=self.owner)
        except InvalidImport as exc:
            self._refuse(f"“{event.file.name}” cannot be imported. {exc}")
            return
        if not candidates:
            self._refuse(f"“{event.file.name}” holds no conversations.")
            return
        self._show_preview(event.file.name, candidates)

    def _rejected(self) -> None:
        self._refuse(f"That file is larger than {MAX_IMPORT_BYTES // 1_000_000} MB; an export of that size "
                     "cannot be imported here.")

    def _refuse(self, text: str) -> None:
        self._data = b""
        self.message.text = text
        self.message.classes(replace="whitespace-pre-line sg-import-message text-negative")
        self._show_buttons([])

    def _show_preview(self, name: str, candidates: list[ImportCandidate]) -> None:
        existing = [c for c in candidates if c.existing_id is not None]
        count = len(candidates)
        self.message.text = f"“{name}” holds {count} conversation{'s' if count != 1 else ''}:"
        self.message.classes(replace="whitespace-pre-line sg-import-message")
        with self.preview:
            for candidate in candidates[:SHOWN]:
                already = " — already in your conversations" if candidate.existing_id else ""
                ui.label(f"• {candidate.title} ({candidate.message_count} message"
                         f"{'s' if candidate.message_count != 1 else ''}){already}").classes("ellipsis")
            if count > SHOWN:
                ui.label(f"… and {count - SHOWN} more").classes("text-grey-7")
            if existing:
                ui.label(_already_text(len(existing), count)).classes("text-orange-9 pt-2").mark("import-duplicate")
        self._show_buttons(candidates)

    def _show_buttons(self, candidates: list[ImportCandidate]) -> None:
        existing = sum(1 for c in candidates if c.existing_id is not None)
        self.confirm.set_visibility(bool(candidates))
        self.confirm.text = "Import a copy" if existing == len(candidates) else \
            "Import all (with copies)" if existing else "Import"
        self.new_only.set_visibility(0 < existing < len(candidates))

    async def _import(self, skip_existing: bool) -> None:
        try:
            ids = await self.hub.import_json(self._data, owner=self.owner, skip_existing=skip_existing)
        except InvalidImport as exc:  # the file was read before; only a changed server would get here
            self._refuse(f"Nothing was imported: {exc}")
            return
        notify(f"Imported {len(ids)} conversation{'s' if len(ids) != 1 else ''}.", "positive")
        self.submit(ids)


def _already_text(existing: int, count: int) -> str:
    if count == 1:
        return ("You already have this conversation (imported before, or the one it was exported from). "
                "Importing it again makes a copy.")
    return (f"You already have {existing} of these (imported before, or where they were exported from). "
            "Import only the new ones, or all of them with copies of those.")
