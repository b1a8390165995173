"""Model discovery that recovers: a model host that comes up after the app is found without a
restart, and until then a chat request is refused with what was tried and the setting that fits."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from secretgpt.config import Settings
from secretgpt.interfaces.runtime import Runtime
from secretgpt.services.loopback_model import Reply
from secretgpt.services.secret_ai import ErrorKind, ProtocolDetector, SecretAIError, discover
from secretgpt.services.secret_ai.discovery import MAX_RETRY, retry_delays
from tests.conftest import OWNER, eventually
from tests.support.app_process import free_port
from tests.support.scripted_model import ScriptedModel

KEY = "discovery-test-key"


def late_model(models: list[str] | None = None, api_key: str = KEY) -> ScriptedModel:
    return ScriptedModel(Reply.of("Late, but here."), api_key=api_key, models=models or ["late-model"],
                         protocols={"openai"})


async def test_a_model_host_that_starts_after_the_app_is_found(
        make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()  # nobody listens on it yet
    monkeypatch.setenv("SECRET_AI_API_KEY", KEY)
    runtime = Runtime(make_settings(secret_ai_url=f"http://127.0.0.1:{port}", secret_ai_api_key=KEY))
    hub = await runtime.start()
    model = late_model()
    try:
        await eventually(lambda: "Could not reach" in (hub.catalog.error or ""), what="a failed first discovery")
        error = hub.catalog.error or ""
        # The hint fits the failure: the host is down, so its address is what to check.
        assert "SECRET_AI_URL" in error and "SECRET_AI_MODEL" not in error
        assert "keeps looking" in error
        with pytest.raises(SecretAIError) as refused:
            await hub.send("Anyone there?", owner=OWNER)
        assert refused.value.kind is ErrorKind.UNAVAILABLE  # the API's 503
        assert "GET /v1/models" in refused.value.message  # what was tried

        await model.start(port=port)
        await eventually(lambda: hub.catalog.names == ["late-model"], timeout=15, what="the late host's model")
        assert hub.catalog.error is None
        record = await (await hub.send("Anyone there?", owner=OWNER)).wait()
        assert record.text == "Late, but here."
    finally:
        await runtime.stop()
        await model.stop()


def test_retries_back_off_to_at_most_thirty_seconds_apart() -> None:
    assert list(itertools.islice(retry_delays(), 8)) == [1, 2, 4, 8, 16, 30, 30, 30]
    assert MAX_RETRY == 30


async def test_a_host_that_rejects_the_key_names_the_key() -> None:
    async with late_model(api_key="the-right-key").server as server:
        catalog = await discover(server.url, None, "a-wrong-key", ProtocolDetector())
    assert not catalog.models
    assert "SECRET_AI_API_KEY" in (catalog.error or "") and "SECRET_AI_MODEL" not in (catalog.error or "")
    assert "a-wrong-key" not in (catalog.error or "")


async def test_a_host_without_chat_models_names_the_model_setting() -> None:
    async with late_model(models=["whisper-large-v3"]).server as server:
        catalog = await discover(server.url, None, KEY, ProtocolDetector())
    assert not catalog.models
    assert "lists no chat models" in (catalog.error or "") and "SECRET_AI_MODEL" in (catalog.error or "")


async def test_an_ollama_host_says_which_models_see_images() -> None:
    from secretgpt.records import can_see_images

    scripted = ScriptedModel(Reply.of("Hi."), api_key=None, models=["eyes", "qwen3-vl:32b", "plain"],
                             protocols={"ollama"})
    scripted.server.vision_models = {"eyes"}
    async with scripted.server as server:
        catalog = await discover(server.url, None, KEY, ProtocolDetector())
    seen = {m.name: m.vision for m in catalog.models}
    # What the host says wins over the name, both ways.
    assert seen == {"eyes": True, "qwen3-vl:32b": False, "plain": False}
    assert can_see_images("eyes", seen["eyes"]) and not can_see_images("qwen3-vl:32b", seen["qwen3-vl:32b"])
    assert "POST /api/show" in server.requests


async def test_an_openai_host_leaves_it_to_the_name() -> None:
    from secretgpt.records import can_see_images

    async with late_model(models=["qwen3-vl:32b", "llama3.3:70b"]).server as server:
        catalog = await discover(server.url, None, KEY, ProtocolDetector())
    assert [(m.name, m.vision, can_see_images(m.name, m.vision)) for m in catalog.models] == [
        ("qwen3-vl:32b", None, True), ("llama3.3:70b", None, False)]
