"""`EditDialog`: edit one of your messages and ask again from there."""

from __future__ import annotations

from collections.abc import Callable

from nicegui import ui

from .message_box import MessageBox
from .notices import for_people


class EditDialog(ui.dialog):
    """Awaiting it gives the edited text, or None when cancelled. Enter sends, Shift+Enter adds a
    line, as in the message box; `limit` and `validate_length` are the message box's."""

    def __init__(self, original: str, limit: int, validate_length: Callable[[int], None]) -> None:
        super().__init__()
        with self, ui.card().classes("w-[40rem] max-w-full"):
            ui.label("Edit your message").classes("text-lg")
            self.box = MessageBox(limit, validate_length, value=original) \
                .props("autogrow outlined input-class=max-h-96 aria-label='Edited message'") \
                .classes("w-full").mark("edited-message")
            self.box.on("keydown.enter.exact.prevent", self.send)
            with ui.row().classes("w-full justify-end"):
                ui.button("Cancel", on_click=self.close).props("flat")
                ui.button("Send", on_click=self.send).mark("send-edited")

    def send(self) -> None:
        held_back = self.box.held_back()
        if held_back is not None:  # said under the box, which keeps the text
            self.box.error = for_people(held_back)
            return
        self.submit(self.box.value)
