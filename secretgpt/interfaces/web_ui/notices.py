"""Pop-up notices on the page: at the top, where they never cover the message box, and in words
for people (setting names such as MAX_MESSAGE_CHARS stay in the API's errors and the logs)."""

from __future__ import annotations

import re
from typing import Literal

from nicegui import ui

# "(MAX_MESSAGE_CHARS)", "(STREAM_TIMEOUT)": the name of a server setting, in brackets.
_SETTING_NAME = re.compile(r"\s*\((?:[A-Z][A-Z0-9]*_)+[A-Z0-9]+\)")

Kind = Literal["positive", "negative", "warning", "info", "ongoing"]


def for_people(text: str) -> str:
    """`text` without the server setting names it mentions."""
    return _SETTING_NAME.sub("", text)


def notify(text: str, kind: Kind | None = None, *, timeout: int = 5000) -> None:
    ui.notify(for_people(text), type=kind, position="top", multi_line=len(text) > 80, timeout=timeout)
