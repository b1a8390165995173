"""What a search of the conversation list finds: full-text, ranked, with a snippet around the match.

The index (migration v4) covers each conversation's title and the text of every message of its
tree (questions and answers, alternatives included; not the reasoning): FTS5 on SQLite, a
tsvector with a GIN index on PostgreSQL. Both split text into words the same way for letters and
digits of any script, ignore case (and, on SQLite, accents), and do not stem.

What is typed is never query syntax: each whitespace-separated term is a quoted phrase, matched as
a word prefix (`conf` finds "confidential"); every term must occur in one message or the title.
`"`, `*`, `-`, `NEAR`, `AND`, parentheses and quotes are plain text, so no search can raise;
terms without a letter or digit match nothing. Conversations come best match first (BM25 on
SQLite, ts_rank on PostgreSQL; a match in the title counts double), then newest.

The snippet (snippets.py) is plain text, whitespace collapsed, with the matched words given as
[start, end) offsets into it, never as markup: model text is hostile, and the page draws the parts
as text.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence

from sqlalchemy import ColumnElement, TextClause, exists, or_, text
from sqlalchemy.ext.asyncio import AsyncConnection

from ..records import ConversationSummary, well_formed
from .schema import UTCDateTime
from .snippets import SCAN_CHARS
from .snippets import snippet as make_snippet
from .schema import conversations as C
from .schema import messages as M

_ESCAPE = "\\"
# Only so many terms count: each is a prefix match, and a pasted page of text is not a query.
MAX_TERMS = 16
# Each term's length that counts (a 100 kB "word" is not one anyone types).
MAX_TERM_CHARS = 100
_WORD = re.compile(r"[^\W_]")


def search_terms(term: str | None) -> list[str] | None:
    """The terms of a search, as typed; None when there is nothing to search for (no term, or only
    spaces: the whole list), [] when nothing can match (no term has a letter or digit)."""
    if term is None or not term.strip():
        return None
    # NUL ends FTS5's query text; a lone surrogate (the page's websocket carries them) cannot be encoded.
    term = well_formed(term).replace("\x00", " ")
    return [t[:MAX_TERM_CHARS] for t in term.split() if _WORD.search(t[:MAX_TERM_CHARS])][:MAX_TERMS]


def fts5_query(terms: Sequence[str]) -> str:
    """FTS5's MATCH expression: each term a quoted phrase ('"' doubled) whose last word is a prefix."""
    return " ".join('"' + t.replace('"', '""') + '"*' for t in terms)


def tsquery(terms: Sequence[str]) -> str:
    """to_tsquery's input: each term quoted (quotes and backslashes, its only specials inside
    quotes, become spaces: the parser splits words there anyway) as a prefix, all of them required."""
    return " & ".join("'" + t.replace("'", " ").replace("\\", " ") + "':*" for t in terms)


def matching(term: str | None) -> ColumnElement[bool] | None:
    """The scan for databases without a full-text index (neither SQLite nor PostgreSQL): the title or
    any message contains the term, ignoring the case of ASCII letters; `%`, `_`, `\\` literal."""
    if term is None or not term.strip():
        return None
    pattern = "%" + _escape_like(term.strip()) + "%"
    return or_(C.c.title.ilike(pattern, escape=_ESCAPE),
               exists().where(M.c.conversation_id == C.c.id, M.c.content.ilike(pattern, escape=_ESCAPE)))


def _escape_like(value: str) -> str:
    return value.replace(_ESCAPE, _ESCAPE * 2).replace("%", _ESCAPE + "%").replace("_", _ESCAPE + "_")


def indexed(dialect: str) -> bool:
    return dialect in ("sqlite", "postgresql")


async def search(conn: AsyncConnection, owner: str, terms: Sequence[str], limit: int) -> list[ConversationSummary]:
    """The owner's conversations matching every term, best first, each with its snippet."""
    if not terms:
        return []
    if conn.dialect.name == "sqlite":
        return await _sqlite(conn, owner, terms, limit)
    return await _postgres(conn, owner, terms, limit)


# Ranking a word found in most of the owner's texts ranks every one of them; only the best
# documents go on to be grouped by conversation (a few per conversation shown: plenty).
CANDIDATES_PER_RESULT = 10
MIN_CANDIDATES = 1_000


def candidates(limit: int) -> int:
    return max(MIN_CANDIDATES, CANDIDATES_PER_RESULT * limit)


# The best documents (messages and titles) of the owner's part of the index, then the best per
# conversation (SQLite takes the other columns of an aggregate query from the row min() picked;
# FTS5's rank is BM25, negative: lower is better; a title counts double), and only then, for the
# conversations shown, their message counts.
_SQLITE_BEST = """
WITH hits AS (
    SELECT rowid AS doc, rank AS score FROM search_index
    WHERE search_index MATCH :query ORDER BY rank LIMIT :candidates
), best AS (
    SELECT d.conversation_id AS cid, hits.doc AS doc,
           min(CASE WHEN d.message_id IS NULL THEN 2.0 ELSE 1.0 END * hits.score) AS score
    FROM hits JOIN search_docs d ON d.id = hits.doc GROUP BY d.conversation_id
), shown AS (
    SELECT c.id, c.title, c.created_at, c.updated_at, best.doc, best.score
    FROM best JOIN conversations c ON c.id = best.cid
    WHERE c.owner = :owner
    ORDER BY best.score, c.updated_at DESC, c.id
    LIMIT :limit
)
SELECT shown.*, (SELECT count(*) FROM messages WHERE messages.conversation_id = shown.id) AS message_count
FROM shown ORDER BY shown.score, shown.updated_at DESC, shown.id
"""


