"""The chat page at `/`."""

from __future__ import annotations

from nicegui import app, ui

from ...config import Settings
from ...hub import ChatHub
from .answer_preload import AnswerPreload
from .attestation_badge import HostBadge
from .chat_view import ChatDisplay, ChatView
from .conversation_drawer import ConversationDrawer
from .page_header import FOCUS_RING, page_header
from .preferences import Preferences
from .proof_dialog import ProofSettings
from .remote_image import ImageFetcher
from .settings_drawer import SettingsDrawer
from .shortcuts import ShortcutActions, Shortcuts
from .sign_ins import browser_owner
from .sign_out import sign_out_button
from .theme import Theme

NARROW = 1024  # px: below this the drawers overlay the chat (Quasar's drawer breakpoint)


async def is_narrow() -> bool:
    """Whether the browser's window is narrow (a phone); a browser that does not answer is not."""
    try:
        return float(await ui.run_javascript("window.innerWidth")) < NARROW
    except (TimeoutError, TypeError, ValueError):
        return False


def _fill_settings(drawer: SettingsDrawer, hub: ChatHub, theme: Theme, signs_in: bool) -> None:
    """What the settings drawer holds beyond the model's settings: proofs, the theme, and sign-out
    when the page asks for sign-in."""
    drawer.classes("dark:!bg-[#1d1e21]")
    with drawer:
        ProofSettings(hub)
        ui.label("Theme").classes("text-sm mt-2")
        theme.selector()
        if signs_in:
            sign_out_button()


def register_page(hub: ChatHub, settings: Settings) -> None:
    display = ChatDisplay(think_emoji=settings.think_emoji, think_color=settings.think_color,
                          update_hz=settings.streaming_update_hz,
                          default_system_prompt=settings.default_system_prompt,
                          max_message_chars=settings.max_message_chars, max_upload_bytes=settings.max_upload_bytes,
                          max_attachments=settings.max_attachments,
                          images=ImageFetcher(settings.image_fetch_loopback))

    @ui.page("/")
    async def index() -> None:
        catalog = hub.catalog
        prefs = Preferences(app.storage.user, settings)
        owner = browser_owner(str(app.storage.browser["id"]))
        theme = Theme(app.storage.user)
        # The chat fills the page Quasar lays out below the header (its real height, whatever the
        # header's): the message list scrolls inside, the message box stays at the bottom.
        ui.context.client.page_container.default_slot.children[0].classes("relative")
        ui.context.client.content.classes("absolute-full no-wrap p-2 gap-2")
        header = page_header()
        with header.status:
            host_badge = HostBadge(hub, lambda: prefs.model)
        banner = ui.label("").classes("w-full text-center text-negative text-sm sg-banner")

        chat = ChatView(hub, owner, prefs, display, demo=catalog.demo)
        AnswerPreload()
        conversations = ConversationDrawer(hub, owner, lambda: chat.conversation_id,
                                           open_conversation=lambda cid: open_conversation(cid))
        # Open on a wide screen, closed on a phone: Quasar decides from the width as it draws the
        # page (no question to the browser, no drawer flashing over the chat).
        conversations.value = False
        conversations.props("show-if-above")
        drawer = SettingsDrawer(app.storage.user, catalog, chat.set_show_reasoning)
        _fill_settings(drawer, hub, theme, settings.login_required)
        conversations.classes("dark:!bg-[#1d1e21]")
        shortcuts = Shortcuts(ShortcutActions(stop=chat.stop, focus_message=chat.focus_message,
                                              new_chat=lambda: open_conversation(None)))
        with header.end:
            theme.button().classes(FOCUS_RING)
            shortcuts.button().classes(FOCUS_RING)
        header.settings_button.on_click(drawer.toggle)
        header.menu_button.on_click(conversations.toggle)

        async def open_conversation(conversation_id: str | None) -> None:
            await chat.open(conversation_id)
            conversations.highlight(chat.conversation_id)
            # On a phone the list covers the chat: a pick closes it (on a desktop it stays).
            if await is_narrow():
                conversations.hide()
            chat.focus_message()

        chat.on_change = conversations.touched

        def show_catalog() -> None:
            current = hub.catalog
            header.model_label.text = ", ".join(current.names[:1]) or "no model"
            banner.text = current.error or ""
            banner.visible = bool(current.error) and not current.models
            drawer.refresh_models(current)
            host_badge.refresh()
            # The host badge says "Demo model — not a confidential VM" itself; the plain demo
            # badge stands in only while there is no host to show.
            header.demo_badge.visible = current.demo and not host_badge.visible
            chat.demo = current.demo

        show_catalog()
        # Discovery runs in the background at start-up; show its outcome when it lands.
        ui.timer(2.0, show_catalog)
        await chat.open(chat.conversation_id)
        await conversations.refresh()
