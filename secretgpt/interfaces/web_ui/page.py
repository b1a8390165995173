"""The chat page at `/`."""

from __future__ import annotations

from nicegui import app, ui

from ...config import Settings
from ...hub.chat_hub import ChatHub
from .attestation_badge import HostBadge
from .chat_view import ChatDisplay, ChatView
from .conversation_drawer import ConversationDrawer
from .preferences import Preferences
from .proof_dialog import ProofSettings
from .settings_drawer import SettingsDrawer


def register_page(hub: ChatHub, settings: Settings) -> None:
    display = ChatDisplay(think_emoji=settings.think_emoji, think_color=settings.think_color,
                          update_hz=settings.streaming_update_hz,
                          default_system_prompt=settings.default_system_prompt)

    @ui.page("/")
    async def index() -> None:
        catalog = hub.catalog
        prefs = Preferences(app.storage.user, settings)
        owner = "web:" + str(app.storage.browser["id"])
        ui.query(".nicegui-content").classes("h-[calc(100vh-64px)] p-2 no-wrap")

        with ui.header().classes("items-center bg-grey-9 q-py-sm"):
            menu_button = ui.button(icon="menu").props("flat round color=white aria-label=Conversations")
            ui.icon("lock").classes("text-lg")  # not 🔒: a box without an emoji font
            ui.label("SecretGPT").classes("text-lg font-medium")
            model_label = ui.label("").classes("text-sm text-grey-4 sg-model")
            demo_badge = ui.badge("Demo model (offline)", color="orange").classes("sg-demo") \
                .props("aria-label='Demo model (offline)'")
            host_badge = HostBadge(hub, lambda: prefs.model)
            ui.space()
            settings_button = ui.button(icon="settings").props("flat round color=white aria-label=Settings") \
                .tooltip("Settings")
        banner = ui.label("").classes("w-full text-center text-negative text-sm sg-banner")

        chat = ChatView(hub, owner, prefs, display)
        conversations = ConversationDrawer(hub, owner, lambda: chat.conversation_id,
                                           open_conversation=lambda cid: open_conversation(cid))
        drawer = SettingsDrawer(app.storage.user, catalog, chat.set_show_reasoning)
        with drawer:
            ProofSettings(hub)
        settings_button.on_click(drawer.toggle)
        menu_button.on_click(conversations.toggle)

        async def open_conversation(conversation_id: str | None) -> None:
            await chat.open(conversation_id)
            conversations.highlight(chat.conversation_id)

        chat.on_change = conversations.touched

        def show_catalog() -> None:
            current = hub.catalog
            model_label.text = ", ".join(current.names[:1]) or "no model"
            demo_badge.visible = current.demo
            banner.text = current.error or ""
            banner.visible = bool(current.error) and not current.models
            drawer.refresh_models(current)
            host_badge.refresh()

        show_catalog()
        # Discovery runs in the background at start-up; show its outcome when it lands.
        ui.timer(2.0, show_catalog)
        await chat.open(chat.conversation_id)
        await conversations.refresh()
