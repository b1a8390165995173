"""How storage failures are described to people and logs."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError


def failure_reason(exc: BaseException) -> str:
    """A short cause: the driver's own message (e.g. "database or disk is full"), never the SQL
    statement or its parameters, which carry message text."""
    cause: BaseException = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    text = str(cause).strip()
    return (text.splitlines()[0] if text else type(cause).__name__)[:200]
