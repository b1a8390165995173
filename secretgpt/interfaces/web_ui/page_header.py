"""The page's header: one row at every width (on a phone the model name and the shortcuts button
give way; the title and the buttons stay)."""

from __future__ import annotations

from dataclasses import dataclass

from nicegui import ui

# Keyboard focus stays visible on the dark header (Quasar's focus helper alone is faint there).
FOCUS_RING = "focus-visible:outline focus-visible:outline-2 focus-visible:outline-offset-2 " \
             "focus-visible:outline-white"


@dataclass
class PageHeader:
    menu_button: ui.button
    model_label: ui.label
    demo_badge: ui.badge
    status: ui.row  # beside the demo badge: the model host's attestation badge
    settings_button: ui.button
    end: ui.row  # where the header's right-hand buttons go (theme, shortcuts)


def page_header() -> PageHeader:
    with ui.header().classes("items-center no-wrap gap-1 bg-grey-9 !py-1 !px-2 sg-header"):
        menu_button = ui.button(icon="menu").props("flat round color=white aria-label=Conversations") \
            .classes(FOCUS_RING)
        ui.icon("lock").classes("text-lg")  # not 🔒: a box without an emoji font
        ui.label("SecretGPT").classes("text-lg max-sm:text-base font-medium whitespace-nowrap")
        model_label = ui.label("").classes("text-sm text-grey-4 sg-model truncate min-w-0 max-sm:hidden")
        with ui.badge(color="orange").classes("sg-demo min-w-0").props("aria-label='Demo model (offline)'") \
                as demo_badge:
            ui.label("Demo model (offline)").classes("truncate")
        status = ui.row().classes("items-center no-wrap min-w-0")
        ui.space()
        end = ui.row().classes("items-center no-wrap gap-0")
        # A native title, not a Quasar tooltip: a tooltip lingers after the click that opens the drawer.
        settings_button = ui.button(icon="settings").props("flat round color=white aria-label=Settings title=Settings") \
            .classes(FOCUS_RING).mark("settings")
    return PageHeader(menu_button, model_label, demo_badge, status, settings_button, end)
