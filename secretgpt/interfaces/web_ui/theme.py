"""Light or dark: the system's choice until the reader picks one, then theirs, kept per browser."""

from __future__ import annotations

from typing import Any

from nicegui import ui

THEMES = {"auto": "System", "light": "Light", "dark": "Dark"}
STORAGE_KEY = "theme"
# NiceGUI's dark mode: None follows the system (prefers-color-scheme), True / False force it.
_DARK = {"auto": None, "light": False, "dark": True}
_SYSTEM_IS_DARK = "window.matchMedia('(prefers-color-scheme: dark)').matches"


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

    async def toggle(self) -> None:
        """Dark if the page is light now, light if it is dark (asking the browser what "System" is)."""
        dark = _DARK[self.choice]
        if dark is None:
            dark = bool(await ui.run_javascript(_SYSTEM_IS_DARK))
        self.choose("light" if dark else "dark")

    def button(self) -> ui.button:
        """The header's "Dark mode" switch (aria-pressed: whether dark is forced on)."""
        button = ui.button(on_click=self.toggle).props("flat round color=white aria-label='Dark mode'") \
            .classes("sg-dark-toggle").mark("dark-mode")
        self._buttons.append(button)
        self._show(button)
        return button

    def _show(self, button: ui.button) -> None:
        icon = {"auto": "brightness_auto", "light": "light_mode", "dark": "dark_mode"}[self.choice]
        pressed = "true" if self.choice == "dark" else "false"
        button.props(f"icon={icon} aria-pressed={pressed} title='Dark mode ({THEMES[self.choice]})'")

    def selector(self) -> ui.toggle:
        """The same choice in the settings drawer, with "System" to go back to following it."""
        selector = ui.toggle(THEMES, value=self.choice, on_change=lambda e: self.choose(str(e.value))) \
            .props("dense no-caps aria-label=Theme").mark("theme")
        self._selectors.append(selector)
        return selector
