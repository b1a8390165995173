"""The left drawer: conversations (newest first), search (best match first, each with the text
around the match), and per conversation rename, delete and export; export all and import."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable

from nicegui import ui

from ...hub import ChatHub
from ...hub import ConversationBusy
from ...records import ConversationNotFound, ConversationSummary
from .import_dialog import ImportDialog
from .notices import notify
from .search_snippet import SearchSnippet

Open = Callable[[str | None], Awaitable[None]]


def export_filename(title: str, suffix: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", title).strip("-")[:40] or "conversation"
    return f"{slug}.{suffix}"


PAGE = 40  # items shown at first; "Show more" adds as many again
_OWN_CLICK_JS = "(e) => { e.stopPropagation(); emit(); }"
_ACTIVE_CLASSES = "sg-active font-medium bg-blue-100 text-blue-900 dark:bg-blue-900 dark:text-blue-100"


class ConversationDrawer(ui.left_drawer):
    """Items are light (a title and a ⋮ button; the menu is made when the ⋮ is clicked) and
    updated in place: switching moves a highlight and a new answer moves one item to the top,
    instead of rebuilding the list. Each item's menu acts on that item's conversation."""

    def __init__(self, hub: ChatHub, owner: str, current: Callable[[], str | None], open_conversation: Open) -> None:
        super().__init__(value=True)
        self.classes("bg-grey-1 sg-conversations").props("bordered width=280")
        self.hub = hub
        self.owner = owner
        self._current = current
        self._open = open_conversation
        self._items: dict[str, ui.item] = {}
        self._titles: dict[str, str] = {}
        self._active: str | None = None
        self._shown = PAGE
        self._menu: ui.menu | None = None  # the one open item menu (made on demand)
        with self:
            ui.button("New chat", icon="add", on_click=lambda: self._open(None)) \
                .props("outline no-caps aria-label='New chat'").classes("w-full")
            self.search = ui.input(placeholder="Search conversations", on_change=self.refresh) \
                .props("dense outlined clearable debounce=300 aria-label='Search conversations'") \
                .classes("w-full")
            # The content as wide as the drawer (Quasar sizes it to its widest line): a long title is
            # then cut with "…" and its ⋮ stays inside.
            with ui.scroll_area().classes("w-full grow [&_.q-scrollarea\\_\\_content]:!w-full"):
                self.list = ui.list().props("dense separator").classes("w-full sg-conversation-list") \
                    .mark("conversation-list")
                self.more = ui.button("Show more", on_click=self.show_more).props("flat dense no-caps") \
                    .classes("w-full")
            with ui.row().classes("w-full gap-1"):
                ui.button("Export all", icon="download", on_click=self.export_all) \
                    .props("flat dense no-caps size=sm aria-label='Export all'")
                ui.button("Import", icon="upload", on_click=self.ask_import) \
                    .props("flat dense no-caps size=sm aria-label=Import")
        self.more.visible = False

    async def refresh(self) -> None:
        """Rebuild the list (first load, search, rename, delete, import)."""
        search = (self.search.value or "").strip() or None
        conversations = await self.hub.list_conversations(owner=self.owner, search=search, limit=self._shown + 1)
        self.more.visible = len(conversations) > self._shown
        self.list.clear()
        self._items.clear()
        self._titles.clear()
        with self.list:
            if not conversations:
                ui.item_label("No conversations match." if search else "No conversations yet.") \
                    .classes("text-grey-7 p-2")
            for summary in conversations[: self._shown]:
                self._item(summary)
        self._active = None
        self.highlight(self._current())

    async def show_more(self) -> None:
        self._shown += PAGE
        await self.refresh()

    def highlight(self, conversation_id: str | None) -> None:
        """Mark the open conversation (two prop changes, not a rebuild)."""
        if self._active in self._items:
            self._items[self._active].props(remove="active")
        self._active = conversation_id
        if conversation_id in self._items:
            self._items[conversation_id].props("active")

    async def touched(self, conversation_id: str) -> None:
        """A conversation got a new message: it goes to the top."""
        if (self.search.value or "").strip():
            return  # a filtered list keeps its order; the next refresh shows the change
        item = self._items.get(conversation_id)
        if item is None:
            summary = next((c for c in await self.hub.list_conversations(owner=self.owner, limit=3)
                            if c.id == conversation_id), None)
            if summary is None:
                return
            if not self._items:
                self.list.clear()  # the "No conversations yet." line
            with self.list:
                item = self._item(summary)
        if self.list.default_slot.children and self.list.default_slot.children[0] is not item:
            item.move(target_index=0)
        self.highlight(conversation_id)

    def _item(self, summary: ConversationSummary) -> ui.item:
        conversation_id = summary.id
        slug = "-".join(summary.title.split())
        with ui.item(on_click=lambda: self._open(conversation_id)) \
                .props(f"clickable active-class='{_ACTIVE_CLASSES}'").classes("sg-conversation rounded pr-0") \
                .mark("conversation-" + slug) as item:
            with ui.item_section().classes("min-w-0") as section:
                ui.item_label(summary.title).classes("ellipsis").mark("conversation-title")
                # Found in a message: the text around the match (found in the title: the title says it).
                if summary.snippet is not None and summary.snippet != summary.title:
                    with ui.item_label().props("caption lines=2").mark("conversation-snippet"):
                        SearchSnippet(summary.snippet, summary.highlights).classes("inline")
            # The whole title on hover (the list shows one line of it).
            section.props["title"] = f"{summary.title}\n{summary.updated_at.astimezone():%d %b %Y %H:%M}"
            with ui.item_section().props("side").classes("pl-0 shrink-0"):  # the ⋮ gives no width away
                # The click opens this item's menu, not the conversation: it must not reach the item.
                actions = ui.button(icon="more_vert").props("flat dense round size=sm").classes("text-grey-7") \
                    .mark("conversation-actions", "actions-" + slug) \
                    .on("click", lambda e: self._show_menu(e.sender, conversation_id), js_handler=_OWN_CLICK_JS)
                actions.props["aria-label"] = actions.props["title"] = f"Actions for “{summary.title}”"
        self._items[conversation_id] = item
        self._titles[conversation_id] = summary.title
        return item

    def _show_menu(self, anchor: ui.element, conversation_id: str) -> None:
        """The actions of one conversation; made when asked for (items stay light), one at a time."""
        if self._menu is not None and not self._menu.is_deleted:
            self._menu.delete()
        with anchor, ui.menu().props("no-parent-event") as self._menu:
            ui.menu_item("Rename", on_click=lambda: self.ask_rename(conversation_id)).mark("menu-rename")
            ui.menu_item("Export JSON", on_click=lambda: self.export(conversation_id, "json")).mark("menu-export-json")
            ui.menu_item("Export Markdown", on_click=lambda: self.export(conversation_id, "md")) \
                .mark("menu-export-md")
            ui.menu_item("Delete", on_click=lambda: self.ask_delete(conversation_id)).mark("menu-delete")
        self._menu.open()

    async def ask_rename(self, conversation_id: str) -> None:
        with ui.dialog() as dialog, ui.card().classes("w-96"):
            ui.label("Rename conversation").classes("text-lg")
            name = ui.input("Title", value=self._titles.get(conversation_id, "")).props("autofocus outlined").classes("w-full")
            name.on("keydown.enter", lambda: dialog.submit(name.value))
            with ui.row().classes("w-full justify-end"):
                ui.button("Cancel", on_click=dialog.close).props("flat")
                ui.button("Save", on_click=lambda: dialog.submit(name.value))
        title = await dialog
        dialog.delete()
        if title is None:
            return
        try:
            await self.hub.rename(conversation_id, title, owner=self.owner)
        except (ValueError, ConversationNotFound) as exc:
            notify(str(exc) or "That conversation no longer exists.", "warning")
        await self.refresh()

    async def ask_delete(self, conversation_id: str) -> None:
        if any(s.conversation_id == conversation_id for s in await self.hub.active_streams(owner=self.owner)):
            notify(str(ConversationBusy()), "warning")  # said before asking, not after a "yes"
            return
        with ui.dialog() as dialog, ui.card():
            ui.label(f"Delete “{self._titles.get(conversation_id, 'this conversation')}”?").classes("text-lg")
            ui.label("Its messages and answers are removed for good.").classes("text-grey-8")
            with ui.row().classes("w-full justify-end"):
                ui.button("Cancel", on_click=lambda: dialog.submit(False)).props("flat")
                ui.button("Delete", color="negative", on_click=lambda: dialog.submit(True)).mark("confirm-delete")
        confirmed = await dialog
        dialog.delete()
        if not confirmed:
            return
        try:
            await self.hub.delete(conversation_id, owner=self.owner)
        except ConversationBusy as exc:  # the same rule as the API's 409 (an answer began meanwhile)
            notify(str(exc), "warning")
            return
        except ConversationNotFound:
            pass
        if conversation_id == self._current():
            await self._open(None)
        await self.refresh()

    async def export(self, conversation_id: str, kind: str) -> None:
        title = self._titles.get(conversation_id, "conversation")
        try:
            if kind == "json":
                exported = await self.hub.export_json(conversation_id, owner=self.owner)
                data = json.dumps(exported, ensure_ascii=False, indent=2)
                ui.download.content(data.encode(), export_filename(title, "json"), "application/json")
            else:
                text = await self.hub.export_markdown(conversation_id, owner=self.owner)
                ui.download.content(text.encode(), export_filename(title, "md"), "text/markdown")
        except ConversationNotFound:
            notify("That conversation no longer exists.", "warning")

    async def export_all(self) -> None:
        data = json.dumps(await self.hub.export_all(owner=self.owner), ensure_ascii=False, indent=2)
        ui.download.content(data, "secretgpt-conversations.json", "application/json")

    async def ask_import(self) -> None:
        dialog = ImportDialog(self.hub, self.owner)
        imported = await dialog
        dialog.delete()
        if imported:
            await self.refresh()
            await self._open(imported[0])
