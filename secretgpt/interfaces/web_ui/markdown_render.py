"""Model text → safe HTML, in bounded time, with no remote resource the browser would fetch.

Model text is hostile input. markdown-it-py parses CommonMark in linear time and, with raw HTML
off, shows any HTML in the text as text. On top of it:
- cost is capped: a block over `MAX_BLOCK_CHARS`, nested deeper than `MAX_NESTING`, or one whose
  rendering raises anything, is shown as escaped preformatted text (this never raises);
- images never load by themselves: a remote image becomes a placeholder (alt text, host and a
  "Load image" button carrying the address, see `streaming_markdown`); only small `data:` images
  are shown inline;
- links keep markdown-it's scheme check (`javascript:` and friends are dropped) and get
  `rel="noopener noreferrer nofollow"`;
- a fenced code block gets a header with its language and a "Copy" button (one listener on the
  container sends the code to the server, see `streaming_markdown`), up to `MAX_CODE_HEADERS`
  per block;
- `$…$` and `$$…$$` become MathML (`markdown_math`, bounded the same way);
- direction controls that could disguise text (a right-to-left override in an address) are shown
  as their code point (`markdown_bidi`).
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Sequence
from urllib.parse import urlsplit

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from pygments import highlight as pygments_highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

from . import markdown_math
from .markdown_bidi import reveal_bidi_controls
from .markdown_blocks import close_open_fence

log = logging.getLogger(__name__)

MAX_BLOCK_CHARS = 64_000  # one block's worst case stays near 2 s of CPU (unmatched brackets)
MAX_NESTING = 40  # markdown-it nesting levels (a nested list costs 2); deeper blocks show as text
MAX_INLINE_IMAGE_CHARS = 48_000  # a `data:` image longer than this is not shown (< MAX_BLOCK_CHARS)
MAX_HIGHLIGHT_CHARS = 20_000  # longer code is shown unhighlighted (Pygments is regex-driven)
MAX_CODE_HEADERS = 64  # code blocks per block that get a header (10 000 tiny fences must not get 10 000)

# Rough CPU cost of rendering, in units of the cost of a plain character (measured: unmatched
# brackets cost ~60×, emphasis and table pipes ~10–16×). Used to decide what runs off the loop.
_COSTLY_CHARS = {"[": 60, "*": 10, "_": 10, "~": 10, "|": 16, "<": 4, "&": 4, "`": 2}

_IMAGE_MARK = 'data-sg-image="'
_PLACEHOLDER_RE_TEMPLATE = r'<span class="sg-image[^"]*" data-sg-image="{url}" data-alt="([^"]*)">.*?</button></span>'
_PLACEHOLDER_CLASSES = ("sg-image inline-flex flex-wrap items-center gap-2 px-2 py-1 my-1 rounded "
                        "border border-dashed border-gray-400 bg-grey-1 text-sm text-grey-9")
_BUTTON_CLASSES = "sg-load-image px-2 rounded border border-gray-400 bg-white text-primary cursor-pointer"
# A Material icon, not 🖼 (which shows as a box without an emoji font).
_IMAGE_ICON = '<i class="q-icon material-icons text-base" aria-hidden="true">image</i>'
_DATA_IMAGE_RE = re.compile(r"^data:image/(gif|png|jpeg|webp);", re.IGNORECASE)
_LANG_RE = re.compile(r"^[\w+#.-]{1,40}$")
_COPY_MARK = "data-sg-copy"
_CODE_CLASSES = "sg-code my-2 rounded border border-gray-300 dark:border-gray-700 overflow-hidden"
_CODE_HEAD_CLASSES = ("sg-code-head flex items-center justify-between gap-2 px-3 py-1 text-xs "
                      "bg-gray-200 text-gray-700 dark:bg-gray-800 dark:text-gray-300")
_COPY_CLASSES = "sg-copy-code px-2 rounded cursor-pointer hover:bg-gray-300 dark:hover:bg-gray-700"


def render_markdown(text: str) -> str:
    """HTML for one block (or a whole message). Never raises."""
    return reveal_bidi_controls(_rendered(text))


# The languages answers show most. A lexer compiles its rules the first time it is used (tens of
# milliseconds each), which would land on the first answer that shows one; `warm_up` moves that
# to start-up.
COMMON_LANGUAGES = ("python", "bash", "javascript", "typescript", "json", "html", "css", "sql", "yaml", "rust",
                    "go", "java", "c", "cpp")


def warm_up() -> None:
    """Render one of everything common once: the parser, its plugins and the usual lexers."""
    render_markdown("\n\n".join([f"```{lang}\nx = 1\n```" for lang in COMMON_LANGUAGES]
                                  + ["# T\n\n| a | b |\n|---|---|\n| *c* | `d` |\n\n- [x] e $x^2$"]))


def _rendered(text: str) -> str:
    if len(text) > MAX_BLOCK_CHARS:
        return as_preformatted(text)
    try:
        tokens = _MD.parse(close_open_fence(text))
        if any(token.level >= MAX_NESTING - 1 for token in tokens):
            # markdown-it stops nesting there and drops what is inside: show all of it as text.
            return as_preformatted(text)
        return _MD.renderer.render(tokens, _MD.options, {})
    except Exception as exc:  # RecursionError included: a block that fails is shown, never re-raised
        log.warning("a Markdown block of %d characters could not be rendered (%s); shown as text",
                    len(text), type(exc).__name__)
        return as_preformatted(text)


def as_preformatted(text: str) -> str:
    return f'<pre class="sg-raw whitespace-pre-wrap break-words">{html.escape(text)}</pre>'


def render_cost(text: str) -> int:
    """An estimate of `render_markdown(text)`'s CPU, in plain-character units (cheap to compute)."""
    if len(text) > MAX_BLOCK_CHARS:
        return len(text) // 50  # only escaped
    return (len(text) + sum(weight * text.count(char) for char, weight in _COSTLY_CHARS.items())
            + markdown_math.math_cost(text))


