"""`TemporaryChat`: the "Temporary chat" switch on a new chat, and the label while one is open.

A temporary chat is answered as usual but never stored (the hub keeps it in memory): it is not in
the conversation list, not exported, and gone when the page reloads or moves to another chat.
The switch stays as chosen for the next new chat of this page (not across reloads: that would
need keeping the choice, and the point is keeping nothing).
"""

from __future__ import annotations

from nicegui import ui

LABEL = "Temporary chat — not saved: gone when you reload, leave or open another chat"


class TemporaryChat(ui.row):
    def __init__(self) -> None:
        super().__init__()
        self.classes("w-full items-center no-wrap gap-2 min-h-8 sg-temporary")
        self.open = False  # a temporary chat is on the page (sent, not just chosen)
        with self:
            self.switch = ui.switch("Temporary chat", on_change=self._show).props("dense color=amber-9") \
                .mark("temporary-switch")
            self.switch.tooltip("Not saved: not in your conversations, not exported, gone when you reload or leave")
            with ui.row().classes("items-center no-wrap gap-1 px-2 py-0.5 rounded "
                                  "bg-amber-1 text-amber-10 dark:bg-amber-10 dark:text-amber-1 text-sm") \
                    .mark("temporary-label") as self.label:
                ui.icon("visibility_off")
                ui.label(LABEL).props("role=status")
        self._show()

    @property
    def chosen(self) -> bool:
        return bool(self.switch.value)

    def new_chat(self) -> None:
        self.open = False
        self.visible = True
        self._show()

    def stored_chat(self) -> None:
        """A stored conversation is open: neither the switch nor the label."""
        self.open = False
        self.visible = False

    def opened(self) -> None:
        """The chat just sent is temporary."""
        self.open = True
        self.visible = True
        self._show()

    def _show(self) -> None:
        self.switch.visible = not self.open  # on a new chat only
        self.label.visible = self.open or self.chosen
