"""What differs between the two model paths, tested on each: reasoning shapes, usage, generation
options as each API expects them, and OpenAI-style errors in words a user can act on."""

from __future__ import annotations

import json

import httpx
import pytest

from secretgpt.records import ChatTurn, GenerationOptions, Usage
from secretgpt.services.loopback_model import LoopbackModelServer, Reply, Step
from secretgpt.services.secret_ai import ErrorKind, SecretAIService

from tests.conftest import MODEL
from tests.support.scripted_model import ScriptedModel
from tests.test_secret_ai_service import HI, collect, text_of, think_of, timed

REASONING = "First the facts, then the answer."
ANSWER = "The answer is 42."


@pytest.mark.parametrize("stream", [True, False], ids=["streaming", "whole"])
@pytest.mark.parametrize(("protocol", "shape"), [
    ("openai", "field"),  # delta.reasoning_content (vLLM's reasoning parser)
    ("openai", "reasoning"),  # delta.reasoning (newer vLLM, some proxies)
    ("openai", "inline"),  # <think>…</think> in delta.content
    ("ollama", "field"),  # message.thinking
    ("ollama", "inline"),
])
async def test_every_reasoning_shape_reaches_the_reasoning_block(service: SecretAIService, script: ScriptedModel,
                                                                 protocol: str, shape: str, stream: bool) -> None:
    script.reply = Reply.of(ANSWER, REASONING, inline_think=shape == "inline",
                            reasoning_field="reasoning" if shape == "reasoning" else "reasoning_content")
    chunks, error = await collect(service, stream=stream)
    assert error is None
    assert (think_of(chunks), text_of(chunks)) == (REASONING, ANSWER)
    assert "<think>" not in text_of(chunks) + think_of(chunks)
    done = chunks[-1]
    assert isinstance(done, Usage)
    # How long it reasoned is known when it streamed; a whole answer arrives at once.
    assert (timed(chunks, streaming=stream).think_seconds is not None) is stream


async def test_token_usage_is_read(service: SecretAIService, script: ScriptedModel) -> None:
    reply = script.reply = Reply.of(ANSWER, REASONING)
    chunks, error = await collect(service, [ChatTurn(role="user", content="x" * 400)])
    assert error is None
    usage = chunks[-1]
    assert isinstance(usage, Usage)
    assert usage.prompt_tokens == 100 and usage.completion_tokens == len(reply.steps)
    assert usage.done_reason == "stop"


@pytest.mark.parametrize("stream", [True, False], ids=["streaming", "whole"])
async def test_generation_options_are_sent_as_each_api_expects(service: SecretAIService, script: ScriptedModel,
                                                               model_server: LoopbackModelServer, protocol: str,
                                                               stream: bool) -> None:
    options = GenerationOptions(temperature=0.2, top_p=0.9, max_tokens=128, seed=7)
    turns = [ChatTurn(role="system", content="Be terse."), *HI]
    _, error = await collect(service, turns, stream=stream, options=options)
    assert error is None
    request = model_server.connections[-1].request
    assert request["messages"][0] == {"role": "system", "content": "Be terse."}
    if protocol == "openai":
        assert {k: request[k] for k in ("temperature", "top_p", "max_tokens", "seed")} == {
            "temperature": 0.2, "top_p": 0.9, "max_tokens": 128, "seed": 7}
        assert "options" not in request
    else:  # Ollama calls max tokens `num_predict`, inside `options`
        assert request["options"] == {"temperature": 0.2, "top_p": 0.9, "num_predict": 128, "seed": 7}


async def test_unset_options_are_not_sent(service: SecretAIService, model_server: LoopbackModelServer,
                                          protocol: str) -> None:
    _, error = await collect(service, options=GenerationOptions(temperature=1.0))
    assert error is None
    request = model_server.connections[-1].request
    sent = request if protocol == "openai" else request.get("options") or {}
    assert sent.get("temperature") == 1.0
    assert not {"top_p", "max_tokens", "seed", "num_predict"} & set(sent)


