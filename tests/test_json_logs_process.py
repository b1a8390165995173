"""`SECRETGPT_LOG_FORMAT=json` on a real `python main.py`: every line of its output is one JSON
object (time, level, logger, message; stream_id and conversation_id on a stream's lines), uvicorn's
access log is among them, the banner says where the token is kept, and no line holds the message,
the answer, the API token or the model key. The probes answer beside sign-in and the host check."""

from __future__ import annotations

import json
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from secretgpt.services.loopback_model import Reply
from tests.support.app_process import AppProcess
from tests.support.scripted_model import ScriptedModel
from tests.support.sse import event_stream

MODEL = "json-log-model"
MODEL_KEY = "json-log-model-key-4f1e"
QUESTION = "What does the walrus-secret-7731 say?"
ANSWER = "The narwhal-answer-9902 is private."


@pytest.fixture
async def model() -> AsyncIterator[ScriptedModel]:
    scripted = await ScriptedModel(Reply.of(ANSWER, "Thinking of orca-reasoning-5521."), api_key=MODEL_KEY,
                                   models=[MODEL], protocols=("openai",)).start()
    yield scripted
    await scripted.stop()


async def test_json_logs_parse_line_by_line_and_hold_no_text_or_secrets(tmp_path: Path,
                                                                         model: ScriptedModel) -> None:
    app = AppProcess(tmp_path / "data", tmp_path / "work", model_url=model.url, model=MODEL, model_api_key=MODEL_KEY,
                     env={"SECRETGPT_LOG_FORMAT": "json", "SECRETGPT_REQUIRE_LOGIN": "true"})
    try:
        await app.start()
        token = app.api_token
        async with httpx.AsyncClient(base_url=app.url, timeout=15.0) as anonymous:
            # Sign-in is on and the Host is a container's name: the probes still answer, the page does not.
            assert (await anonymous.get("/healthz", headers={"Host": "app1:8080"})).json() == {"status": "ok"}
            assert (await anonymous.get("/readyz", headers={"Host": "10.0.0.7"})).status_code == 200
            assert (await anonymous.get("/metrics")).status_code == 401
            assert (await anonymous.get("/", headers={"Host": "app1:8080"})).status_code == 400
        async with app.client() as client:
            async with event_stream(client, {"message": QUESTION}) as sse:
                frames = await sse.rest()
            assert frames[-1].type == "done"
            start = frames[0].data
            search = await client.get("/api/v1/conversations", params={"search": "walrus-secret-7731"})
            assert search.status_code == 200
            metrics = await client.get("/metrics")
            assert metrics.status_code == 200 and "secretgpt_streams_total" in metrics.text
        assert await app.terminate() in (0, -signal.SIGTERM)  # uvicorn re-raises the signal it caught
        lines = [line for line in app.log_path.read_text(encoding="utf-8").splitlines() if line.strip()]
    finally:
        app.cleanup()

    entries = [json.loads(line) for line in lines]  # every line, or this raises naming it
    assert len(entries) > 5
    assert all({"time", "level", "logger", "message"} <= set(e) for e in entries)
    assert {e["level"] for e in entries} <= {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}
    access = [e for e in entries if e["logger"] == "uvicorn.access"]
    assert any("/api/v1/chat/stream" in e["message"] for e in access)
    assert any('"GET /healthz' in e["message"] for e in access)
    assert any(e["logger"] == "uvicorn.error" for e in entries)
    ended = [e for e in entries if "ended: completed" in e["message"]]
    assert len(ended) == 1
    assert (ended[0]["stream_id"], ended[0]["conversation_id"]) == (start["stream_id"], start["conversation_id"])
    banner = [e for e in entries if "SecretGPT is running on" in e["message"]]
    assert len(banner) == 1 and str(tmp_path / "data" / "api_token") in banner[0]["message"]
    text = "\n".join(lines)
    for secret in (QUESTION, "walrus-secret-7731", ANSWER, "narwhal-answer-9902", "orca-reasoning-5521", token,
                   MODEL_KEY):
        assert secret not in text, secret
