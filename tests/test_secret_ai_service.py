"""`SecretAIService` over both model paths (the `protocol` fixture): the real `AsyncOpenAI` against
an OpenAI-only loopback host, the real `ChatSecret` against an Ollama-only one."""

from __future__ import annotations

import asyncio
import time

import pytest

from secretgpt.hub.tally import Tally
from secretgpt.records import ChatTurn, ChunkKind, StreamChunk, Usage
from secretgpt.services.loopback_model import LoopbackModelServer, Reply, Step
from secretgpt.services.secret_ai import Catalog, ErrorKind, ModelInfo, SecretAIError, SecretAIService

from tests.conftest import MODEL, SECRET_AI_KEY
from tests.support.app_process import free_port
from tests.support.scripted_model import ScriptedModel

HI = [ChatTurn(role="user", content="hi")]
INLINE = "<think>Is 2 < 3? Yes.</think>So the answer is <b>yes</b>."


Piece = StreamChunk | Usage


async def collect(service: SecretAIService, messages: list[ChatTurn] = HI, **kwargs: object
                  ) -> tuple[list[Piece], SecretAIError | None]:
    """Everything the service yields (the chunks, then the answer's `Usage`), and its error if any."""
    chunks: list[Piece] = []
    try:
        async for chunk in service.stream_invoke(messages, **kwargs):  # type: ignore[arg-type]
            chunks.append(chunk)
    except SecretAIError as exc:
        return chunks, exc
    return chunks, None


def text_of(chunks: list[Piece]) -> str:
    return "".join(c.content for c in chunks if isinstance(c, StreamChunk) and c.kind is ChunkKind.TEXT)


def think_of(chunks: list[Piece]) -> str:
    return "".join(c.content for c in chunks if isinstance(c, StreamChunk) and c.kind is ChunkKind.THINK)


def timed(chunks: list[Piece], streaming: bool = True) -> Tally:
    """The chunks read as the hub reads them: its one think timer."""
    tally = Tally(streaming)
    for chunk in chunks:
        if isinstance(chunk, StreamChunk):
            tally.add(chunk)
    tally.model_ended()
    return tally


def chunks_reply(*pieces: str) -> Reply:
    return Reply(steps=[Step("chunk", content=p) for p in pieces])


# --- answers ----------------------------------------------------------------------------------


async def test_thinking_field_is_requested_and_kept_apart(service, script: ScriptedModel, model_server,
                                                          protocol: str) -> None:
    reply = script.reply = Reply.of("The sky is blue because of Rayleigh scattering.",
                                    "Short wavelengths scatter more; that is the key point.")
    chunks, error = await collect(service)
    assert error is None
    (conn,) = model_server.connections
    request = conn.request
    assert conn.protocol == protocol and request["stream"] is True
    if protocol == "ollama":
        assert request["think"] is True
    else:  # token counts arrive in a last chunk only when asked for
        assert request["stream_options"] == {"include_usage": True}
    assert conn.headers["authorization"] == f"Bearer {SECRET_AI_KEY}"
    assert think_of(chunks) == reply.thinking
    assert text_of(chunks) == reply.text
    assert sum(isinstance(c, StreamChunk) and c.kind is ChunkKind.TEXT for c in chunks) > 1, \
        "the answer must arrive token by token"
    done = chunks[-1]
    assert isinstance(done, Usage)
    assert [isinstance(c, Usage) for c in chunks].count(True) == 1
    assert done.model == MODEL
    assert done.completion_tokens == len(reply.steps)
    assert done.prompt_tokens is not None
    assert done.done_reason == "stop"
    assert timed(chunks).think_seconds is not None


async def test_inline_think_tags_from_an_older_server(service, script: ScriptedModel) -> None:
    reply = script.reply = Reply.of("Forty-two.", "Counting carefully to be sure.", inline_think=True)
    chunks, error = await collect(service)
    assert error is None
    assert think_of(chunks) == reply.thinking
    assert text_of(chunks) == reply.text


