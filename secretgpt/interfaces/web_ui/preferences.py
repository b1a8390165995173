"""Per-browser preferences, kept in `app.storage.user` (they survive reloads)."""

from __future__ import annotations

from typing import Any

from ...config import Settings


class Preferences:
    def __init__(self, storage: dict[str, Any], settings: Settings) -> None:
        self.storage = storage
        storage.setdefault("streaming", settings.streaming_enabled)
        storage.setdefault("typing_speed", settings.typing_speed.value)
        storage.setdefault("show_reasoning", settings.show_reasoning)
        storage.setdefault("model", None)

    @property
    def streaming(self) -> bool:
        return bool(self.storage["streaming"])

    @property
    def typing_speed(self) -> str:
        return str(self.storage["typing_speed"])

    @property
    def show_reasoning(self) -> bool:
        return bool(self.storage["show_reasoning"])

    @property
    def model(self) -> str | None:
        return self.storage.get("model")

    @property
    def conversation_id(self) -> str | None:
        return self.storage.get("conversation_id")

    @conversation_id.setter
    def conversation_id(self, value: str | None) -> None:
        self.storage["conversation_id"] = value
