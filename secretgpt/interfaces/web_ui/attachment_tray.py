"""`AttachmentTray`: the files that go with the next message. The paperclip beside the message box
opens the file chooser; files dropped on the chat, and images pasted into the message box, come
in the same way (Quasar's uploader takes them: `addFiles`). Each file is read by the server as it
arrives (`ChatHub.add_file`), then shown as a chip that can be removed before sending; one that
cannot be read gets a notice saying why, and nothing else changes."""

from __future__ import annotations

from nicegui import events, ui

from ...hub import ChatHub
from ...records import Attachment, FileTooLarge, UnreadableFile, size_words
from .attachment_chip import AttachmentChip
from .notices import notify

ACCEPT = ".pdf,.docx,.txt,.md,.markdown,.csv,.tsv,.json,.jsonl,.yaml,.yml,.toml,.xml,.html,.log,.py,.js,.ts,.java," \
         ".c,.h,.cpp,.cs,.go,.rs,.rb,.php,.sh,.sql,.css,text/*,image/png,image/jpeg,image/gif,image/webp"


class AttachmentTray(ui.row):
    def __init__(self, hub: ChatHub, owner: str, *, max_bytes: int, max_files: int) -> None:
        super().__init__()
        self.hub = hub
        self.owner = owner
        self.max_bytes = max_bytes
        self.max_files = max_files
        self.files: list[Attachment] = []
        self.classes("w-full gap-2 sg-attachments").mark("attachment-tray")
        self.upload = ui.upload(multiple=True, auto_upload=True, max_file_size=max_bytes, on_upload=self._received,
                                on_rejected=self._rejected).props(f'accept="{ACCEPT}"') \
            .classes("hidden").mark("attachment-upload")
        self.set_visibility(False)

    @property
    def file_ids(self) -> list[str]:
        return [a.file_id for a in self.files]

    def paperclip(self) -> ui.button:
        """The button beside the message box (the file chooser opens in the browser, on the click)."""
        return ui.button(icon="attach_file").on("click", js_handler="() => " + self._js("pickFiles()")) \
            .props("flat round aria-label='Attach files' title='Attach files (or drop them on the chat)'") \
            .mark("attach-files")

    def accept_drops(self, element: ui.element) -> None:
        """Files dropped on `element` are attached."""
        element.on("dragover.prevent", js_handler="() => {}")
        element.on("drop.prevent", js_handler="(e) => " + self._js("addFiles(e.dataTransfer.files)"))

    def accept_paste(self, element: ui.element) -> None:
        """Files (a screenshot) pasted into `element` are attached; text pastes as usual."""
        element.on("paste", js_handler="(e) => { const files = [...((e.clipboardData || {}).files || [])]; "
                                       "if (files.length) { e.preventDefault(); " + self._js("addFiles(files)") + " } }")

    def _js(self, call: str) -> str:
        return f"getElement({self.upload.id}).$refs.qRef.{call}"

    async def _received(self, event: events.UploadEventArguments) -> None:
        if len(self.files) >= self.max_files:
            notify(f"A message may carry at most {self.max_files} files.", "warning")
            return
        try:
            attachment = await self.hub.add_file(event.file.name, await event.file.read(), owner=self.owner)
        except (FileTooLarge, UnreadableFile) as exc:
            notify(str(exc), "negative")
            return
        finally:
            self.upload.reset()
        self.files.append(attachment)
        self._show()

    def _rejected(self) -> None:
        notify(f"That file is larger than {size_words(self.max_bytes)}, the most an attachment may be "
               "(MAX_UPLOAD_MB).", "warning")

    def take_out(self, attachment: Attachment) -> None:
        self.files = [a for a in self.files if a.file_id != attachment.file_id]
        self._show()

    def empty(self) -> None:
        self.files = []
        self._show()

    def _show(self) -> None:
        self.clear_chips()
        with self:
            for attachment in self.files:
                AttachmentChip(attachment, on_remove=self.take_out)
        self.set_visibility(bool(self.files))

    def clear_chips(self) -> None:
        for child in list(self.default_slot.children):
            if isinstance(child, AttachmentChip):
                child.delete()
