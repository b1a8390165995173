"""Split streamed Markdown into settled blocks and an open tail (rendering: `markdown_render`).

Settled blocks are rendered once and never touched again; only the open tail changes while an
answer streams. A block settles at a blank line outside a fenced code block.
"""

from __future__ import annotations

import re

_FENCE_RE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


def close_open_fence(text: str) -> str:
    """An unclosed code fence renders as code, not as a paragraph of backticks."""
    fence = None
    for line in text.split("\n"):
        match = _FENCE_RE.match(line)
        if match:
            marker = match.group(1)
            if fence is None:
                fence = marker
            elif marker[0] == fence[0] and len(marker) >= len(fence) and not line.strip()[len(marker):].strip():
                fence = None
    if fence is None:
        return text
    return text + ("" if text.endswith("\n") else "\n") + fence


_TABLE_SEPARATOR_RE = re.compile(r"^\s*\|?\s*:?-{1,}:?\s*(\|\s*:?-{1,}:?\s*)*\|?\s*$")


def displayable_tail(tail: str) -> str:
    """The open block as it may be shown mid-stream: a table whose separator row has not arrived
    yet is held back (it would flash as a paragraph of pipes)."""
    lines = tail.lstrip("\n").split("\n", 2)  # only the first two lines matter
    if lines and lines[0].lstrip().startswith("|"):
        if len(lines) < 3 or not _TABLE_SEPARATOR_RE.match(lines[1]):
            return ""
    return tail


class MarkdownBlockSplitter:
    """Feed text as it arrives; get back blocks that can no longer change."""

    def __init__(self) -> None:
        self._tail = ""  # text of the open block
        self._fence: str | None = None  # the open fence marker, if inside a code block
        self._line_start = 0  # index in _tail where the current (incomplete) line begins
        self._block_has_content = False

    @property
    def tail(self) -> str:
        return self._tail

    def feed(self, text: str) -> list[str]:
        settled: list[str] = []
        self._tail += text
        start = 0  # where the open block begins in _tail (each block is sliced out once: O(n))
        position = self._line_start
        while True:
            newline = self._tail.find("\n", position)
            if newline < 0:
                break
            line = self._tail[position:newline]
            position = newline + 1
            self._track_line(line)
            if self._fence is None and not line.strip() and self._block_has_content:
                # A blank line outside code ends the block (it keeps its trailing blank line so
                # the rendered spacing matches the whole-text rendering).
                settled.append(self._tail[start:position])
                start = position
                self._block_has_content = False
        if start:
            self._tail = self._tail[start:]
        self._line_start = position - start
        return settled

    def finish(self) -> str:
        """The rest, at the end of the stream."""
        rest, self._tail = self._tail, ""
        self._line_start = 0
        self._fence = None
        self._block_has_content = False
        return rest

    def _track_line(self, line: str) -> None:
        match = _FENCE_RE.match(line)
        if match:
            marker = match.group(1)
            if self._fence is None:
                self._fence = marker
            elif marker[0] == self._fence[0] and len(marker) >= len(self._fence) and not line.strip()[len(marker):]:
                self._fence = None
        if line.strip():
            self._block_has_content = True
