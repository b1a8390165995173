"""What a person is shown of a proof's text, which is anyone's: one line, no control characters.

A verifier prints strings its signer chose (the answer, reasons, error messages) to a terminal or
a page. Escape sequences could rewrite the terminal (a green "verified" line drawn over the
verdict), bidirectional overrides and zero-width characters could make text read as something
else, and a newline could forge a line of the report. So every such character is shown as its
escape (`\\x1b`, `\\u202e`), visibly, rather than dropped.
"""

from __future__ import annotations

import unicodedata

FIRST_LINE_CHARS = 100
# Cc: C0/C1 controls (ESC, CR, DEL…); Cf: format (bidi overrides, zero-width); Zl/Zp: line and
# paragraph separators; Cs: a lone surrogate; Co/Cn: private use and unassigned.
_HIDDEN = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})


def _shown(char: str) -> str:
    if unicodedata.category(char) not in _HIDDEN:
        return char
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def printable(text: str) -> str:
    """`text` on one line, every control and invisible format character written as its escape."""
    return "".join(_shown(char) for char in text)


def first_line(text: str, limit: int = FIRST_LINE_CHARS) -> str:
    """The first line of `text` that is not blank, at most `limit` characters (… when cut),
    neutralised; "" when the text is empty or blank."""
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    cut = line if len(line) <= limit else line[:limit - 1].rstrip() + "…"
    return printable(cut)
