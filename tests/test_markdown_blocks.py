"""Block splitting and safe rendering of streamed Markdown (pure functions, no NiceGUI)."""

from __future__ import annotations

import re

import pytest

from secretgpt.interfaces.web_ui.markdown_blocks import MarkdownBlockSplitter, close_open_fence, displayable_tail
from secretgpt.interfaces.web_ui.markdown_render import render_markdown
from secretgpt.services.loopback_model import synthetic_markdown

DOC = (
    "Intro paragraph with **bold**.\n\n"
    "- one\n- two\n\n"
    "```python\ndef f():\n\n    return 1\n```\n\n"
    "| a | b |\n| --- | --- |\n| 1 | 2 |\n\n"
    "Closing words."
)


def split(text: str, step: int) -> tuple[list[str], str]:
    splitter = MarkdownBlockSplitter()
    blocks: list[str] = []
    for i in range(0, len(text), step):
        blocks += splitter.feed(text[i:i + step])
    return blocks, splitter.finish()


@pytest.mark.parametrize("step", [1, 2, 3, 7, 1000])
def test_blocks_reassemble_the_text_whatever_the_chunking(step: int) -> None:
    blocks, rest = split(DOC, step)
    assert "".join(blocks) + rest == DOC
    assert len(blocks) == 4
    assert blocks[2].startswith("```python") and "\n\n    return 1" in blocks[2]  # no split inside code
    assert rest == "Closing words."


def test_rendering_block_by_block_equals_rendering_the_whole() -> None:
    text = "".join(synthetic_markdown(1500))
    blocks, rest = split(text, 5)
    norm = lambda html: re.sub(r"\s+", "", html)  # noqa: E731
    assert norm("".join(render_markdown(b) for b in [*blocks, rest])) == norm(render_markdown(text))


def test_unclosed_fence_renders_as_code() -> None:
    assert close_open_fence("```py\nx = 1") == "```py\nx = 1\n```"
    assert close_open_fence("```py\nx = 1\n```\n") == "```py\nx = 1\n```\n"
    html = render_markdown("Some code:\n\n```python\nprint('hi')")
    assert "<pre" in html and "<code" in html and "```" not in html


def test_table_is_held_back_until_its_separator_arrives() -> None:
    assert displayable_tail("| a | b |\n") == ""
    assert displayable_tail("| a | b |\n| --- | -") == ""
    assert displayable_tail("| a | b |\n| --- | --- |\n| 1") != ""
    assert displayable_tail("Plain text | with a pipe") == "Plain text | with a pipe"


def test_model_html_is_escaped_and_javascript_links_dropped() -> None:
    html = render_markdown('<script>alert(1)</script> <img src=x onerror=alert(1)> [x](javascript:alert(1))')
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;" in html
    assert "<a" not in html  # the link is dropped: its Markdown shows as text
    assert "</script>" not in render_markdown("```html\n</script>\n```")
