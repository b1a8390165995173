"""The runtime's shutdown is bounded: an answer whose save never returns cannot hold the process."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import pytest

from secretgpt.config import Settings
from secretgpt.interfaces import runtime as runtime_module
from secretgpt.interfaces.runtime import Runtime
from secretgpt.records import StreamRecord
from secretgpt.storage import SqlConversationStore


async def test_a_shutdown_stops_waiting_for_a_save_that_never_returns(
        make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(runtime_module, "SHUTDOWN_WAIT", 0.5)
    save = SqlConversationStore.save_answer
    stuck = asyncio.Event()

    async def final_save_hangs(self: SqlConversationStore, record: StreamRecord, **kwargs: Any) -> str:
        if record.status.ended:  # a database that stopped answering
            stuck.set()
            await asyncio.Event().wait()
        return await save(self, record, **kwargs)

    monkeypatch.setattr(SqlConversationStore, "save_answer", final_save_hangs)
    runtime = Runtime(make_settings(demo_tokens_per_second=5))  # no key: the demo model
    hub = await runtime.start()
    await hub.send("hi", owner="someone")
    started = time.monotonic()
    with caplog.at_level(logging.ERROR):
        await asyncio.wait_for(runtime.stop(), 10)
    assert stuck.is_set() and time.monotonic() - started < 5
    assert "answers still not saved after 0.5 s" in caplog.text