def has_code_block(rendered: str) -> bool:
    """Whether the HTML holds a code block with a Copy button."""
    return _COPY_MARK in rendered


def has_image_placeholder(rendered: str) -> bool:
    return _IMAGE_MARK in rendered


def image_placeholder(url: str, alt: str, note: str = "", failed: bool = False) -> str:
    """A visible stand-in for a remote image: nothing is fetched until "Load image" is clicked."""
    attr = html.escape(url, quote=True)
    alt_html = html.escape(alt, quote=True)
    note_class = "text-negative" if failed else "text-grey-8"
    note_html = f'<small class="sg-image-note {note_class}">{html.escape(note)}</small>' if note else ""
    return (f'<span class="{_PLACEHOLDER_CLASSES}" data-sg-image="{attr}" data-alt="{alt_html}">'
            f'{_IMAGE_ICON}<em>{alt_html or "image"}</em>'
            f'<small class="text-grey-7">{html.escape(image_host(url))}</small>{note_html}'
            f'<button type="button" class="{_BUTTON_CLASSES}" data-sg-image="{attr}" '
            f'title="SecretGPT fetches this image for you">Load image</button></span>')


def unavailable_image(alt: str, why: str) -> str:
    """An image that is not shown and cannot be loaded (no address to fetch it from)."""
    return (f'<span class="{_PLACEHOLDER_CLASSES}">{_IMAGE_ICON}'
            f'<em>{html.escape(alt) or "image"}</em><small class="text-grey-7">{html.escape(why)}</small></span>')


def replace_image_placeholder(rendered: str, url: str, replacement: str | None = None, note: str = "",
                              failed: bool = False) -> str:
    """Swap every placeholder of `url` for the image (`replacement`: its `data:` URL) or for a
    placeholder carrying `note`."""
    pattern = re.compile(_PLACEHOLDER_RE_TEMPLATE.format(url=re.escape(html.escape(url, quote=True))), re.DOTALL)

    def swap(match: re.Match[str]) -> str:
        alt = html.unescape(match.group(1))
        if replacement is None:
            return image_placeholder(url, alt, note, failed)
        return (f'<img src="{html.escape(replacement, quote=True)}" alt="{html.escape(alt, quote=True)}" '
                f'title="Loaded from {html.escape(image_host(url), quote=True)}" class="sg-loaded-image max-w-full">')

    return pattern.sub(swap, rendered)


def shows_image_placeholder(rendered: str, url: str) -> bool:
    return f'{_IMAGE_MARK}{html.escape(url, quote=True)}" data-alt=' in rendered


def image_host(url: str) -> str:
    try:
        host = urlsplit(url).netloc
    except ValueError:
        host = ""
    return host or "?"


def is_fetchable(url: str) -> bool:
    """Absolute http(s) or protocol-relative: something the app itself can fetch on a click."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return bool(parts.netloc) and parts.scheme.lower() in ("http", "https", "")


class _SafeRenderer(RendererHTML):
    def image(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        token = tokens[idx]
        src = str(token.attrGet("src") or "")
        alt = self.renderInlineAsText(token.children or [], options, env)
        if _DATA_IMAGE_RE.match(src):
            if len(src) <= MAX_INLINE_IMAGE_CHARS:
                return f'<img src="{html.escape(src, quote=True)}" alt="{html.escape(alt, quote=True)}">'
            return unavailable_image(alt, f"inline image too large ({len(src) // 1000} KB)")
        if is_fetchable(src):
            return image_placeholder(src, alt)
        # Relative addresses resolve against this app: none of its pages is an image worth a GET.
        return unavailable_image(alt, "not loaded: a relative address")

    def fence(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        """The code, under a header with its language and a Copy button."""
        code = super().fence(tokens, idx, options, env)
        shown = env.get("sg_code_headers", 0)
        if shown >= MAX_CODE_HEADERS:
            return code
        env["sg_code_headers"] = shown + 1
        lang = tokens[idx].info.strip().split(maxsplit=1)[0] if tokens[idx].info.strip() else ""
        label = html.escape(lang) if _LANG_RE.match(lang) else "code"
        return (f'<div class="{_CODE_CLASSES}"><div class="{_CODE_HEAD_CLASSES}">'
                f'<span class="sg-code-lang font-mono">{label}</span>'
                f'<button type="button" class="{_COPY_CLASSES}" {_COPY_MARK}="" title="Copy this code" '
                f'aria-label="Copy code">Copy</button></div>{code}</div>\n')

    def link_open(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        tokens[idx].attrSet("rel", "noopener noreferrer nofollow")
        return self.renderToken(tokens, idx, options, env)


def _highlight(code: str, lang: str, _attrs: str) -> str:
    if not lang or len(code) > MAX_HIGHLIGHT_CHARS or not _LANG_RE.match(lang):
        return ""
    try:
        lexer = get_lexer_by_name(lang)
    except ClassNotFound:
        return ""
    spans = pygments_highlight(code, lexer, _FORMATTER)
    # `codehilite`: the class NiceGUI's markdown element ships colours for.
    return f'<pre class="codehilite"><code class="language-{html.escape(lang, quote=True)}">{spans}</code></pre>'


_FORMATTER = HtmlFormatter(nowrap=True)
_MD = MarkdownIt("commonmark", {"html": False, "breaks": True, "maxNesting": MAX_NESTING,
                                "highlight": _highlight}, renderer_cls=_SafeRenderer)
_MD.enable(["table", "strikethrough"])
markdown_math.install(_MD)
