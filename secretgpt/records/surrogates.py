"""Lone surrogates out of text: each becomes U+FFFD (the replacement character).

A Python `str` can hold a surrogate code point (U+D800–U+DFFF) that no UTF-8 can carry: JSON's
`"\\ud800"` escape decodes to one. Such text fails wherever it is encoded — the proof's hash chain,
SQLite, the page's websocket, a JSON response — so it is made well formed where text enters the
app: model deltas (the service), import files (storage) and what a user sends (the hub). Like
the rest of the app's bottom layer, this imports nothing of the app.
"""

from __future__ import annotations

import re
from typing import Any

_SURROGATE = re.compile("[\ud800-\udfff]")
_HIGH = ("\ud800", "\udbff")  # the first half of a pair


def well_formed(text: str) -> str:
    """`text` with every lone surrogate replaced by U+FFFD; two halves of a pair that sit side
    by side become the character they stand for (a pair split across two model chunks, joined)."""
    if not _SURROGATE.search(text):
        return text  # nearly always: one regex scan, no copy
    # UTF-16 is the one encoding in which surrogates are code units: out with surrogatepass, back
    # with replace, and pairs are joined while lone halves become U+FFFD.
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def well_formed_json(value: Any) -> Any:
    """A parsed JSON value (dicts, lists, strings, numbers) with every string made well formed,
    keys included. Recursive: the caller has checked that the value is not nested deeply."""
    if isinstance(value, str):
        return well_formed(value)
    if isinstance(value, dict):
        return {well_formed(k): well_formed_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [well_formed_json(v) for v in value]
    return value


class SurrogateMender:
    """`well_formed` for a stream of pieces: a first half of a pair at the very end of one piece is
    held back until the next shows whether its second half follows (`flush` at the end)."""

    def __init__(self) -> None:
        self._held = ""

    def feed(self, text: str) -> str:
        if self._held:
            text, self._held = self._held + text, ""
        if not text or not _SURROGATE.search(text):
            return text
        if _HIGH[0] <= text[-1] <= _HIGH[1]:
            text, self._held = text[:-1], text[-1]
        return well_formed(text)

    def flush(self) -> str:
        held, self._held = self._held, ""
        return well_formed(held)
