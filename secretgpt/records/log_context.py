"""Which stream the code running now works for, so every log line it writes can say so (the JSON
log's `stream_id` and `conversation_id`) without each call passing them. A context variable: set
in a stream's own task, it is seen there and in the tasks it starts, nowhere else."""

from __future__ import annotations

from contextvars import ContextVar

current_stream: ContextVar[tuple[str, str] | None] = ContextVar("secretgpt_stream", default=None)


def working_for(stream_id: str, conversation_id: str) -> None:
    """From here on in this task (and the tasks it starts), logs name this stream."""
    current_stream.set((stream_id, conversation_id))
