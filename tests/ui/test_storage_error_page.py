"""The page tells the reader when an answer could not be saved (the save patched to fail)."""

from __future__ import annotations

from typing import Any

import pytest
from nicegui.testing import User
from sqlalchemy.exc import OperationalError

from secretgpt.records import StreamRecord
from secretgpt.services.loopback_model import Reply
from secretgpt.storage import SqlConversationStore

from .conftest import ScriptedModel
from .test_chat_page import page_text, send


async def test_an_answer_that_could_not_be_saved_says_so_and_stays_visible(
        user: User, model: ScriptedModel, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    real_save = SqlConversationStore.save_answer

    async def save_answer(self: SqlConversationStore, record: StreamRecord, **kwargs: Any) -> str:
        if record.status.ended:  # the final save; the first one (when the answer starts) works
            raise OperationalError("UPDATE …", (), Exception("database or disk is full"))
        return await real_save(self, record, **kwargs)

    monkeypatch.setattr(SqlConversationStore, "save_answer", save_answer)
    model.replies.append(Reply.of("An answer the disk had no room for.", tokens_per_second=200))
    await user.open("/")
    await send(user, "Save this")
    await user.should_see("could not be saved", retries=100)
    await user.should_see("database or disk is full")
    await user.should_see("Error")
    await user.should_not_see("Completed")
    assert "An answer the disk had no room for." in page_text(user, "answer")
    # The failure is logged as an error, as it should be; the `user` fixture fails on any other.
    errors = [r.getMessage() for r in caplog.get_records("call") if r.levelname == "ERROR"]
    assert len(errors) == 1 and "saving the answer failed (database or disk is full)" in errors[0], errors
    caplog.clear()
