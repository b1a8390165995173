"""Markdown that streams in O(n): settled blocks are sent once, only the open tail is re-sent.

Why: `ui.markdown` re-renders and resends its whole HTML on every change; one element per answer
updated per token sent 26 MB for a 23 KB answer. Here each settled block is its own element that
never changes, and the tail is re-sent only while the bytes spent on it stay within a budget
proportional to what has been rendered, and otherwise once a second (so a long open block is
refreshed less often instead of costing O(n²)).

Rendering is bounded (`markdown_render`), and a block whose estimated cost is high renders on a
worker thread, so one hostile answer cannot stall the server's other pages and requests.
Remote images arrive as placeholders; a click on "Load image" fetches that one image through the
app (`remote_image`) and shows it in place. A click on a code block's "Copy" sends that block's
text to the server, which writes it to the clipboard as the answer's own Copy does.
"""

from __future__ import annotations

import asyncio
import time

from nicegui import background_tasks, ui
from nicegui.events import GenericEventArguments

from .markdown_blocks import MarkdownBlockSplitter, displayable_tail
from .markdown_render import (
    MAX_BLOCK_CHARS,
    has_code_block,
    has_image_placeholder,
    render_cost,
    render_markdown,
    replace_image_placeholder,
    shows_image_placeholder,
)
from .message_actions import copy_text
from .remote_image import ImageFetcher, ImageFetchError

BLOCKS_PER_GROUP = 16  # bounds the children list a container update carries
TAIL_BUDGET_RATIO = 0.5  # tail bytes re-sent may reach this multiple of the rendered size
TAIL_BUDGET_SLACK = 6_000  # bytes: short answers refresh at full rate
# Over budget, the tail is still refreshed this often: one long open block (a paragraph or code
# that never settles) would otherwise stop changing on screen until it ends.
TAIL_MAX_AGE = 1.0  # seconds
UPDATE_OVERHEAD = 300  # bytes an element update costs besides its HTML
OFFLOAD_COST = 20_000  # `render_cost` units (~1 µs each) above which a block renders on a thread
TURN_BUDGET = 60_000  # units rendered on the event loop per loop turn, across all pages; then a thread
SEGMENT_CHARS = 16_000  # blocks settling together (a burst, history) share an element up to this size
# The placeholders live inside rendered HTML, where no NiceGUI element can listen: one listener on
# the container hands the server the address carried by the clicked button (NiceGUI's event
# serialisation drops DOM nodes, so `event.target` itself cannot be sent).
_LOAD_IMAGE_JS = ("(e) => { const b = e.target.closest('button[data-sg-image]');"
                  " if (b) { e.preventDefault(); emit(b.dataset.sgImage); } }")
# The same for a code block's Copy button: the code's text, as the browser shows it.
_COPY_CODE_JS = ("(e) => { const b = e.target.closest('button[data-sg-copy]');"
                 " if (b) { e.preventDefault(); emit(b.closest('.sg-code').querySelector('pre').textContent); } }")


class _TurnBudget:
    """How much rendering one event-loop turn may do before the rest waits for a worker thread:
    one page opening many answers, or many pages at once, never holds the loop for long."""

    def __init__(self, units: int) -> None:
        self.units = units
        self._spent = 0
        self._reset_pending = False

    def take(self, cost: int) -> bool:
        if not self._reset_pending:
            asyncio.get_running_loop().call_soon(self._reset)
            self._reset_pending = True
        if self._spent + cost > self.units:
            return False
        self._spent += cost
        return True

    def _reset(self) -> None:
        self._spent = 0
        self._reset_pending = False


_turn_budget = _TurnBudget(TURN_BUDGET)


class RenderedMarkdown(ui.markdown):
    """`ui.markdown`'s browser side (DOMPurify, code colours) showing HTML from our renderer;
    `content` keeps the Markdown source. No NiceGUI render cache (every streamed prefix of a tail
    would fill it)."""

    def __init__(self, source: str = "", rendered: str = "") -> None:
        self._html = rendered
        super().__init__(source)

    def show(self, source: str, rendered: str) -> None:
        self._html = rendered
        if self.content != source:
            self.content = source
        else:
            self._handle_content_change(source)

    def _handle_content_change(self, content: str) -> None:
        if self._props.get("innerHTML") != self._html:
            self._props["innerHTML"] = self._html


