"""`UserMessage`: one of the reader's own messages. It is drawn the moment it is sent, before the
conversation is created or anything is stored; its buttons come once it is stored (`bind`)."""

from __future__ import annotations

from nicegui import ui

from ...records import Attachment, StoredMessage
from .attachment_chip import attachment_row
from .message_actions import MessageActions, action_row


class UserMessage(ui.column):
    def __init__(self, text: str, attachments: list[Attachment] | None = None) -> None:
        super().__init__()
        self.classes("w-full items-end gap-0 sg-user-turn")
        with self:
            with ui.chat_message(name="You", sent=True).classes(
                    "sg-user dark:[&_.q-message-text]:!text-[#1f3550] dark:[&_.q-message-text-content]:!text-[#e6e6e6]") \
                    .props("bg-color=blue-1"):
                if text or not attachments:
                    ui.label(text).classes("whitespace-pre-wrap break-words").mark("user-message")
            if attachments:
                attachment_row(attachments)
            # The buttons go under the bubble, not inside it (inside, they made a second,
            # empty-looking bubble).
            self._actions = ui.row().classes("justify-end w-full gap-0")

    def bind(self, message: StoredMessage, actions: MessageActions) -> None:
        self._actions.clear()
        with self._actions:
            action_row(message, actions).classes("justify-end w-full")
