"""The left drawer: conversations (newest first), search, rename, delete, export and import."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable

from nicegui import events, ui

from ...storage import ConversationNotFound, ConversationSummary, HistoryStore, InvalidImport

Open = Callable[[str | None], Awaitable[None]]


def export_filename(title: str, suffix: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", title).strip("-")[:40] or "conversation"
    return f"{slug}.{suffix}"


class ConversationDrawer:
    def __init__(self, store: Callable[[], HistoryStore], owner: str, current: Callable[[], str | None],
                 open_conversation: Open) -> None:
        self._store = store
        self.owner = owner
        self._current = current
        self._open = open_conversation
        with ui.left_drawer(value=True).classes("bg-grey-1 sg-conversations").props("bordered width=280") \
                as self.drawer:
            ui.button("New chat", icon="add", on_click=lambda: self._open(None)) \
                .props("outline no-caps aria-label='New chat'").classes("w-full")
            self.search = ui.input(placeholder="Search conversations", on_change=self.refresh) \
                .props("dense outlined clearable debounce=300 aria-label='Search conversations'") \
                .classes("w-full")
            with ui.scroll_area().classes("w-full grow"):
                self.list = ui.list().props("dense separator").classes("w-full sg-conversation-list")
            with ui.row().classes("w-full gap-1"):
                ui.button("Export all", icon="download", on_click=self.export_all) \
                    .props("flat dense no-caps size=sm aria-label='Export all'")
                ui.button("Import", icon="upload", on_click=self.ask_import) \
                    .props("flat dense no-caps size=sm aria-label=Import")

    async def refresh(self) -> None:
        search = (self.search.value or "").strip() or None
        conversations = await self._store().list_conversations(self.owner, search=search)
        current = self._current()
        self.list.clear()
        with self.list:
            if not conversations:
                ui.item_label("No conversations match." if search else "No conversations yet.") \
                    .classes("text-grey-7 p-2")
            for summary in conversations:
                self._item(summary, summary.id == current)

    def _item(self, summary: ConversationSummary, active: bool) -> None:
        with ui.item(on_click=lambda: self._open(summary.id)).classes("sg-conversation rounded") \
                .props("clickable" + (" active" if active else "")).mark("conversation-" + "-".join(summary.title.split())):
            with ui.item_section():
                ui.item_label(summary.title).props("lines=1").mark("conversation-title")
                ui.item_label(summary.updated_at.astimezone().strftime("%d %b %H:%M")).props("caption")
            with ui.item_section().props("side"):
                with ui.button(icon="more_vert").props("flat dense round size=sm aria-label='Conversation menu'") \
                        .on("click.stop", lambda: None):
                    with ui.menu():
                        ui.menu_item("Rename", on_click=lambda: self.ask_rename(summary)).mark("menu-rename")
                        ui.menu_item("Export JSON", on_click=lambda: self.export(summary, "json")).mark("menu-export-json")
                        ui.menu_item("Export Markdown", on_click=lambda: self.export(summary, "md")) \
                            .mark("menu-export-md")
                        ui.menu_item("Delete", on_click=lambda: self.ask_delete(summary)).mark("menu-delete")

    async def ask_rename(self, summary: ConversationSummary) -> None:
        with ui.dialog() as dialog, ui.card().classes("w-96"):
            ui.label("Rename conversation").classes("text-lg")
            name = ui.input("Title", value=summary.title).props("autofocus outlined").classes("w-full")
            name.on("keydown.enter", lambda: dialog.submit(name.value))
            with ui.row().classes("w-full justify-end"):
                ui.button("Cancel", on_click=dialog.close).props("flat")
                ui.button("Save", on_click=lambda: dialog.submit(name.value))
        title = await dialog
        dialog.delete()
        if title is None:
            return
        try:
            await self._store().rename(summary.id, self.owner, title)
        except (ValueError, ConversationNotFound) as exc:
            ui.notify(str(exc) or "That conversation no longer exists.", type="warning")
        await self.refresh()

    async def ask_delete(self, summary: ConversationSummary) -> None:
        with ui.dialog() as dialog, ui.card():
            ui.label(f"Delete “{summary.title}”?").classes("text-lg")
            ui.label("Its messages and answers are removed for good.").classes("text-grey-8")
            with ui.row().classes("w-full justify-end"):
                ui.button("Cancel", on_click=lambda: dialog.submit(False)).props("flat")
                ui.button("Delete", color="negative", on_click=lambda: dialog.submit(True)).mark("confirm-delete")
        confirmed = await dialog
        dialog.delete()
        if not confirmed:
            return
        try:
            await self._store().delete(summary.id, self.owner)
        except ConversationNotFound:
            pass
        if self._current() == summary.id:
            await self._open(None)
        await self.refresh()

    async def export(self, summary: ConversationSummary, kind: str) -> None:
        store = self._store()
        try:
            if kind == "json":
                data = json.dumps(await store.export_json(summary.id, self.owner), ensure_ascii=False, indent=2)
                ui.download.content(data, export_filename(summary.title, "json"), "application/json")
            else:
                text = await store.export_markdown(summary.id, self.owner)
                ui.download.content(text, export_filename(summary.title, "md"), "text/markdown")
        except ConversationNotFound:
            ui.notify("That conversation no longer exists.", type="warning")

    async def export_all(self) -> None:
        data = json.dumps(await self._store().export_all(self.owner), ensure_ascii=False, indent=2)
        ui.download.content(data, "secretgpt-conversations.json", "application/json")

    async def ask_import(self) -> None:
        with ui.dialog() as dialog, ui.card().classes("w-96"):
            ui.label("Import conversations").classes("text-lg")
            ui.label("A JSON file exported from SecretGPT (one conversation or all).").classes("text-grey-8")
            ui.upload(on_upload=lambda e: self._import(e, dialog), auto_upload=True, max_file_size=50_000_000) \
                .props("accept=.json,application/json").classes("w-full")
            ui.button("Close", on_click=dialog.close).props("flat")
        dialog.open()

    async def _import(self, event: events.UploadEventArguments, dialog: ui.dialog) -> None:
        try:
            ids = await self._store().import_json(self.owner, await event.file.read())
        except InvalidImport as exc:
            ui.notify(f"Nothing was imported: {exc}", type="negative", multi_line=True)
            return
        dialog.close()
        ui.notify(f"Imported {len(ids)} conversation{'s' if len(ids) != 1 else ''}.", type="positive")
        await self.refresh()
        if ids:
            await self._open(ids[0])
