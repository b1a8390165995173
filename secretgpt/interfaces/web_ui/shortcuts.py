"""Keyboard shortcuts for the chat page (NiceGUI's `ui.keyboard`) and the help that lists them.

Enter / Shift+Enter belong to the message box itself (see `ChatView`); the rest are page-wide and
work while typing too (`ignore=[]`), which is why each one needs a modifier or is Esc.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from nicegui import ui
from nicegui.events import KeyEventArguments

SHORTCUTS: tuple[tuple[str, str], ...] = (
    ("Enter", "Send the message"),
    ("Shift + Enter", "New line in the message"),
    ("Esc", "Stop the answer that is streaming"),
    ("Shift + Esc", "Focus the message box"),
    ("Alt + Shift + N", "New chat"),
    ("Alt + Shift + K", "Show these shortcuts"),
)


@dataclass(frozen=True)
class ShortcutActions:
    stop: Callable[[], Awaitable[None]]
    focus_message: Callable[[], None]
    new_chat: Callable[[], Awaitable[None]]


class Shortcuts:
    def __init__(self, actions: ShortcutActions) -> None:
        self.actions = actions
        self.keyboard = ui.keyboard(self._on_key, ignore=[], repeating=False)

    def show_help(self) -> None:
        """The list of shortcuts, built when asked for (like the page's other dialogs)."""
        with ui.dialog(value=True) as dialog, ui.card().classes("sg-shortcuts"):
            ui.label("Keyboard shortcuts").classes("text-lg font-medium")
            with ui.grid(columns=2).classes("gap-x-6 gap-y-1 items-center"):
                for keys, what in SHORTCUTS:
                    ui.label(keys).classes("font-mono text-sm px-2 rounded border")
                    ui.label(what).classes("text-sm")
            ui.button("Close", on_click=dialog.close).props("flat").classes("self-end")
        dialog.on("hide", dialog.delete)

    def button(self) -> ui.button:
        return ui.button(icon="keyboard", on_click=self.show_help) \
            .props("flat round color=white aria-label='Keyboard shortcuts' title='Keyboard shortcuts'") \
            .classes("max-sm:hidden").mark("shortcuts")

    async def _on_key(self, event: KeyEventArguments) -> None:
        if not event.action.keydown:
            return
        key, mods = event.key, event.modifiers
        if key.escape and not (mods.shift or mods.alt or mods.ctrl or mods.meta):
            await self.actions.stop()
        elif key.escape and mods.shift:
            self.actions.focus_message()
        elif mods.alt and mods.shift and not (mods.ctrl or mods.meta) and key.code == "KeyN":
            await self.actions.new_chat()
        elif mods.alt and mods.shift and not (mods.ctrl or mods.meta) and key.code == "KeyK":
            self.show_help()
