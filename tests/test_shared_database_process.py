"""Two real `python main.py` processes started at once on one empty database (SECRETGPT_DATABASE_URL)
both start, and what one stores the other serves. On SQLite and on a real PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from secretgpt.services.loopback_model import Reply
from tests.support.app_process import AppProcess
from tests.support.scripted_model import ScriptedModel
from tests.test_app_process import MODEL, MODEL_KEY, chat, model  # noqa: F401 (model: a fixture)

TOKEN = "shared-database-test-token"  # one token: one owner, whichever instance answers


@pytest.fixture
def two_apps(tmp_path: Path, model: ScriptedModel, new_store_url: Callable[[], str]) -> Iterator[list[AppProcess]]:  # noqa: F811
    url = new_store_url()
    apps = [AppProcess(tmp_path / f"data-{i}", tmp_path / f"work-{i}", model_url=model.server.url, model=MODEL,
                       model_api_key=MODEL_KEY, env={"SECRETGPT_DATABASE_URL": url, "SECRETGPT_API_TOKEN": TOKEN})
            for i in range(2)]
    yield apps
    for app in apps:
        app.cleanup()


async def test_two_instances_start_at_once_on_an_empty_database_and_share_it(two_apps: list[AppProcess],
                                                                             model: ScriptedModel) -> None:  # noqa: F811
    first, second = two_apps
    await asyncio.gather(first.start(), second.start())
    model.replies.append(Reply.of("Stored by the first instance."))
    async with first.client() as one, second.client() as two:
        answer = await chat(one, message="Hello from the first")
        listed = (await two.get("/api/v1/conversations")).json()
        assert [c["id"] for c in listed] == [answer["conversation_id"]]
        shown = (await two.get(f"/api/v1/conversations/{answer['conversation_id']}")).json()
        assert [m["content"] for m in shown["messages"]] == ["Hello from the first", "Stored by the first instance."]