def owned_query(terms: Sequence[str], owner: str) -> str:
    """The terms in the text column, in the owner's documents only (the owner column, as a phrase)."""
    return f'body : ({fts5_query(terms)}) AND owner : ("{owner.replace(chr(34), chr(34) * 2)}")'


async def _sqlite(conn: AsyncConnection, owner: str, terms: Sequence[str], limit: int) -> list[ConversationSummary]:
    query = owned_query(terms, owner)
    rows = (await conn.execute(_typed(_SQLITE_BEST), {"query": query, "owner": owner, "limit": limit,
                                                        "candidates": candidates(limit)})).all()
    texts: dict[int, str] = {}
    docs = [row.doc for row in rows]
    for start in range(0, len(docs), 500):  # the texts of what is shown, for its snippets
        chunk = docs[start:start + 500]
        marks = ", ".join(f":d{i}" for i in range(len(chunk)))
        found = await conn.execute(text(f"SELECT id, substr(body, 1, {SCAN_CHARS}) AS body FROM search_texts "
                                        f"WHERE id IN ({marks})"), {f"d{i}": d for i, d in enumerate(chunk)})
        texts.update({row.id: row.body for row in found})
    return await _summaries(rows, [texts.get(row.doc) for row in rows], terms)


# The same on PostgreSQL: ts_rank over the owner's matching texts (a GIN index finds them), the
# best per conversation, the counts for the conversations shown.
_POSTGRES_BEST = """
WITH q AS (SELECT to_tsquery('simple'::regconfig, :query) AS q),
hits AS (
    SELECT m.conversation_id AS cid, m.id AS mid, ts_rank(m.search_vector, q.q) AS score
    FROM messages m JOIN conversations c ON c.id = m.conversation_id, q
    WHERE c.owner = :owner AND m.search_vector @@ q.q
    UNION ALL
    SELECT c.id, NULL, 2 * ts_rank(c.search_vector, q.q)
    FROM conversations c, q WHERE c.owner = :owner AND c.search_vector @@ q.q
), best AS (
    SELECT DISTINCT ON (cid) cid, mid, score FROM hits ORDER BY cid, score DESC, mid
), shown AS (
    SELECT c.id, c.title, c.created_at, c.updated_at, best.mid, best.score
    FROM best JOIN conversations c ON c.id = best.cid
    ORDER BY best.score DESC, c.updated_at DESC, c.id
    LIMIT :limit
)
SELECT shown.*, (SELECT count(*) FROM messages WHERE messages.conversation_id = shown.id) AS message_count
FROM shown ORDER BY shown.score DESC, shown.updated_at DESC, shown.id
"""


async def _postgres(conn: AsyncConnection, owner: str, terms: Sequence[str], limit: int) -> list[ConversationSummary]:
    rows = (await conn.execute(_typed(_POSTGRES_BEST), {"query": tsquery(terms), "owner": owner,
                                                          "limit": limit})).all()
    texts: dict[str, str] = {}
    messages = [row.mid for row in rows if row.mid is not None]
    if messages:  # the texts of what is shown, for its snippets
        found = await conn.execute(text(f"SELECT id, left(content, {SCAN_CHARS}) AS body FROM messages "
                                        "WHERE id = ANY(:ids)"), {"ids": messages})
        texts.update({row.id: row.body for row in found})
    return await _summaries(rows, [row.title if row.mid is None else texts.get(row.mid) for row in rows], terms)


def _typed(sql: str) -> TextClause:
    return text(sql).columns(created_at=UTCDateTime, updated_at=UTCDateTime)


# Up to this much text, the snippets are made on the event loop (a normal page of results: well
# under a millisecond each); beyond it (long answers), on a worker thread.
ON_THE_LOOP_CHARS = 200_000


async def _summaries(rows: Sequence[object], bodies: list[str | None], terms: Sequence[str]) -> list[ConversationSummary]:
    def build() -> list[ConversationSummary]:
        return [_summary(row, body, terms) for row, body in zip(rows, bodies, strict=True)]

    if sum(len(body or "") for body in bodies) <= ON_THE_LOOP_CHARS:
        return build()
    return await asyncio.to_thread(build)


def _summary(row: object, body: str | None, terms: Sequence[str]) -> ConversationSummary:
    fields = {k: getattr(row, k) for k in ("id", "title", "created_at", "updated_at", "message_count")}
    snippet = make_snippet(body, terms) if body else None
    return ConversationSummary.model_validate({
        **fields, "snippet": snippet.text if snippet else None,
        "highlights": snippet.highlights if snippet else []})


async def forget_deleted(conn: AsyncConnection) -> None:
    """After a delete, in its transaction: FTS5 keeps a deleted text's words in the index's older
    segments (a delete adds a tombstone) until they are merged; 'optimize' merges them all now, so
    the freed pages (zeroed by secure_delete) no longer hold them. Rewrites the index: a delete of
    a conversation costs about as much as the index is large (benchmarks/search.py)."""
    if conn.dialect.name == "sqlite":
        await conn.exec_driver_sql("INSERT INTO search_index (search_index) VALUES ('optimize')")
