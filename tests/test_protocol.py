"""SECRET_AI_PROTOCOL=auto: which API a host speaks, asked once per host; discovery on either API."""

from __future__ import annotations


import pytest

from secretgpt.records import ChatTurn, StreamChunk
from secretgpt.services.loopback_model import LoopbackModelServer, Reply
from secretgpt.services.secret_ai import (
    Catalog, ErrorKind, ModelInfo, ProtocolDetector, SecretAIError, SecretAIService, discover, is_chat_model,
)
from tests.support.app_process import free_port

KEY = "probe-key"
HI = [ChatTurn(role="user", content="hi")]


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_AI_API_KEY", KEY)


def serve(protocols: set[str], **kwargs: object) -> LoopbackModelServer:
    return LoopbackModelServer(lambda request: Reply.of("Hello."), api_key=KEY, protocols=protocols,
                                **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(("protocols", "expected", "asked"), [
    ({"openai"}, "openai", ["GET /v1/models", "GET /api/version"]),
    # Ollama also serves /v1 (its compatibility layer): a host answering both is an Ollama host and
    # keeps ChatSecret, its native client.
    ({"openai", "ollama"}, "ollama", ["GET /v1/models", "GET /api/version"]),
    ({"ollama"}, "ollama", ["GET /v1/models", "GET /api/tags"]),
], ids=["openai-only", "both", "ollama-only"])
async def test_auto_asks_v1_models_first_then_ollama(protocols: set[str], expected: str, asked: list[str]) -> None:
    async with serve(protocols) as server:
        detector = ProtocolDetector()
        assert await detector.protocol_for(server.url) == expected
        assert await detector.protocol_for(server.url + "/") == expected  # the same host: remembered
        assert server.requests == asked
        assert detector.known(server.url) == expected


async def test_ollama_version_is_the_last_try() -> None:
    async with serve({"ollama"}) as server:
        server.models = []  # /api/tags still answers; make it say nothing useful
        detector = ProtocolDetector()
        assert await detector.protocol_for(server.url) == "ollama"


async def test_a_fixed_choice_asks_nothing() -> None:
    async with serve({"openai"}) as server:
        assert await ProtocolDetector("ollama").protocol_for(server.url) == "ollama"
        assert server.requests == []


async def test_neither_api_names_both_tries() -> None:
    async with serve(set()) as server:  # answers 404 to everything, like a plain web server
        with pytest.raises(SecretAIError) as caught:
            await ProtocolDetector().protocol_for(server.url)
    message = caught.value.message
    assert caught.value.kind is ErrorKind.UNAVAILABLE
    assert "GET /v1/models: HTTP 404" in message and "GET /api/tags: HTTP 404" in message
    assert "SECRET_AI_PROTOCOL" in message and server.url in message


async def test_an_unreachable_host_names_both_tries_and_is_asked_again_later() -> None:
    port = free_port()  # nobody listens on it
    detector = ProtocolDetector()
    with pytest.raises(SecretAIError) as caught:
        await detector.protocol_for(f"http://127.0.0.1:{port}")
    assert caught.value.kind is ErrorKind.UNREACHABLE
    assert "/v1/models" in caught.value.message and "/api/tags" in caught.value.message
    assert detector.known(f"http://127.0.0.1:{port}") is None  # failures are not remembered


async def test_a_rejected_key_on_an_openai_only_host_is_still_recognised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_AI_API_KEY", "sk-wrong-key-1234")
    async with serve({"openai"}) as server:
        service = SecretAIService(Catalog(models=[ModelInfo(name="loopback", url=server.url)]), read_timeout=5)
        try:
            with pytest.raises(SecretAIError) as caught:
                async for _ in service.stream_invoke(HI):
                    pass
        finally:
            await service.aclose()
        # LiteLLM answered 401 to /v1/models and the app still knew the host for what it is: the chat
        # request went to /v1/chat/completions and its error names the key, without quoting it.
        assert server.requests == ["GET /v1/models", "GET /api/tags", "GET /api/version",
                                   "POST /v1/chat/completions"]
    assert caught.value.kind is ErrorKind.AUTH and "SECRET_AI_API_KEY" in caught.value.message
    assert "1234" not in caught.value.message and "Received API Key" not in caught.value.message


async def test_a_rejected_key_everywhere_is_an_auth_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_AI_API_KEY", "wrong")
    async with serve({"openai", "ollama"}) as server:
        with pytest.raises(SecretAIError) as caught:
            await ProtocolDetector().protocol_for(server.url)
    assert caught.value.kind is ErrorKind.AUTH and "SECRET_AI_API_KEY" in caught.value.message


async def whole_answer(service: SecretAIService, model: str | None = None) -> str:
    """The answer's text from one non-streaming request."""
    chunks = [c async for c in service.stream_invoke(HI, model, stream=False)]
    return "".join(c.content for c in chunks if isinstance(c, StreamChunk))


async def test_service_answers_over_whatever_the_host_speaks() -> None:
    for protocols in ({"openai"}, {"ollama"}):
        async with serve(protocols) as server:
            service = SecretAIService(Catalog(models=[ModelInfo(name="loopback", url=server.url)]), read_timeout=5)
            try:
                text = await whole_answer(service)
            finally:
                await service.aclose()
            assert text == "Hello."
            assert server.connections[-1].protocol == next(iter(protocols))


# --- discovery ------------------------------------------------------------------------------------

MODELS = ["deepseek-r1:70b", "llama3.3:70b", "whisper-large-v3", "kokoro-tts", "nomic-embed-text",
          "bge-reranker-v2-m3", "text-embedding-3-small"]


@pytest.mark.parametrize("protocols", [{"openai"}, {"ollama"}], ids=["openai", "ollama"])
async def test_discovery_lists_chat_models_only(protocols: set[str]) -> None:
    async with serve(protocols, models=MODELS) as server:
        catalog = await discover(server.url, None, KEY, ProtocolDetector())
    assert catalog.error is None
    assert catalog.names == ["deepseek-r1:70b", "llama3.3:70b"]
    protocol = next(iter(protocols))
    assert all(m.protocol == protocol for m in catalog.models)
    listed = "GET /v1/models" if protocol == "openai" else "GET /api/tags"
    after = server.requests[len(server.requests) - server.requests[::-1].index(listed):]  # after the last listing
    # An Ollama host is then asked what each chat model can do (whether it sees images).
    assert after == (["POST /api/show"] * 2 if protocol == "ollama" else [])


async def test_a_given_model_learns_its_hosts_protocol_at_discovery() -> None:
    async with serve({"openai"}) as server:
        catalog = await discover(server.url, "my-model", KEY, ProtocolDetector())
    assert [(m.name, m.protocol) for m in catalog.models] == [("my-model", "openai")]


async def test_a_given_model_on_a_host_that_is_down_stays_listed() -> None:
    port = free_port()  # nobody listens on it
    catalog = await discover(f"http://127.0.0.1:{port}", "my-model", KEY, ProtocolDetector())
    # Asked again on first use, whose error then names both tries.
    assert [(m.name, m.protocol) for m in catalog.models] == [("my-model", None)]


async def test_discovery_on_a_host_speaking_neither_says_what_it_tried() -> None:
    async with serve(set()) as server:
        catalog = await discover(server.url, None, KEY, ProtocolDetector())
    assert catalog.models == [] and catalog.error is not None
    assert "/v1/models" in catalog.error and "/api/tags" in catalog.error and "SECRET_AI_PROTOCOL" in catalog.error


def test_non_chat_models_are_recognised() -> None:
    assert [n for n in MODELS if is_chat_model(n)] == ["deepseek-r1:70b", "llama3.3:70b"]
    assert is_chat_model("qwen3:32b") and is_chat_model("gemma3:27b")


async def test_hosts_from_the_secret_network_contract_go_through_the_same_choice(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The contract itself is unreachable here: a stand-in for the SDK's `Secret` (the network edge)
    lists two models on two hosts, one speaking each API."""
    import secret_ai_sdk

    async with serve({"openai"}, models=["deepseek-r1:70b"]) as openai_host, \
            serve({"ollama"}, models=["llama3.3:70b"]) as ollama_host:
        urls = {"deepseek-r1:70b": [openai_host.url], "llama3.3:70b": [ollama_host.url], "whisper-large-v3": []}

        class Contract:
            def get_models(self) -> list[str]:
                return list(urls)

            def get_urls(self, model: str) -> list[str]:
                return urls[model]

        monkeypatch.setattr(secret_ai_sdk, "Secret", Contract)
        catalog = await discover(None, None, KEY, ProtocolDetector())
        assert [(m.name, m.url, m.protocol) for m in catalog.models] == [
            ("deepseek-r1:70b", openai_host.url, "openai"), ("llama3.3:70b", ollama_host.url, "ollama")]
        service = SecretAIService(catalog, read_timeout=5)
        try:
            for model in catalog.names:
                assert await whole_answer(service, model) == "Hello."
        finally:
            await service.aclose()
        assert [c.protocol for c in openai_host.connections + ollama_host.connections] == ["openai", "ollama"]
