"""Markdown that streams in O(n): settled blocks are sent once, only the open tail is re-sent.

Why: `ui.markdown` re-renders and resends its whole HTML on every change; one element per answer
updated per token sent 26 MB for a 23 KB answer. Here each settled block is its own element that
never changes, and the tail is re-sent only while the bytes spent on it stay within a budget
proportional to what has been rendered (so a long open block is refreshed less often instead of
costing O(n²)).
"""

from __future__ import annotations

from nicegui import ui

from .markdown_blocks import MarkdownBlockSplitter, displayable_tail, render_markdown

BLOCKS_PER_GROUP = 16  # bounds the children list a container update carries
TAIL_BUDGET_RATIO = 2.0  # tail bytes re-sent may reach this multiple of the rendered size
TAIL_BUDGET_SLACK = 6_000  # bytes: short answers refresh at full rate
UPDATE_OVERHEAD = 300  # bytes an element update costs besides its HTML


class RenderedMarkdown(ui.markdown):
    """`ui.markdown` rendered by our safe renderer, without NiceGUI's per-content render cache
    (every streamed prefix of a tail would otherwise fill it)."""

    def _handle_content_change(self, content: str) -> None:
        html = render_markdown(content) if content else ""
        if self._props.get("innerHTML") != html:
            self._props["innerHTML"] = html


class StreamingMarkdown:
    def __init__(self) -> None:
        self._splitter = MarkdownBlockSplitter()
        with ui.element("div").classes("w-full") as self.root:
            self._groups = ui.element("div").classes("w-full")
        self._tail: RenderedMarkdown | None = None  # made at the first flush: history never needs one
        self._group: ui.element | None = None
        self._group_size = 0
        self._rendered = 0  # bytes of settled HTML sent
        self._tail_spent = 0  # bytes spent re-sending the tail
        self._tail_dirty = False
        self._tail_stale = False  # the tail shows text that has since settled: must refresh

    def append(self, text: str) -> None:
        if not text:
            return
        for block in self._splitter.feed(text):
            self._add_block(block)
        self._tail_dirty = True

    def flush(self) -> None:
        """Show the tail if the byte budget allows (always when settled text must leave it)."""
        if not (self._tail_dirty or self._tail_stale):
            return
        tail = displayable_tail(self._splitter.tail)
        estimate = len(tail) + UPDATE_OVERHEAD
        budget = TAIL_BUDGET_RATIO * (self._rendered + estimate) + TAIL_BUDGET_SLACK
        if not self._tail_stale and self._tail_spent + estimate > budget:
            return
        if self._tail is None:
            with self.root:
                self._tail = RenderedMarkdown("").classes("w-full")
        self._tail.set_content(tail)
        self._tail_spent += len(self._tail.props.get("innerHTML", "")) + UPDATE_OVERHEAD
        self._tail_dirty = self._tail_stale = False

    def show(self, text: str) -> None:
        """Text that is already complete (history): one element, rendered once."""
        if text.strip():
            with self._groups:
                element = RenderedMarkdown(text).classes("w-full")
            self._rendered += len(element.props.get("innerHTML", ""))

    def finish(self) -> None:
        rest = self._splitter.finish()
        if rest.strip():
            self._add_block(rest)
        if self._tail is not None:
            self._tail.set_content("")
        self._tail_dirty = self._tail_stale = False

    def _add_block(self, block: str) -> None:
        if self._group is None or self._group_size >= BLOCKS_PER_GROUP:
            with self._groups:
                self._group = ui.element("div").classes("w-full")
            self._group_size = 0
        with self._group:
            element = RenderedMarkdown(block).classes("w-full")
        self._group_size += 1
        self._rendered += len(element.props.get("innerHTML", ""))
        self._tail_stale = True
