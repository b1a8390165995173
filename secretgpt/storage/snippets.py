"""The snippet a search shows: the words around the first match in a text, as plain text with the
matched words' [start, end) offsets — never markup, since the text is a model's (hostile).

Made here rather than by the databases (FTS5's snippet(), PostgreSQL's ts_headline) because they
would mark matches with characters the text itself may hold, and re-read each document through
their index (FTS5's snippets were three quarters of a search's time at 10 000 conversations); and
so both databases show the same snippet. Words are split and compared as the indexes do: runs of
letters and digits, case and accents ignored, each search word matching a word's beginning.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

SNIPPET_WORDS = 16  # words shown: a few before the first match, the rest after
BEFORE = 4
SNIPPET_CHARS = 240  # at most (one hostile "word" can be 100 kB long)
# How far into a text a match is looked for (the first 100 000 characters are what PostgreSQL
# indexes; a 1 MB answer is not read whole for one line of it).
SCAN_CHARS = 100_000
_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class Snippet:
    text: str
    highlights: list[tuple[int, int]]


def fold(word: str) -> str:
    """A word as the indexes compare it: case and accents ignored."""
    if word.isascii():
        return word.lower()
    return "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c)).casefold()


def search_words(terms: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted({fold(w) for term in terms for w in _WORD.findall(term)}, key=len, reverse=True))


def snippet(text: str, terms: Sequence[str]) -> Snippet:
    """The words around the first word of `text` that a search word begins; the text's start (no
    highlight) if none does within SCAN_CHARS."""
    wanted = search_words(terms)
    words = list(_WORD.finditer(text, 0, min(len(text), SCAN_CHARS)))
    first = next((i for i, m in enumerate(words) if fold(m.group()).startswith(wanted)), None) if wanted else None
    if not words:
        return _collapsed(text[:SNIPPET_CHARS], [], cut_before=False, cut_after=len(text) > SNIPPET_CHARS)
    start = max(0, (first or 0) - BEFORE)
    if first is not None and words[first].start() - words[start].start() > SNIPPET_CHARS // 2:
        start = first  # long words before it: the match itself comes first
    end = min(len(words), start + SNIPPET_WORDS)
    # From the text's start if the window starts at its first word, to its end if it ends at the
    # last one (a title's closing "." is not a cut).
    last = end == len(words) and len(text) <= SCAN_CHARS
    begin = words[start].start() if start else 0
    finish = len(text) if last else words[end - 1].end()
    spans = [(m.start() - begin, m.end() - begin) for m in words[start:end]
             if first is not None and fold(m.group()).startswith(wanted)]
    return _collapsed(text[begin:finish], spans, cut_before=begin > 0, cut_after=not last)


def _collapsed(text: str, spans: Sequence[tuple[int, int]], *, cut_before: bool, cut_after: bool) -> Snippet:
    """Whitespace runs as one space, "…" where the text was cut, at most SNIPPET_CHARS; the spans
    moved along."""
    out: list[str] = ["…"] if cut_before else []
    moved: list[tuple[int, int]] = []
    bounds = {s for s, _ in spans}, {e for _, e in spans}
    opened: int | None = None
    for i, ch in enumerate(text):  # a span is one word: it holds no whitespace
        if i in bounds[1] and opened is not None:
            moved.append((opened, len(out)))
            opened = None
        if i in bounds[0]:
            opened = len(out)
        if not ch.isspace():
            out.append(ch)
        elif out and out[-1] != " ":
            out.append(" ")
    if opened is not None:
        moved.append((opened, len(out)))
    while out and out[-1] == " ":
        out.pop()
    if len(out) > SNIPPET_CHARS:
        out, cut_after = out[:SNIPPET_CHARS], True
        moved = [(s, min(e, SNIPPET_CHARS)) for s, e in moved if s < SNIPPET_CHARS]
    if cut_after:
        out.append("…")
    return Snippet("".join(out), moved)
