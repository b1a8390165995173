"""PostgreSQL's differences from SQLite, in one place: how its engine is made, and what it cannot
take that SQLite does.

- Reads see one snapshot (REPEATABLE READ), as they do on SQLite in WAL mode: a conversation
  deleted half-way through reading it must not turn into a missing-message error. Writes stay
  READ COMMITTED (each statement sees what others committed, after waiting for their row locks),
  and take the conversation's row lock first (message_tree.conversation_row).
- Its text cannot hold U+0000 (NUL), in text columns or inside JSONB: a NUL, which SQLite stores,
  is written as U+FFFD, the replacement character the app uses for lone surrogates too.
- Its errors carry a DETAIL with the values involved ("Failing row contains (…, <message text>,
  …)"), which a logged traceback would print: it is dropped before anything sees the error.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, ExceptionContext
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

NUL = "\x00"
REPLACEMENT = "\ufffd"
READS = "REPEATABLE READ"
WRITES = "READ COMMITTED"
# Seconds to reach the server and sign in: an address that drops packets fails start-up with its
# one line after this, not after asyncpg's default minute.
CONNECT_TIMEOUT = 10


def is_postgres(url: URL) -> bool:
    return url.get_backend_name() == "postgresql"


def with_async_driver(url: URL) -> URL:
    """`postgresql://` or `postgres://` (no driver named, as most hosts print it) means asyncpg,
    which is installed; SQLAlchemy would pick psycopg2, which is neither installed nor async (and
    does not know `postgres` at all)."""
    return url.set(drivername="postgresql+asyncpg") if url.drivername in ("postgresql", "postgres") else url


def make_postgres_engine(url: URL) -> AsyncEngine:
    engine = create_async_engine(url, pool_pre_ping=True, hide_parameters=True, isolation_level=READS,
                                 json_serializer=json_without_nul, connect_args={"timeout": CONNECT_TIMEOUT})
    event.listen(engine.sync_engine, "handle_error", _drop_detail)
    return engine


def without_nul(text: str) -> str:
    return text.replace(NUL, REPLACEMENT) if NUL in text else text


def json_without_nul(value: Any) -> str:
    """JSON for a JSONB column (which refuses the escape \\u0000): NULs in any string, keys
    included, as U+FFFD. Nearly always one dump, no copy."""
    dumped = json.dumps(value)
    return dumped if "\\u0000" not in dumped else json.dumps(_strings_without_nul(value))


def _strings_without_nul(value: Any) -> Any:
    # Recursive: the values stored are the app's own or an import's, whose depth is capped.
    if isinstance(value, str):
        return without_nul(value)
    if isinstance(value, dict):
        return {without_nul(str(k)): _strings_without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_strings_without_nul(v) for v in value]
    return value


def _drop_detail(context: ExceptionContext) -> None:
    """The driver's errors, wrapped or chained, without their DETAIL (the values of a failing row
    or key). The message (which constraint, which type) stays."""
    error: BaseException | None = context.original_exception
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if type(error).__module__.startswith("asyncpg") and getattr(error, "detail", None):
            error.detail = None  # type: ignore[attr-defined]
        error = error.__cause__ or error.__context__
