"""`TemporaryChat`: the "Temporary chat" switch on a new chat, the label while one is open, and
forgetting it when the page moves on.

A temporary chat is answered as usual but never stored (the hub keeps it in memory): it is not in
the conversation list, not exported, and gone when the page reloads or closes (NiceGUI deletes the
page's client), or opens another chat. The switch stays as chosen for the next new chat of this
page, not across reloads: that would mean keeping something, and the point is keeping nothing.
"""

from __future__ import annotations

from nicegui import background_tasks, ui

from ...hub import ChatHub

LABEL = "Temporary chat — not saved: gone when you reload, leave or open another chat"


class TemporaryChat(ui.row):
    def __init__(self, hub: ChatHub, owner: str, *, new_chat: bool) -> None:
        super().__init__()
        # Hidden from the start when the page opens a stored conversation: no layout shift under it.
        self.visible = new_chat
        self.hub = hub
        self.owner = owner
        self._open: str | None = None  # the temporary chat on the page (sent, not just chosen)
        self.classes("w-full items-center no-wrap gap-2 min-h-8 sg-temporary")
        with self:
            self.switch = ui.switch("Temporary chat", on_change=self._show).props("dense color=amber-9") \
                .mark("temporary-switch")
            # The browser's own tooltip: a Quasar q-tooltip here kept a reloaded chat from scrolling to its end.
            self.switch.props["title"] = "Not saved: not in your conversations, not exported, gone when you reload or leave"
            with ui.row().classes("items-center no-wrap gap-1 px-2 py-0.5 rounded "
                                  "bg-amber-1 text-amber-10 dark:bg-amber-10 dark:text-amber-1 text-sm") \
                    .mark("temporary-label") as self.label:
                ui.icon("visibility_off")
                ui.label(LABEL).props("role=status")
        self._show()
        ui.context.client.on_delete(lambda: background_tasks.create(self.leave(), name="forget-temporary-chat"))

    def holds(self, conversation_id: str | None) -> bool:
        return conversation_id is not None and conversation_id == self._open

    def request(self) -> dict[str, bool]:
        """What a new chat's first message asks of the hub."""
        return {"temporary": True} if self.switch.value else {}

    def started(self, conversation_id: str, temporary: bool) -> None:
        """An answer began: a new chat that is stored hides the row (the switch is for new chats)."""
        if temporary:
            self._open = conversation_id
        elif not self.holds(conversation_id):
            self.visible = False
        self._show()

    def show(self, conversation_id: str | None) -> None:
        """The page shows this conversation (None: a new chat): the switch on a new chat, the label
        on a temporary one (and on a new chat while the switch is on), neither on a stored one."""
        self.visible = conversation_id is None or self.holds(conversation_id)
        self._show()

    async def leave(self, unless: str | None = None) -> None:
        """The page moves on (to `unless`, or goes): the temporary chat it showed is forgotten."""
        if self._open is not None and self._open != unless:
            gone, self._open = self._open, None
            await self.hub.forget_temporary(gone, owner=self.owner)

    def _show(self) -> None:
        self.switch.visible = self._open is None  # on a new chat only
        self.label.visible = self._open is not None or bool(self.switch.value)
