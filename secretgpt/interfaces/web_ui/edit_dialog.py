"""`EditDialog`: edit one of your messages and ask again from there."""

from __future__ import annotations

from nicegui import ui


class EditDialog(ui.dialog):
    """Awaiting it gives the edited text, or None when cancelled."""

    def __init__(self, original: str) -> None:
        super().__init__()
        with self, ui.card().classes("w-[40rem] max-w-full"):
            ui.label("Edit your message").classes("text-lg")
            box = ui.textarea(value=original).props("autogrow outlined aria-label='Edited message'") \
                .classes("w-full").mark("edited-message")
            with ui.row().classes("w-full justify-end"):
                ui.button("Cancel", on_click=self.close).props("flat")
                ui.button("Send", on_click=lambda: self.submit(box.value)).mark("send-edited")
