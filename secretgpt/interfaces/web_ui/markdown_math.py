"""`$…$` and `$$…$$` in model text → MathML, made on the server, in bounded time.

Why MathML from the server: the browser draws it itself (Chromium, Firefox and Safari support
MathML Core), so no JavaScript math library is shipped to the page, nothing runs in the browser
on model text, and a conversation renders the same from history. mdit-py-plugins' `dollarmath`
(from the markdown-it-py project) finds the math; latex2mathml (pure Python) converts it.

latex2mathml's own output is not safe HTML (`\\text{<b>}` comes out raw, `\\href` and `\\style`
carry through), so its element tree is re-serialised here with an allowlist of MathML tags and
attributes and every text escaped. Math is hostile input like the rest: an expression that is
too long, nested too deep, over the block's math budget, or that latex2mathml fails on, is shown
as its source, never an error.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from typing import Any
from xml.etree.ElementTree import Element

from latex2mathml.converter import convert_to_element
from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins.dollarmath import dollarmath_plugin

MAX_MATH_CHARS = 2_000  # one expression (~25 ms, ~30 KB of MathML at worst)
MAX_MATH_PER_BLOCK = 4_000  # LaTeX characters converted per rendered block; the rest shows as source
MAX_MATH_COUNT = 500  # expressions converted per rendered block (MathML is ~20× its source: bytes to send)
MAX_MATH_DEPTH = 24  # braces, \left and \begin nested (latex2mathml recurses per level)
MATH_COST_PER_CHAR = 12  # `render_cost` units per character of math (conversion is ~12× plain text)

_BUDGET_KEY = "sg_math_chars"
_TAGS = frozenset(
    "math mrow mi mn mo ms mtext mspace msup msub msubsup mfrac msqrt mroot mover munder munderover "
    "mtable mtr mtd mlabeledtr mstyle mpadded mphantom menclose merror mmultiscripts mprescripts none "
    "semantics".split())
_ATTRIBUTES = frozenset(
    "display mathvariant stretchy fence separator lspace rspace accent accentunder columnalign columnlines "
    "columnspacing rowalign rowlines rowspacing linethickness displaystyle scriptlevel movablelimits largeop "
    "symmetric minsize maxsize width height depth notation form mathcolor mathbackground columnspan rowspan "
    "frame framespacing align".split())
_VALUE_RE = re.compile(r"^[#\w .%+-]{0,80}$")  # no quotes, colons or parentheses: no url(), no scheme
# Sizes model text may set, within what a formula needs (`\hspace{99999em}` must not push the page
# sideways): a number and a unit, at most _MAX_EMS em wide (px and pt counted at 16 a em).
_SIZE_ATTRIBUTES = frozenset({"width", "height", "depth", "lspace", "rspace", "minsize", "maxsize"})
_SIZE_RE = re.compile(r"^-?(\d{1,6}(?:\.\d*)?|\.\d+)(em|ex|px|pt|mu)?$")
_MAX_EMS = 20.0
_CHAR_REF_RE = re.compile(r"&#(x[0-9a-fA-F]{1,6}|[0-9]{1,7});")
_OPENERS_RE = re.compile(r"\{|\\left\b|\\begin\b")
_CLOSERS_RE = re.compile(r"\}|\\right\b|\\end\b")
_NESTING_RE = re.compile(f"{_OPENERS_RE.pattern}|{_CLOSERS_RE.pattern}")
# A chain of commands without braces (\sqrt\sqrt…x) nests as deep as it is long.
_CHAIN_RE = re.compile(r"(?:\\[A-Za-z]+\s*){%d,}" % (MAX_MATH_DEPTH + 1))


class _Unsafe(Exception):
    """The expression is not shown as math (too long, too deep, over budget)."""


def install(md: MarkdownIt) -> None:
    """`$…$` inline, `$$…$$` on its own lines or inside a paragraph. Prices ("$5 and $10") stay
    text: no digit right inside the dollars, no space either. No blank lines inside `$$…$$`, so
    math never spans two of the streamed blocks (which settle at blank lines)."""
    dollarmath_plugin(md, allow_labels=False, allow_space=False, allow_digits=False, allow_blank_lines=False,
                      double_inline=True)
    md.add_render_rule("math_inline", _inline)
    md.add_render_rule("math_inline_double", _inline_display)
    md.add_render_rule("math_block", _block)


def math_cost(text: str) -> int:
    """Extra `render_cost` for a block that may hold math (an upper bound, cheap to compute)."""
    return MATH_COST_PER_CHAR * min(len(text), MAX_MATH_PER_BLOCK) if "$" in text else 0


def math_html(latex: str, display: bool, env: dict[str, Any]) -> str:
    """MathML for one expression, or its source if it cannot be shown safely and cheaply."""
    latex = latex.strip()
    spent, count = env.get(_BUDGET_KEY, (0, 0))
    env[_BUDGET_KEY] = (spent + len(latex), count + 1)
    if spent + len(latex) > MAX_MATH_PER_BLOCK or count >= MAX_MATH_COUNT:
        # Over the block's budget: as plain text, which costs no more bytes than its source.
        return html.escape(("$$" if display else "$") + latex + ("$$" if display else "$"), quote=False)
    try:
        if len(latex) > MAX_MATH_CHARS or _depth(latex) > MAX_MATH_DEPTH:
            raise _Unsafe
        tree = convert_to_element(latex, display="block" if display else "inline")
        return _serialise(tree)
    except Exception:  # _Unsafe, RecursionError, latex2mathml's parse errors: show the source
        return _source(latex, display)


def _inline(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: dict[str, Any]) -> str:
    return f'<span class="sg-math">{math_html(tokens[idx].content, False, env)}</span>'


def _inline_display(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: dict[str, Any]) -> str:
    # Inside a paragraph: a <div> there would break the paragraph apart.
    return (f'<span class="sg-math sg-math-display block overflow-x-auto">'
            f'{math_html(tokens[idx].content, True, env)}</span>')


def _block(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: dict[str, Any]) -> str:
    return (f'<div class="sg-math sg-math-display overflow-x-auto my-2">'
            f'{math_html(tokens[idx].content, True, env)}</div>\n')


def _source(latex: str, display: bool) -> str:
    marks = "$$" if display else "$"
    return (f'<code class="sg-math-source" title="shown as written: not rendered as math">'
            f'{html.escape(marks + latex + marks)}</code>')


def _depth(latex: str) -> int:
    """How deep braces, \\left and \\begin nest (linear; an upper bound is enough)."""
    depth = deepest = 0
    for match in _NESTING_RE.finditer(latex):
        if _OPENERS_RE.fullmatch(match.group(0)):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return MAX_MATH_DEPTH + 1 if _CHAIN_RE.search(latex) else deepest


def _serialise(root: Element) -> str:
    """latex2mathml's tree as MathML, allowlisted tags and attributes, every text escaped
    (iterative: the tree's depth is bounded, but this must not recurse on it regardless)."""
    out: list[str] = []
    stack: list[tuple[Element, bool]] = [(root, False)]
    while stack:
        node, closing = stack.pop()
        tag = node.tag if node.tag in _TAGS else "mrow"
        if closing:
            out.append(f"</{tag}>{_text(node.tail)}")
            continue
        attributes = ""  # no xmlns: in HTML, <math> is MathML by itself
        for name, value in node.attrib.items():
            if name in _ATTRIBUTES and _VALUE_RE.match(value) and _reasonable_size(name, value):
                attributes += f' {name}="{html.escape(value, quote=True)}"'
        out.append(f"<{tag}{attributes}>{_text(node.text)}")
        stack.append((node, True))
        stack.extend((child, False) for child in reversed(list(node)))
    return "".join(out)


def _reasonable_size(name: str, value: str) -> bool:
    if name not in _SIZE_ATTRIBUTES:
        return True
    size = _SIZE_RE.match(value.strip())
    if size is None:
        return value.strip() in ("", "auto", "infinity")
    per_em = {"px": 16.0, "pt": 12.0, "mu": 18.0}.get(size.group(2) or "em", 1.0)
    return abs(float(size.group(1))) / per_em <= _MAX_EMS


def _text(text: str | None) -> str:
    """latex2mathml writes symbols as character references (`&#x0003C;`) in otherwise raw text."""
    if not text:
        return ""
    return html.escape(_CHAR_REF_RE.sub(_char, text), quote=False)


def _char(match: re.Match[str]) -> str:
    ref = match.group(1)
    code = int(ref[1:], 16) if ref[0] == "x" else int(ref)
    return chr(code) if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else "\ufffd"