@pytest.mark.parametrize("protocol", ["openai"])
async def test_the_loopback_openai_host_answers_like_vllm_behind_litellm(model_server: LoopbackModelServer,
                                                                        script: ScriptedModel) -> None:
    """The test double must be realistic, or the tests above prove little."""
    script.reply = Reply.of("Hi there.", "Hmm.")
    headers = {"Authorization": f"Bearer {model_server.api_key}"}
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "stream": True,
            "stream_options": {"include_usage": True}}
    async with httpx.AsyncClient(base_url=model_server.url, headers=headers) as client:
        async with client.stream("POST", "/v1/chat/completions", json=body) as response:
            assert response.headers["content-type"] == "text/event-stream"
            lines = [line async for line in response.aiter_lines() if line]
        assert (await client.post("/api/chat", json=body)).json() == {"detail": "Not Found"}
        unauthorized = await client.get("/v1/models", headers={"Authorization": "Bearer sk-nope-9876"})
    assert lines[-1] == "data: [DONE]"
    events = [json.loads(line.removeprefix("data: ")) for line in lines[:-1]]
    assert events[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert events[1]["choices"][0]["delta"] == {"reasoning_content": "Hmm."}
    assert [e["choices"][0]["finish_reason"] for e in events[:-1]][-1] == "stop"
    assert events[-1]["choices"] == [] and events[-1]["usage"]["completion_tokens"] == 3
    assert all(e["object"] == "chat.completion.chunk" for e in events)
    assert unauthorized.status_code == 401
    assert unauthorized.json()["error"]["type"] == "auth_error"
    assert unauthorized.json()["error"]["message"].startswith("Authentication Error, Invalid proxy server token")


# --- OpenAI-style errors --------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", ["openai"])
async def test_fastapi_404_detail_is_read(service: SecretAIService, script: ScriptedModel) -> None:
    script.reply = Reply(status=404, error_body='{"detail": "Not Found"}')
    _, error = await collect(service)
    assert error is not None and error.kind is ErrorKind.MODEL and error.status == 404
    assert "HTTP 404): Not Found." in error.message and "SECRET_AI_PROTOCOL" in error.message


@pytest.mark.parametrize("protocol", ["openai"])
async def test_vllm_unknown_model(service: SecretAIService, script: ScriptedModel) -> None:
    script.reply = Reply(status=404, error_message=f"The model `{MODEL}` does not exist.")
    _, error = await collect(service, stream=False)
    assert error is not None and f"The model `{MODEL}` does not exist." in error.message
    assert "SECRET_AI_MODEL" in error.message


async def test_error_object_inside_the_stream(service: SecretAIService, script: ScriptedModel, protocol: str) -> None:
    # OpenAI path: `data: {"error": {...}}` mid-stream (vLLM); Ollama path: an `{"error": …}` line.
    script.reply = Reply.of("Partial").then(Step("error", content="the engine died"))
    chunks, error = await collect(service)
    assert text_of(chunks) == "Partial"
    assert error is not None and error.kind is ErrorKind.MODEL
    assert error.message == "The model stopped with an error: the engine died"


@pytest.mark.parametrize("status", [401, 403, 429, 500, 503])
async def test_status_errors_read_the_same_on_both_paths(service: SecretAIService, script: ScriptedModel,
                                                         protocol: str, status: int) -> None:
    script.reply = Reply(status=status, error_message="detail from the server")
    _, error = await collect(service)
    assert error is not None and error.status == status
    expected = {401: ErrorKind.AUTH, 403: ErrorKind.AUTH, 429: ErrorKind.OVERLOADED}.get(status, ErrorKind.MODEL)
    assert error.kind is expected
    assert f"HTTP {status}" in error.message and model_url_in(error.message)
    if status >= 500:
        assert "detail from the server" in error.message


def model_url_in(message: str) -> bool:
    return "the model server at http://127.0.0.1:" in message.lower()
