"""The settings drawer: streaming on/off, typing speed, reasoning visibility, model."""

from __future__ import annotations

from collections.abc import Callable

from nicegui import ui

from ...records import Catalog

SPEEDS = {"instant": "Instant", "fast": "Fast", "natural": "Natural"}


def streaming_hint(on: bool) -> str:
    return "On: the answer appears as the model writes it." if on else "Off: the whole answer appears at once."


class SettingsDrawer(ui.right_drawer):
    def __init__(self, storage: dict, catalog: Catalog, on_reasoning: Callable[[bool], None]) -> None:
        super().__init__(value=False)
        self.classes("bg-grey-1 sg-settings").props("bordered width=300")
        with self:
            with ui.row().classes("w-full items-center no-wrap"):
                ui.label("Settings").classes("text-lg font-medium grow")
                ui.button(icon="close", on_click=self.hide).props("flat round dense aria-label='Close settings'") \
                    .mark("close-settings")
            streaming = ui.switch("Streaming").bind_value(storage, "streaming").props("aria-label=Streaming")
            # What the switch does as it is now (a fixed "Off: …" read as a description of the current state).
            ui.label().bind_text_from(streaming, "value", backward=streaming_hint) \
                .classes("text-xs text-grey-7 -mt-2").mark("streaming-hint")
            ui.label("Typing speed").classes("text-sm mt-2")
            ui.toggle(SPEEDS).bind_value(storage, "typing_speed").props("dense no-caps aria-label='Typing speed'")
            ui.switch("Show reasoning", on_change=lambda e: on_reasoning(bool(e.value))) \
                .bind_value(storage, "show_reasoning")
            self.model = ui.select(catalog.names, label="Model", value=self._valid(storage.get("model"), catalog)) \
                .bind_value_to(storage, "model").classes("w-full")
        self._catalog_names = catalog.names

    @staticmethod
    def _valid(name: str | None, catalog: Catalog) -> str | None:
        return name if name in catalog.names else (catalog.names[0] if catalog.names else None)

    def refresh_models(self, catalog: Catalog) -> None:
        if catalog.names != self._catalog_names:
            self._catalog_names = catalog.names
            self.model.set_options(catalog.names, value=self._valid(self.model.value, catalog))