async def test_inline_think_tags_split_at_every_position(service, script: ScriptedModel) -> None:
    for split in range(len(INLINE) + 1):
        script.reply = chunks_reply(INLINE[:split], INLINE[split:])
        chunks, error = await collect(service)
        assert error is None, split
        assert think_of(chunks) == "Is 2 < 3? Yes.", split
        assert text_of(chunks) == "So the answer is <b>yes</b>.", split


async def test_inline_think_tags_one_character_per_chunk(service, script: ScriptedModel, model_server) -> None:
    script.reply = chunks_reply(*INLINE)
    chunks, error = await collect(service)
    assert error is None
    assert model_server.connections[-1].chunks_sent == len(INLINE)
    assert think_of(chunks) == "Is 2 < 3? Yes."
    assert text_of(chunks) == "So the answer is <b>yes</b>."


async def test_unclosed_think_block_ends_cleanly(service, script: ScriptedModel) -> None:
    script.reply = chunks_reply("<think>I was still ", "thinking when the model ", "stopped</thi")
    chunks, error = await collect(service)
    assert error is None
    assert think_of(chunks) == "I was still thinking when the model stopped"
    assert text_of(chunks) == ""
    assert isinstance(chunks[-1], Usage) and timed(chunks).think_seconds is not None


async def test_non_streaming_request(service, script: ScriptedModel, model_server) -> None:
    reply = script.reply = Reply.of("All at once.", "No need to stream.")
    chunks, error = await collect(service, stream=False)
    assert error is None
    assert (text_of(chunks), think_of(chunks)) == (reply.text, reply.thinking)
    assert model_server.connections[-1].request["stream"] is False
    assert isinstance(chunks[-1], Usage) and chunks[-1].model == MODEL


async def test_conversation_is_sent_without_reasoning(service, model_server) -> None:
    turns = [
        ChatTurn(role="system", content="Be brief."),
        ChatTurn(role="user", content="Name a colour."),
        ChatTurn(role="assistant", content="Blue.", think="The user wants one colour."),
        ChatTurn(role="user", content="Another?"),
    ]
    _, error = await collect(service, turns)
    assert error is None
    sent = model_server.connections[-1].request["messages"]
    assert [(m["role"], m["content"]) for m in sent] == [(t.role, t.content) for t in turns]
    assert "The user wants one colour." not in str(sent)


@pytest.mark.parametrize("protocol", ["ollama"])  # only Ollama's API has a `think` switch
async def test_model_without_thinking_support_is_asked_again_without_it(service, script: ScriptedModel,
                                                                         model_server) -> None:
    def reply_for(request: dict) -> Reply:
        if request.get("think"):
            return Reply(status=400, error_body='{"error": "\\"loopback\\" does not support thinking"}')
        return Reply.of("Plain answer.")

    script.reply = reply_for
    chunks, error = await collect(service)
    assert error is None and text_of(chunks) == "Plain answer."
    assert [bool(c.request.get("think")) for c in model_server.connections] == [True, False]
    # Remembered: the next answer does not pay for the failed attempt again.
    chunks, error = await collect(service)
    assert error is None and text_of(chunks) == "Plain answer."
    assert len(model_server.connections) == 3 and not model_server.connections[-1].request.get("think")


# --- failures -------------------------------------------------------------------------------


async def test_error_line_mid_stream_keeps_the_partial_answer(service, script: ScriptedModel) -> None:
    script.reply = Reply.of("The first half of").then(Step("error", content="CUDA out of memory"))
    chunks, error = await collect(service)
    assert text_of(chunks) == "The first half of"
    assert error is not None and error.kind is ErrorKind.MODEL
    assert "CUDA out of memory" in error.message
    assert not any(isinstance(c, Usage) for c in chunks)


