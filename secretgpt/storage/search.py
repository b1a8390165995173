"""What a search of the conversation list finds: the one place it is defined, so a full-text
search can replace it.

A conversation matches when its title or any message of its tree (alternatives included)
contains the term, ignoring case: ILIKE on PostgreSQL, `lower(…) LIKE lower(…)` on SQLite. Both
ignore the case of ASCII letters; beyond ASCII, PostgreSQL follows the database's locale
(LC_CTYPE) and SQLite's lower() leaves them as they are. `%`, `_` and `\\` in the term are
literal characters, not wildcards.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, exists, or_

from .schema import conversations as C
from .schema import messages as M

_ESCAPE = "\\"


def matching(term: str | None) -> ColumnElement[bool] | None:
    """The condition on `conversations` for `term`; None when there is nothing to search for (no
    term, or only spaces)."""
    if term is None or not term.strip():
        return None
    pattern = "%" + _escape_like(term.strip()) + "%"
    return or_(C.c.title.ilike(pattern, escape=_ESCAPE),
               exists().where(M.c.conversation_id == C.c.id, M.c.content.ilike(pattern, escape=_ESCAPE)))


def _escape_like(text: str) -> str:
    return text.replace(_ESCAPE, _ESCAPE * 2).replace("%", _ESCAPE + "%").replace("_", _ESCAPE + "_")
