"""`SearchSnippet`: the text a search found, with its matched words highlighted.

The snippet is model text (hostile): it arrives as plain text with [start, end) offsets, and each
part becomes an element's text, which the browser shows as text — no HTML is made from it.
"""

from __future__ import annotations

from collections.abc import Sequence

from nicegui import ui
from nicegui.elements.mixins.text_element import TextElement

MARK_CLASSES = "bg-yellow-200 text-black dark:bg-yellow-700 dark:text-white rounded-sm px-px"


class _Part(TextElement):
    def __init__(self, text: str, tag: str) -> None:
        super().__init__(tag=tag, text=text)


def parts(text: str, highlights: Sequence[tuple[int, int]]) -> list[tuple[str, bool]]:
    """The snippet cut into (text, matched) parts, in order; overlapping or stray offsets ignored."""
    out: list[tuple[str, bool]] = []
    at = 0
    for start, end in sorted(highlights):
        start, end = max(start, at), min(end, len(text))
        if start >= end:
            continue
        if start > at:
            out.append((text[at:start], False))
        out.append((text[start:end], True))
        at = end
    if at < len(text):
        out.append((text[at:], False))
    return out


class SearchSnippet(ui.element):
    def __init__(self, text: str, highlights: Sequence[tuple[int, int]]) -> None:
        super().__init__("div")
        self.classes("sg-snippet")
        with self:
            for part, matched in parts(text, highlights):
                if matched:
                    _Part(part, "mark").classes(MARK_CLASSES)
                else:
                    _Part(part, "span")
