"""Code blocks (language label, Copy button) and math (MathML made on the server), both bounded."""

from __future__ import annotations

import html
import re

import pytest

from secretgpt.interfaces.web_ui.markdown_math import MAX_MATH_CHARS, MAX_MATH_COUNT, MAX_MATH_PER_BLOCK, math_cost
from secretgpt.interfaces.web_ui.markdown_render import (
    MAX_CODE_HEADERS,
    has_code_block,
    render_cost,
    render_markdown,
)


def test_a_fenced_code_block_gets_its_language_and_a_copy_button() -> None:
    rendered = render_markdown("Look:\n\n```python\nprint('<hi>')\n```\n")
    assert has_code_block(rendered)
    assert re.search(r'<span class="sg-code-lang[^"]*">python</span>', rendered)
    assert re.search(r'<button type="button" class="sg-copy-code[^"]*" data-sg-copy=""[^>]*>Copy</button>', rendered)
    # The code itself is still there, coloured and escaped, after the header.
    assert rendered.index("sg-code-head") < rendered.index('<pre class="codehilite">')
    assert "&lt;hi&gt;" in rendered and "<hi>" not in rendered


def test_a_code_block_without_a_usable_language_is_labelled_code() -> None:
    plain = render_markdown("```\nx = 1\n```")
    assert '<span class="sg-code-lang font-mono">code</span>' in plain
    hostile = render_markdown('```"><img src=x onerror=alert(1)>\nx\n```')
    assert '<span class="sg-code-lang font-mono">code</span>' in hostile
    assert "<img" not in hostile


def test_an_unclosed_fence_streams_as_code_with_its_header() -> None:
    rendered = render_markdown("```js\nlet a = 1")
    assert has_code_block(rendered) and ">js</span>" in rendered


def test_indented_code_and_inline_code_get_no_header() -> None:
    rendered = render_markdown("    indented\n\nand `inline`")
    assert not has_code_block(rendered)


def test_code_headers_are_capped_per_block() -> None:
    rendered = render_markdown("- item\n" + "  ```\n  x\n  ```\n" * (MAX_CODE_HEADERS + 10))
    assert rendered.count("data-sg-copy") == MAX_CODE_HEADERS
    assert rendered.count("<pre>") == MAX_CODE_HEADERS + 10  # every block is still shown


def test_dollar_math_renders_as_mathml() -> None:
    rendered = render_markdown(r"Euler: $e^{i\pi} + 1 = 0$ and" + "\n\n$$\n\\frac{a}{b}\n$$\n")
    inline, block = re.findall(r"<math [^>]*>.*?</math>", rendered)
    assert 'display="inline"' in inline and "<msup><mi>e</mi>" in inline
    assert 'display="block"' in block and "<mfrac>" in block
    assert "xmlns" not in inline  # HTML puts <math> in the MathML namespace by itself
    # $$…$$ inside a paragraph is display math, without breaking the paragraph with a <div>.
    inside = render_markdown(r"so $$x^2$$ holds")
    assert inside.startswith("<p>") and "<div" not in inside and 'display="block"' in inside


def test_prices_are_not_math() -> None:
    rendered = render_markdown("It costs $5 and $10, or $ 3 $.")
    assert "<math" not in rendered and "$5 and $10" in rendered


def test_math_cannot_inject_html_or_attributes() -> None:
    rendered = render_markdown(r"$\text{<script>alert(1)</script>} \href{javascript:alert(1)}{x} "
                               r"\style{background:url(http://evil.example/)}{y} \color{red' onclick='z}{w}$")
    assert "<math" in rendered  # still math, made safe
    assert "<script" not in rendered and "&lt;script&gt;" in rendered
    for bad in ("javascript:", "href", "style=", "onclick", "url("):
        assert bad not in rendered


@pytest.mark.parametrize("latex", [
    "\\sqrt{" * 1000 + "x" + "}" * 1000,  # deep braces: latex2mathml would hit RecursionError
    "\\left(" * 500 + "x" + "\\right)" * 500,
    "\\sqrt" * 300 + "x",  # a chain of commands nests without braces
    "\\hat" * 300 + "x",
    "x+" * (MAX_MATH_CHARS // 2 + 1),  # longer than one expression may be (within the block budget)
    "\\frac{",  # not LaTeX at all
])
def test_hostile_math_shows_its_source_quickly(latex: str) -> None:
    rendered = render_markdown(f"$${latex}$$")  # its cost is in benchmarks/hostile_render.py (mathnest)
    assert "<math" not in rendered
    assert html.escape(latex[:40], quote=False) in rendered  # the source, as written


def test_math_in_one_block_is_budgeted() -> None:
    expression = "x^2+" * 50  # 200 characters each
    count = MAX_MATH_PER_BLOCK // 200 + 5
    rendered = render_markdown(" ".join(f"${expression}y$" for _ in range(count)))
    shown = rendered.count("<math ")
    assert 0 < shown < count  # the first ones are math, the rest (over budget) their source
    assert rendered.count(f"${expression}y$") == count - shown  # as plain text
    # The cost estimate says a block full of math is costly (so it renders off the event loop).
    text = "$x^2$ " * 10_000
    assert render_cost(text) >= len(text) + math_cost(text) and math_cost(text) > 0
    assert math_cost("no dollars here") == 0
    many = render_markdown("$x$ " * (MAX_MATH_COUNT + 50))
    assert many.count("<math") == MAX_MATH_COUNT and many.count("$x$") == 50


def test_math_in_code_stays_code() -> None:
    rendered = render_markdown("`$x$` and\n\n```\n$$y$$\n```")
    assert "<math" not in rendered and "$x$" in rendered and "$$y$$" in rendered


def test_math_that_is_not_shown_as_math_says_so() -> None:
    rendered = render_markdown("$" + "\\sqrt" * 300 + "x$")
    assert "<math" not in rendered
    assert 'class="sg-math-source" title="shown as written: not rendered as math"' in rendered


def test_math_sizes_stay_within_what_a_formula_needs() -> None:
    """Model text must not push the page sideways through a formula's spacing."""
    assert 'width="1em"' in render_markdown(r"$$a\hspace{1em}b$$")
    huge = render_markdown(r"$$a\hspace{99999em}b$$")
    assert "<math" in huge and "99999" not in huge  # the formula stays; the size goes
