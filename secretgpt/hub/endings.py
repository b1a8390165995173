"""How a stream's end reads: its final event (`done`, `cancelled` or `error`, with the record's
metadata), and the error an answer ends with when it could not be saved."""

from __future__ import annotations

from typing import Any

from ..records import ErrorKind, SecretAIError, Signal, StreamEvent, StreamStatus


def final_event(status: StreamStatus, meta: dict[str, Any], error: SecretAIError | None) -> StreamEvent:
    if status is StreamStatus.COMPLETED:
        return StreamEvent(0, Signal.DONE, data=meta)
    if status is StreamStatus.STOPPED:
        return StreamEvent(0, Signal.CANCELLED, data=meta)
    err = error or SecretAIError(ErrorKind.INTERRUPTED, "The stream ended unexpectedly.")
    return StreamEvent(0, Signal.ERROR, data={**meta, "message": err.message, "kind": err.kind.value})


def storage_error(exc: Exception, earlier: SecretAIError | None) -> SecretAIError:
    """The answer stays on screen and in its stream's record, but is not stored: say so (and what
    had gone wrong before, if anything)."""
    if isinstance(exc, SecretAIError) and exc.kind is ErrorKind.STORAGE:
        error = exc
    else:
        error = SecretAIError(ErrorKind.STORAGE, f"The answer could not be saved ({type(exc).__name__}). "
                              "What arrived is shown but not stored.")
    if earlier is not None:  # the answer had already failed: say both
        error = SecretAIError(ErrorKind.STORAGE, f"{error.message} (Before that: {earlier.message})")
    return error
