"""Direction controls in model text cannot disguise it: in the rendered HTML each one that
reorders text is shown as its code point (`<U+202E>`), and in link text the marks too."""

from __future__ import annotations

import html
import re

import pytest

from secretgpt.interfaces.web_ui.markdown_render import MAX_BLOCK_CHARS, render_markdown

RLO = "\u202e"
REORDERING = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069"]
MARKS = ["\u200e", "\u200f", "\u061c"]


def shown(control: str) -> str:
    return html.escape(f"<U+{ord(control):04X}>")


def link_texts(rendered: str) -> list[str]:
    return re.findall(r"<a [^>]*>(.*?)</a>", rendered)


@pytest.mark.parametrize("source", [
    f"[https://bank.example/{RLO}gpj.exe](https://evil.example/x)",  # a link whose text looks like an address
    f"<https://bank.example/{RLO}gpj.exe>",  # an autolink: the text is the address
    f"[**https://bank.example/{RLO}gpj.exe**](https://evil.example/x)",  # inside emphasis in the link
], ids=["link", "autolink", "emphasis"])
def test_a_right_to_left_override_in_link_text_is_shown(source: str) -> None:
    rendered = render_markdown(source)
    [text] = link_texts(rendered)
    assert RLO not in rendered
    assert re.sub("<[^>]+>", "", text) == f"https://bank.example/{shown(RLO)}gpj.exe"


@pytest.mark.parametrize("control", REORDERING, ids=[f"U+{ord(c):04X}" for c in REORDERING])
def test_every_reordering_control_is_shown_wherever_model_text_is_rendered(control: str) -> None:
    source = (f"Prose a{control}b, `code {control}`, $x{control}y$, "
              f'![alt {control}](https://img.example/p.png) and [link](https://x.example/ "title {control}")\n\n'
              f"```python\nif access {control}!= 'user': grant()\n```\n\n```\nplain {control}code\n```")
    rendered = render_markdown(source)
    assert control not in rendered
    # prose, inline code, math, alt text (shown and kept for the placeholder), a link title, two code blocks
    assert rendered.count(shown(control)) == 8, rendered
    assert "<math" in rendered and "sg-image" in rendered and "codehilite" in rendered


def test_marks_are_shown_in_link_text_and_kept_in_prose() -> None:
    # Right-to-left writing uses the marks to keep punctuation in place; in an address they only deceive.
    for mark in MARKS:
        rendered = render_markdown(f"שלום{mark}, [https://bank.example{mark}/login](https://evil.example/)")
        [text] = link_texts(rendered)
        assert text == f"https://bank.example{shown(mark)}/login"
        assert f"שלום{mark}," in rendered


def test_a_block_shown_as_text_shows_its_controls_too() -> None:
    rendered = render_markdown("x" * (MAX_BLOCK_CHARS + 1) + RLO)
    assert rendered.startswith("<pre") and RLO not in rendered and shown(RLO) in rendered


def test_text_without_controls_renders_as_before() -> None:
    source = "A [link](https://example.org/ \"t\") with `code`, ünïcödé, עברית and العربية."
    rendered = render_markdown(source)
    assert "&lt;U+" not in rendered and "עברית" in rendered
