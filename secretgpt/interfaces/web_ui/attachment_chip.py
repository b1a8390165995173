"""`AttachmentChip`: one file as the page shows it — its name, size, and pages or characters; an
image as its thumbnail (a data: URL drawn by the app from the local file, so it loads nothing from
anywhere and needs no click). In the message box's tray it can be removed before sending."""

from __future__ import annotations

from collections.abc import Callable

from nicegui import ui

from ...records import Attachment


class AttachmentChip(ui.row):
    def __init__(self, attachment: Attachment, on_remove: Callable[[Attachment], None] | None = None) -> None:
        super().__init__(wrap=False)
        self.attachment = attachment
        self.classes("items-center gap-1 rounded-borders border px-1 py-0.5 bg-white dark:bg-[#1e1e1e] max-w-xs "
                     "sg-attachment").mark("attachment-chip")
        self.props(f'title="{_attribute(attachment.name)}"')
        with self:
            if attachment.kind == "image" and attachment.thumbnail:
                ui.image(attachment.thumbnail).props(f'alt="{_attribute(attachment.name)}" no-spinner no-transition') \
                    .classes("w-12 h-12 rounded-borders shrink-0").mark("attachment-thumbnail")
            else:
                ui.icon("image" if attachment.kind == "image" else "description", size="sm").classes("text-grey-7")
            with ui.column().classes("gap-0 min-w-0"):
                ui.label(attachment.name).classes("text-sm ellipsis").mark("attachment-name")
                ui.label(attachment.label).classes("text-xs text-grey-7").mark("attachment-label")
            if on_remove is not None:
                ui.button(icon="close", on_click=lambda: on_remove(attachment)) \
                    .props(f'flat round dense size=sm aria-label="Remove {_attribute(attachment.name)}"') \
                    .mark("attachment-remove")


def attachment_row(attachments: list[Attachment]) -> ui.row:
    """A message's files, under its text."""
    with ui.row().classes("gap-2 justify-end w-full").mark("message-attachments") as row:
        for attachment in attachments:
            AttachmentChip(attachment)
    return row


def _attribute(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
