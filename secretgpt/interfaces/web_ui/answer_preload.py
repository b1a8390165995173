"""`AnswerPreload`: what the browser needs to show an answer, loaded with the page.

NiceGUI sends an element's JavaScript only when the first element of its kind is shown, and the
Markdown element fetches its code colours when it first mounts. Left to the first answer, that is a
chain of requests (the Markdown and expansion components, the resource loader, the stylesheet)
between its first token and its first text on screen. One hidden element of each kind, built with
the page, moves the chain to the page load.
"""

from __future__ import annotations

from nicegui import ui

from .streaming_markdown import RenderedMarkdown


class AnswerPreload(ui.element):
    def __init__(self) -> None:
        super().__init__("div")
        self.classes("hidden").props('aria-hidden="true"')
        with self:
            RenderedMarkdown()  # the answer's text (markdown.js, its code colours)
            ui.expansion()  # the reasoning block (think_block.py)
