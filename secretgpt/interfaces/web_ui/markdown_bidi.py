"""Hidden direction controls in rendered model text, made visible.

Unicode's bidirectional controls are invisible, yet they reorder what is shown: a
right-to-left override before `gpj.exe` makes it read `exe.jpg`, and code can read differently
from what it does ("Trojan Source"). Rather than drop them (which would hide that they were
there), wherever model text is rendered each one is shown as its code point, `<U+202E>`:

- embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069), which reorder whole runs
  of text: everywhere — prose, code, math, image alt text, link titles;
- the marks (U+200E, U+200F, U+061C), which only steer the neutral characters next to them and
  are how right-to-left writing legitimately keeps punctuation in place: in link text only,
  where an address must read as it is.

It runs on the renderer's HTML, where every `<` of the text is already escaped, so a `<` starts
one of the renderer's own tags; addresses inside tags are percent-encoded by markdown-it and
never hold a control.
"""

from __future__ import annotations

import re

_REORDERING = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_MARKS = "\u200e\u200f\u061c"
_ANY = re.compile(f"[{_REORDERING}{_MARKS}]")
_REORDERING_RE = re.compile(f"[{_REORDERING}]")
# A tag of the renderer's (an opening or closing <a> told apart), or one control.
_PIECE = re.compile(f"(<a\\s[^>]*>)|(</a>)|(<[^>]*>)|([{_REORDERING}])|([{_MARKS}])")


def _shown(control: str) -> str:
    return f"&lt;U+{ord(control):04X}&gt;"


def reveal_bidi_controls(rendered: str) -> str:
    """The renderer's HTML with each direction control that could disguise text shown as its
    code point (see the module's docstring for which, and where)."""
    if not _ANY.search(rendered):
        return rendered  # nearly always: one scan, no copy
    in_link = False

    def visible(match: re.Match[str]) -> str:
        nonlocal in_link
        link_open, link_close, tag, reordering, mark = match.groups()
        if link_open or link_close:
            in_link = bool(link_open)
        if link_open or tag:  # a title or an alt text in an attribute
            return _REORDERING_RE.sub(lambda m: _shown(m.group()), match.group())
        if reordering or (mark and in_link):
            return _shown(match.group())
        return match.group()

    return _PIECE.sub(visible, rendered)
