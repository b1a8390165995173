"""A deleted conversation leaves no copy of its text in the data dir: not in the database file's
free pages (secure_delete zeroes them) and not in its write-ahead log (checkpointed and
truncated) — in the store, and in a real `python main.py` driven over its API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from secretgpt.records import StreamStatus
from secretgpt.services.loopback_model import Reply
from secretgpt.storage import SqlConversationStore, database_url, sql
from secretgpt.storage.engine import make_engine
from tests.support.scripted_model import ScriptedModel
from tests.support.sse import event_stream
from tests.test_app_process import Launch, launch, model, sigterm_exit  # noqa: F401
from tests.test_storage_export import answer

OWNER = "owner"
# PostgreSQL's deleted rows are VACUUM's, the operator's (README): these tests are about SQLite's files.
pytestmark = pytest.mark.sqlite_only("the data dir's files: secure_delete and the WAL checkpoint")


@pytest.fixture
def sqlite_as_built_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    """Connections that start with SQLite's own default, secure_delete=OFF (Debian builds it ON,
    macOS and most others do not), before the store's settings apply."""

    def engine(url: str) -> AsyncEngine:
        made = make_engine(url)

        def default_off(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute("PRAGMA secure_delete=OFF")

        event.listen(made.sync_engine, "connect", default_off, insert=True)
        return made

    monkeypatch.setattr(sql, "make_engine", engine)


def files_holding(data_dir: Path, text: str) -> list[str]:
    """Every file under `data_dir` whose bytes contain `text` (UTF-8), by name."""
    needle = text.encode("utf-8")
    return sorted(str(p.relative_to(data_dir)) for p in data_dir.rglob("*") if p.is_file() and needle in p.read_bytes())


@pytest.mark.usefixtures("sqlite_as_built_elsewhere")
async def test_the_store_zeroes_a_deleted_conversation_and_empties_its_log(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    store = await SqlConversationStore.open(database_url(data_dir))
    try:
        kept = await store.create(OWNER, "Kept")
        await store.add_user_turn(kept.id, OWNER, "KEPT-TEXT-7301 stays")
        gone = await store.create(OWNER, "GONE-TITLE-5517")
        # Long enough for overflow pages, saved as an answer is: at its start, at checkpoints, at its end.
        await store.add_user_turn(gone.id, OWNER, "GONE-QUESTION-8842 " * 400)
        text = ""
        for status in (StreamStatus.STREAMING, StreamStatus.STREAMING, StreamStatus.COMPLETED):
            text += "GONE-ANSWER-2290 " * 300
            await store.save_answer(answer(gone.id, "s1", text, status, think="GONE-REASONING-6618 " * 50)
                                    .model_copy(update={"owner": OWNER}))
        assert files_holding(data_dir, "GONE-ANSWER-2290")  # the scan sees what is there

        await store.delete(gone.id, OWNER)
        for secret in ("GONE-TITLE-5517", "GONE-QUESTION-8842", "GONE-ANSWER-2290", "GONE-REASONING-6618"):
            assert files_holding(data_dir, secret) == [], secret
        assert (data_dir / "secretgpt.db-wal").stat().st_size == 0
        assert files_holding(data_dir, "KEPT-TEXT-7301") == ["secretgpt.db"]  # the rest is still there
        assert (await store.get(kept.id, OWNER)).messages[0].content == "KEPT-TEXT-7301 stays"
    finally:
        await store.close()


async def test_after_a_delete_over_the_api_no_file_of_the_data_dir_holds_the_text(launch: Launch,
                                                                                   model: ScriptedModel) -> None:
    model.replies.append(Reply.of("ANSWER-TEXT-4471 " * 200, "REASONING-TEXT-9083 " * 20))
    app = await launch().start()
    async with app.client() as client:
        async with event_stream(client, {"message": "QUESTION-TEXT-3356 " * 100}) as sse:
            await sse.ended(30)
        conversation_id = sse.frames[0].data["conversation_id"]
        assert files_holding(app.data_dir, "ANSWER-TEXT-4471")
        response = await client.delete(f"/api/v1/conversations/{conversation_id}")
        assert response.status_code == 200, response.text
        for secret in ("QUESTION-TEXT-3356", "ANSWER-TEXT-4471", "REASONING-TEXT-9083"):
            assert files_holding(app.data_dir, secret) == [], secret
    assert sigterm_exit(await app.terminate())
    for secret in ("QUESTION-TEXT-3356", "ANSWER-TEXT-4471", "REASONING-TEXT-9083"):
        assert files_holding(app.data_dir, secret) == [], secret
