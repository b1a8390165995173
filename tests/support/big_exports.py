"""Large export files, as a long-lived conversation (or a hostile file) would make them."""

from __future__ import annotations

from typing import Any

AT = "2025-03-01T12:00:00Z"


def chain(n: int, *, text: str = "", conversation_id: str = "long") -> dict[str, Any]:
    """One conversation whose n messages form a single thread (each the parent of the next):
    questions and answers in turn, the answers with a model, a status and a stream id."""
    messages = []
    for i in range(n):
        message: dict[str, Any] = {"id": f"m{i}", "parent_id": f"m{i - 1}" if i else None,
                                   "role": "user" if i % 2 == 0 else "assistant",
                                   "content": f"{text}message {i}", "created_at": AT, "updated_at": AT}
        if i % 2:
            message.update(stream_id=f"s{i}", status="completed", metadata={"model": "deepseek-r1:70b"})
        messages.append(message)
    return {"format": "secretgpt.conversation", "version": 1, "app_version": "0.1.0", "exported_at": AT,
            "conversation": {"id": conversation_id, "title": f"{n} messages", "created_at": AT, "updated_at": AT,
                             "current_leaf_id": f"m{n - 1}" if n else None, "messages": messages}}
