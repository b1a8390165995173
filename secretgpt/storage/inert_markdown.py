"""Text for the Markdown export that makes no Markdown viewer load anything by itself.

The app never loads an image from model text (a placeholder waits for a click), but an export is
read elsewhere — GitHub, an editor's preview, a notes app — where `![alt](url)` is fetched as
soon as the file is opened, and raw HTML (`<img src>`, `<iframe>`, `<video poster>`, a
stylesheet) is rendered. So in every piece of text the export quotes:

- an image becomes a link to the same address, `[image: alt](url)` (reference-style ones too);
- raw HTML is escaped, `\\<img …>`, which any CommonMark viewer shows as the text it was;
- code (fenced, indented, inline) is left as it is: there the text is shown, never loaded.

The result is checked with markdown-it (CommonMark with tables and raw HTML on, as GitHub-like
viewers read it): a piece that still holds an image or HTML (a construct the rewrite misread) is
rewritten again without sparing code, and if even that fails every punctuation mark in it is
escaped: plain text, whatever it was.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from markdown_it import MarkdownIt
from markdown_it.token import Token

# markdown-it stops reading blocks nested deeper than this, where other viewers go on: what lies
# there cannot be checked, so such text is taken as unsafe.
_MAX_NESTING = 40
_VIEWER = MarkdownIt("commonmark", {"html": True, "maxNesting": _MAX_NESTING}).enable(["table", "strikethrough"])
_LOADS = {"image", "html_inline", "html_block"}
_CODE_BLOCKS = {"fence", "code_block"}
# A code span as CommonMark finds one within a line: a run of backticks, closed by a run of the
# same length. (One spread over lines is rewritten inside: only cosmetic, never unsafe.)
_CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`).*?(?<!`)\1(?!`)")
# `![` opening an image; `<` opening a tag, a closing tag, a comment, a declaration or a processing
# instruction (an autolink, `<https:…>`, has a colon after its scheme and is left alone).
_LOADING = re.compile(r"(?<!\\)!\[(\])?|<(?=[A-Za-z][A-Za-z0-9-]*(?:[\s/>]|$)|/[A-Za-z]|[!?])")
_LOADING_ANYWHERE = re.compile(r"!\[(\])?|<(?=[A-Za-z][A-Za-z0-9-]*(?:[\s/>]|$)|/[A-Za-z]|[!?])")
_LINE_END = re.compile(r"\r\n?")
_PUNCTUATION = re.compile(r"""([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~])""")


def inert(text: str) -> str:
    """`text` (Markdown) written so that no viewer loads anything from it."""
    text = _LINE_END.sub("\n", text)
    if not may_load(text):
        return text
    # Rewritten even if it looks clean: markdown-it may not see what another viewer would.
    for candidate in (_defused(text), _defused_everywhere(text)):
        if loads_nothing(candidate):
            return candidate
    return as_text(text)


def may_load(markdown: str) -> bool:
    """Whether `markdown` could hold an image or HTML at all: both need `![` or `<` (what most
    text lacks, so it needs no parsing)."""
    return "![" in markdown or "<" in markdown


def loads_nothing(markdown: str, allowed_html: re.Pattern[str] | None = None) -> bool:
    """Whether a viewer rendering `markdown` would show no image and no raw HTML (but HTML that
    `allowed_html` matches whole: the export's own)."""
    tokens = _parsed(markdown)
    if tokens is None or any(token.level >= _MAX_NESTING - 1 for token in tokens):
        return False  # it cannot be told
    for token in _walk(tokens):
        if token.type in _LOADS and not (token.type != "image" and allowed_html is not None
                                         and allowed_html.fullmatch(token.content)):
            return False
    return True


def _parsed(markdown: str) -> list[Token] | None:
    try:
        return _VIEWER.parse(markdown)
    except Exception:  # RecursionError on deep nesting included: unreadable here
        return None


def as_text(text: str) -> str:
    """`text` with every ASCII punctuation mark backslash-escaped: CommonMark shows it as the
    characters it is, with no link, image, HTML, code or emphasis (an indented line is code)."""
    return _PUNCTUATION.sub(r"\\\1", text)


def _walk(tokens: Iterable[Token]) -> Iterable[Token]:
    for token in tokens:
        yield token
        if token.children:
            yield from _walk(token.children)


def _defused(text: str) -> str:
    lines = text.split("\n")
    code = {i for token in _parsed(text) or () if token.type in _CODE_BLOCKS and token.map
            for i in range(*token.map)}
    return "\n".join(line if i in code else _defused_line(line) for i, line in enumerate(lines))


def _defused_line(line: str) -> str:
    out, start = [], 0
    for span in _CODE_SPAN.finditer(line):
        out += [_LOADING.sub(_replacement, line[start:span.start()]), span.group()]
        start = span.end()
    out.append(_LOADING.sub(_replacement, line[start:]))
    return "".join(out)


def _defused_everywhere(text: str) -> str:
    return _LOADING_ANYWHERE.sub(_replacement, text)


def _replacement(match: re.Match[str]) -> str:
    if match.group().startswith("<"):
        return "\\<"
    return "[image]" if match.group(1) else "[image: "