@pytest.mark.parametrize("stream", [True, False])
async def test_http_500(service, script: ScriptedModel, model_server, stream: bool) -> None:
    script.reply = Reply(status=500, error_message="model runner crashed")
    chunks, error = await collect(service, stream=stream)
    assert chunks == []
    assert error is not None and error.kind is ErrorKind.MODEL and error.status == 500
    assert "model runner crashed" in error.message and "500" in error.message
    # One request: the SDK's own retry loop (4 tries, 7 s of back-off) must not run.
    assert len(model_server.connections) == 1


@pytest.mark.parametrize("stream", [True, False])
async def test_wrong_api_key_is_an_auth_error(service, monkeypatch: pytest.MonkeyPatch, stream: bool) -> None:
    monkeypatch.setenv("SECRET_AI_API_KEY", "not-the-right-key")
    started = time.monotonic()
    chunks, error = await collect(service, stream=stream)
    assert chunks == []
    assert error is not None and error.kind is ErrorKind.AUTH and error.status == 401
    assert "SECRET_AI_API_KEY" in error.message
    assert "Received API Key" not in error.message and "sk-." not in error.message, "LiteLLM quotes the key"
    assert time.monotonic() - started < 5, "a rejected key must not be retried with back-off"


async def test_missing_api_key_is_an_auth_error(service, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SECRET_AI_API_KEY")
    _, error = await collect(service)
    assert error is not None and error.kind is ErrorKind.AUTH
    assert "SECRET_AI_API_KEY" in error.message


async def test_connection_dropped_mid_answer(service, script: ScriptedModel) -> None:
    script.reply = Reply.of("Half an answer, then").then(Step("drop"))
    chunks, error = await collect(service)
    assert text_of(chunks) == "Half an answer, then"
    assert error is not None and error.kind is ErrorKind.INTERRUPTED


async def test_unreachable_server(monkeypatch: pytest.MonkeyPatch, protocol: str) -> None:
    monkeypatch.setenv("SECRET_AI_API_KEY", "any")
    port = free_port()  # nobody listens on it
    service = SecretAIService(Catalog(models=[ModelInfo(name=MODEL, url=f"http://127.0.0.1:{port}",
                                                        protocol=protocol)]))
    _, error = await collect(service)
    assert error is not None and error.kind is ErrorKind.UNREACHABLE
    assert str(port) in error.message


async def test_read_timeout_is_a_timeout_error(model_server: LoopbackModelServer, script: ScriptedModel,
                                               monkeypatch: pytest.MonkeyPatch, protocol: str) -> None:
    monkeypatch.setenv("SECRET_AI_API_KEY", model_server.api_key or "")
    script.reply = Reply.of("Too late.", first_token_delay=5)
    service = SecretAIService(Catalog(models=[ModelInfo(name=MODEL, url=model_server.url, protocol=protocol)]),
                              read_timeout=0.3)
    _, error = await collect(service)
    assert error is not None and error.kind is ErrorKind.TIMEOUT


async def test_unknown_model_and_empty_catalog(service) -> None:
    _, error = await collect(service, model="no-such-model")
    assert error is not None and error.kind is ErrorKind.BAD_REQUEST and MODEL in error.message
    empty = SecretAIService(Catalog(error="Model discovery failed: node unreachable."))
    _, error = await collect(empty)
    assert error is not None and error.kind is ErrorKind.UNAVAILABLE
    assert error.message == "Model discovery failed: node unreachable."


async def test_closing_the_generator_closes_the_connection(service, script: ScriptedModel, model_server) -> None:
    script.reply = Reply.of("word " * 400, tokens_per_second=50)
    source = service.stream_invoke(HI)
    got = [await source.__anext__() for _ in range(3)]
    assert all(isinstance(c, StreamChunk) and c.kind is ChunkKind.TEXT for c in got)
    conn = model_server.connections[-1]
    closed_at = time.monotonic()
    await source.aclose()
    await asyncio.wait_for(conn.closed.wait(), 5)
    assert not conn.finished
    assert conn.closed_by_client_at is not None and conn.closed_by_client_at - closed_at < 0.5
