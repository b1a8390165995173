"""Placeholder chat page (the real one is built in the chat-page work)."""

from __future__ import annotations

from nicegui import ui

from ...hub.runtime import Runtime


def register_page(runtime: Runtime) -> None:
    @ui.page("/")
    def index() -> None:
        ui.label("SecretGPT").classes("text-2xl")
        ui.label("The API is at /api/v1/chat/stream")