class StreamingMarkdown:
    def __init__(self, images: ImageFetcher | None = None) -> None:
        self._images = images or ImageFetcher()  # without one: public addresses only
        self._splitter = MarkdownBlockSplitter()
        # Marked: the page's tests click "Load image" on it as the browser does.
        with ui.element("div").classes("w-full").mark("markdown") as self.root:
            self._groups = ui.element("div").classes("w-full")
        self._tail: RenderedMarkdown | None = None  # made at the first flush: history never needs one
        self._group: ui.element | None = None
        self._group_size = 0
        self._rendered = 0  # bytes of settled HTML sent
        self._tail_spent = 0  # bytes spent re-sending the tail
        self._tail_at = 0.0  # when the tail was last refreshed (time.monotonic())
        self._tail_dirty = False
        self._tail_stale = False  # the tail shows text that has since settled: must refresh
        self._tail_version = 0  # a tail rendered on a thread is shown only if nothing newer was
        self._tail_rendering = False
        self._image_elements: list[RenderedMarkdown] = []  # elements showing image placeholders
        self._copy_listening = False
        self._loaded: dict[str, str] = {}  # image address → its data: URL, once the reader loaded it
        self._loading: set[str] = set()
        self._pending: list[tuple[RenderedMarkdown, str]] = []  # waiting for the worker thread
        self._pending_task: asyncio.Task | None = None

    @property
    def sent(self) -> int:
        """Bytes of HTML sent so far: it grows whenever the page has more to show."""
        return self._rendered + self._tail_spent

    def append(self, text: str) -> None:
        if not text:
            return
        self._add_segments(self._splitter.feed(text))
        self._tail_dirty = True

    def flush(self) -> None:
        """Show the tail if the byte budget allows (always when settled text must leave it)."""
        if not (self._tail_dirty or self._tail_stale) or (self._tail_rendering and not self._tail_stale):
            return
        tail = displayable_tail(self._splitter.tail)
        estimate = len(tail) + UPDATE_OVERHEAD
        budget = TAIL_BUDGET_RATIO * (self._rendered + estimate) + TAIL_BUDGET_SLACK
        now = time.monotonic()
        if not self._tail_stale and self._tail_spent + estimate > budget and now - self._tail_at < TAIL_MAX_AGE:
            return
        self._tail_at = now
        if self._tail is None:
            with self.root:
                self._tail = RenderedMarkdown().classes("w-full")
        self._tail_version += 1
        cost = render_cost(tail)
        if cost <= OFFLOAD_COST and _turn_budget.take(cost):
            self._show_tail(tail, render_markdown(tail) if tail else "")
        else:
            self._tail_rendering = True
            background_tasks.create(self._render_tail_later(tail, self._tail_version), name="render-tail")
        self._tail_dirty = self._tail_stale = False

    def show(self, text: str) -> None:
        """Text that is already complete (history): one element, rendered once (a text too long
        to render as one block goes block by block)."""
        if not text.strip():
            return
        if len(text) > MAX_BLOCK_CHARS:
            splitter = MarkdownBlockSplitter()
            self._add_segments([*splitter.feed(text), splitter.finish()])
            return
        with self._groups:
            element = RenderedMarkdown().classes("w-full")
        self._fill(element, text)

    def finish(self) -> None:
        rest = self._splitter.finish()
        if rest.strip():
            self._add_block(rest)
        if self._tail is not None:
            self._tail_version += 1
            self._tail.show("", "")
        self._tail_dirty = self._tail_stale = False

    def _add_segments(self, blocks: list[str]) -> None:
        """Settled blocks, consecutive ones sharing an element up to SEGMENT_CHARS (rendering them
        together gives the same HTML; a burst of thousands of blocks must not make thousands of
        elements)."""
        segment: list[str] = []
        size = 0
        for block in blocks:
            if segment and size + len(block) > SEGMENT_CHARS:
                self._add_block("".join(segment))
                segment, size = [], 0
            segment.append(block)
            size += len(block)
        if segment and "".join(segment).strip():
            self._add_block("".join(segment))

    def _add_block(self, block: str) -> None:
        if self._group is None or self._group_size >= BLOCKS_PER_GROUP:
            with self._groups:
                self._group = ui.element("div").classes("w-full")
            self._group_size = 0
        with self._group:
            element = RenderedMarkdown().classes("w-full")
        self._group_size += 1
        self._fill(element, block)
        self._tail_stale = True

    # --- rendering, on a thread when costly -----------------------------------------------------

    def _fill(self, element: RenderedMarkdown, source: str) -> None:
        cost = render_cost(source)
        if cost <= OFFLOAD_COST and _turn_budget.take(cost):
            self._show(element, source, render_markdown(source))
            return
        element.classes("sg-rendering")  # filled when the worker thread is done
        self._pending.append((element, source))
        if self._pending_task is None:
            self._pending_task = background_tasks.create(self._fill_pending(), name="render-blocks")

    async def _fill_pending(self) -> None:
        """Render waiting blocks on a worker thread, in order, a batch at a time."""
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                rendered = await asyncio.to_thread(lambda: [render_markdown(source) for _, source in batch])
                for (element, source), html in zip(batch, rendered):
                    if not element.is_deleted:
                        element.classes(remove="sg-rendering")
                        self._show(element, source, html)
        finally:
            self._pending_task = None

    async def _render_tail_later(self, tail: str, version: int) -> None:
        try:
            rendered = await asyncio.to_thread(render_markdown, tail)
        finally:
            self._tail_rendering = False
        if version == self._tail_version and self._tail is not None and not self._tail.is_deleted:
            self._show_tail(tail, rendered)

    def _show_tail(self, tail: str, rendered: str) -> None:
        assert self._tail is not None
        shown = self._show(self._tail, tail, rendered)
        self._tail_spent += len(shown) + UPDATE_OVERHEAD

    def _show(self, element: RenderedMarkdown, source: str, rendered: str) -> str:
        for address, data_url in self._loaded.items():
            rendered = replace_image_placeholder(rendered, address, data_url)
        element.show(source, rendered)
        if element is not self._tail:
            self._rendered += len(rendered)
        if has_image_placeholder(rendered) and element not in self._image_elements:
            if not self._image_elements:
                self.root.on("click", self._load_image, js_handler=_LOAD_IMAGE_JS)
            self._image_elements.append(element)
        if not self._copy_listening and has_code_block(rendered):
            self._copy_listening = True
            self.root.on("click", self._copy_code, js_handler=_COPY_CODE_JS)
        return rendered

    # --- a code block's "Copy" ----------------------------------------------------------------

    @staticmethod
    def _copy_code(event: GenericEventArguments) -> None:
        # Unlike "Load image", nothing is checked against the text: the browser only asks to put
        # text into its own clipboard, which it could do without the server.
        if isinstance(event.args, str) and event.args:
            copy_text(event.args)

    # --- "Load image" -------------------------------------------------------------------------

    async def _load_image(self, event: GenericEventArguments) -> None:
        """Fetch the clicked image through the app (only an address this text really shows)."""
        address = event.args if isinstance(event.args, str) else ""
        if not address or address in self._loading or not self._placeholders_of(address):
            return
        self._loading.add(address)
        self._swap(address, note="loading…")
        try:
            data_url = await self._images.fetch(address)
        except ImageFetchError as exc:  # one sentence whatever the cause (remote_image.py says why)
            self._swap(address, note=str(exc), failed=True)
        else:
            self._loaded[address] = data_url
            self._swap(address, data_url=data_url)
        finally:
            self._loading.discard(address)

    def _placeholders_of(self, address: str) -> list[RenderedMarkdown]:
        return [element for element in self._image_elements
                if not element.is_deleted and shows_image_placeholder(element.props.get("innerHTML", ""), address)]

    def _swap(self, address: str, data_url: str | None = None, note: str = "", failed: bool = False) -> None:
        for element in self._placeholders_of(address):
            element.show(element.content, replace_image_placeholder(element.props["innerHTML"], address,
                                                                     data_url, note, failed))
