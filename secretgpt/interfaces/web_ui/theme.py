"""Light or dark: the system's choice until the reader picks one, then theirs, kept per browser."""

from __future__ import annotations

from typing import Any

from nicegui import ui

THEMES = {"auto": "System", "light": "Light", "dark": "Dark"}
STORAGE_KEY = "theme"
# NiceGUI's dark mode: None follows the system (prefers-color-scheme), True / False force it.
_DARK = {"auto": None, "light": False, "dark": True}
# The header's button steps through the choices in the order Settings shows them, back to System.
NEXT = {"auto": "light", "light": "dark", "dark": "auto"}
_ICONS = {"auto": "brightness_auto", "light": "light_mode", "dark": "dark_mode"}


class Theme:
    """The page's `ui.dark_mode`, driven by `storage[STORAGE_KEY]` ("auto", "light" or "dark")."""

    def __init__(self, storage: dict[str, Any]) -> None:
        self.storage = storage
        if storage.get(STORAGE_KEY) not in THEMES:
            storage[STORAGE_KEY] = "auto"
        self.dark_mode = ui.dark_mode(_DARK[storage[STORAGE_KEY]])
        self._buttons: list[ui.button] = []
        self._selectors: list[ui.toggle] = []

    @property
    def choice(self) -> str:
        return str(self.storage[STORAGE_KEY])

    def choose(self, choice: str) -> None:
        self.storage[STORAGE_KEY] = choice
        self.dark_mode.value = _DARK[choice]
        for button in self._buttons:
            self._show(button)
        for selector in self._selectors:
            selector.value = choice

    def step(self) -> None:
        """System → Light → Dark → System."""
        self.choose(NEXT[self.choice])

    def button(self) -> ui.button:
        """The header's theme button: its icon, name and title say the current choice (a switch
        could not say "System")."""
        button = ui.button(on_click=self.step).props("flat round color=white").classes("sg-theme-button") \
            .mark("dark-mode")
        self._buttons.append(button)
        self._show(button)
        return button

    def _show(self, button: ui.button) -> None:
        now, then = THEMES[self.choice], THEMES[NEXT[self.choice]]
        # As a dict, not a props string: the words have spaces.
        button.props.update({"icon": _ICONS[self.choice], "aria-label": f"Theme: {now}",
                             "title": f"Theme: {now} (click for {then})"})

    def selector(self) -> ui.toggle:
        """The same choice in the settings drawer."""
        selector = ui.toggle(THEMES, value=self.choice, on_change=lambda e: self.choose(str(e.value))) \
            .props("dense no-caps aria-label=Theme").mark("theme")
        self._selectors.append(selector)
        return selector
