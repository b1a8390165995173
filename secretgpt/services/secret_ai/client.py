"""`SecretAIService`: the one place that talks to the model, through `ChatSecret`."""

from __future__ import annotations

import json
import logging
import types
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from .discovery import Catalog
from .models import Answer, ChatTurn, ChunkKind, ErrorKind, ModelInfo, SecretAIError, StreamChunk
from .streaming_handler import ThinkTagParser

log = logging.getLogger(__name__)

ChatModelFactory = Callable[[ModelInfo, float], BaseChatModel]


def secret_chat_model(model: ModelInfo, read_timeout: float) -> BaseChatModel:
    """`ChatSecret` reads SECRET_AI_API_KEY itself; the key never passes through our code."""
    from secret_ai_sdk import ChatSecret

    # Our own idle/first-token timeouts govern; the SDK's 30 s default would cut slow first tokens.
    llm = ChatSecret(model=model.name, base_url=model.url, reasoning=True, client_kwargs={"timeout": read_timeout})
    _without_sdk_retries(llm)
    return llm


def _without_sdk_retries(llm: BaseChatModel) -> None:
    """Undo the SDK's retry wrapper on `chat`.

    It retries every failed non-streaming request 3 times with 1 + 2 + 4 s back-off, a rejected key
    and a model error included (streamed requests are never retried). That made a wrong key or the
    streaming -> non-streaming fallback take 7 s and 4 requests. The stream lifecycle decides
    about retries (one fallback) and time limits instead.
    """
    for client in (getattr(llm, "_client", None), getattr(llm, "_async_client", None)):
        unwrapped = getattr(type(client).chat, "__wrapped__", None) if client is not None else None
        if unwrapped is not None:
            client.chat = types.MethodType(unwrapped, client)  # type: ignore[union-attr]


def demo_chat_model(model: ModelInfo, read_timeout: float) -> BaseChatModel:
    """The offline demo speaks the same protocol but needs no key, so the plain parent class."""
    from langchain_ollama import ChatOllama

    return ChatOllama(model=model.name, base_url=model.url, reasoning=True, client_kwargs={"timeout": read_timeout})


def to_langchain(messages: list[ChatTurn]) -> list[BaseMessage]:
    kinds = {"system": SystemMessage, "user": HumanMessage, "assistant": AIMessage}
    return [kinds[m.role](content=m.content) for m in messages]


class SecretAIService:
    def __init__(self, catalog: Catalog, factory: ChatModelFactory = secret_chat_model, read_timeout: float = 150.0):
        self.catalog = catalog
        self._factory = factory
        self._read_timeout = read_timeout
        self._clients: dict[tuple[str, str], BaseChatModel] = {}
        # Models whose server answered "does not support thinking": asked again without it.
        self._no_reasoning: set[str] = set()

    def resolve(self, model: str | None) -> ModelInfo:
        if not self.catalog.models:
            raise SecretAIError(ErrorKind.UNAVAILABLE, self.catalog.error or "No model is available yet.")
        found = self.catalog.find(model)
        if found is None:
            raise SecretAIError(ErrorKind.BAD_REQUEST,
                                f"Unknown model {model!r}. Available: {', '.join(self.catalog.names)}")
        return found

    def _client(self, info: ModelInfo) -> BaseChatModel:
        key = (info.name, info.url)
        if key not in self._clients:
            self._clients[key] = self._factory(info, self._read_timeout)
        return self._clients[key]

    async def stream_invoke(
        self, messages: list[ChatTurn], model: str | None = None, *, stream: bool = True
    ) -> AsyncIterator[StreamChunk]:
        """Yield THINK/TEXT chunks as they arrive, then one DONE with usage.

        Raises SecretAIError. Closing this generator (or cancelling the task iterating it) closes
        the HTTP connection to the model server.
        """
        info = self.resolve(model)
        try:
            llm = self._client(info)
        except Exception as exc:  # ChatSecret checks SECRET_AI_API_KEY when it is built
            raise map_error(exc, info) from exc
        lc_messages = to_langchain(messages)
        parser = ThinkTagParser()
        usage: dict[str, Any] = {"model": info.name}
        received = 0
        kwargs: dict[str, Any] = {"stream": stream}
        if info.name in self._no_reasoning:
            kwargs["reasoning"] = None
        while True:
            try:
                source = llm.astream(lc_messages, **kwargs)
                try:
                    async for chunk in source:
                        received += 1
                        reasoning = chunk.additional_kwargs.get("reasoning_content") if chunk.additional_kwargs else None
                        if reasoning:
                            for piece in parser.feed_reasoning(reasoning):
                                yield piece
                        content = chunk.content
                        if content:
                            for piece in parser.feed(content if isinstance(content, str) else str(content)):
                                yield piece
                        if chunk.usage_metadata:
                            usage["prompt_tokens"] = chunk.usage_metadata.get("input_tokens")
                            usage["completion_tokens"] = chunk.usage_metadata.get("output_tokens")
                        if chunk.response_metadata.get("done"):
                            usage["done_reason"] = chunk.response_metadata.get("done_reason")
                finally:
                    await source.aclose()
                break
            except SecretAIError:
                raise
            except Exception as exc:
                error = map_error(exc, info)
                if received == 0 and "support thinking" in error.message and "reasoning" not in kwargs:
                    self._no_reasoning.add(info.name)
                    kwargs["reasoning"] = None
                    continue
                raise error from exc
        for piece in parser.finish():
            yield piece
        # A whole answer arrives at once: how long the model thought is not observable then.
        usage["think_seconds"] = parser.think_seconds if stream else None
        yield StreamChunk(ChunkKind.DONE, usage=usage)

    async def invoke(self, messages: list[ChatTurn], model: str | None = None) -> Answer:
        """The whole answer from one non-streaming request."""
        text: list[str] = []
        think: list[str] = []
        usage: dict[str, object] = {}
        async for chunk in self.stream_invoke(messages, model, stream=False):
            if chunk.kind is ChunkKind.TEXT:
                text.append(chunk.content)
            elif chunk.kind is ChunkKind.THINK:
                think.append(chunk.content)
            else:
                usage = chunk.usage
        return Answer(text="".join(text), think="".join(think), usage=usage)


def map_error(exc: BaseException, info: ModelInfo) -> SecretAIError:
    """Raw SDK/httpx/ollama errors -> an error kind and words a user can act on."""
    import ollama
    from secret_ai_sdk import secret_ai_ex as sdk

    where = "the demo model" if info.demo else f"the model server at {info.url}"
    for inner in _causes(exc):
        if isinstance(inner, SecretAIError):
            return inner
        if isinstance(inner, sdk.SecretAIAPIKeyMissingError):
            return SecretAIError(ErrorKind.AUTH, "No API key: set SECRET_AI_API_KEY and restart.")
        if isinstance(inner, ollama.ResponseError):
            status = inner.status_code
            detail = _short(inner.error)
            if status in (401, 403):
                return SecretAIError(ErrorKind.AUTH, f"{where.capitalize()} rejected the API key (HTTP {status}). "
                                     "Check SECRET_AI_API_KEY.", status=status)
            if status == 429:
                return SecretAIError(ErrorKind.OVERLOADED, f"{where.capitalize()} is busy (HTTP 429). Try again shortly.",
                                     status=status)
            if status == -1:
                return SecretAIError(ErrorKind.MODEL, f"The model stopped with an error: {detail}")
            return SecretAIError(ErrorKind.MODEL, f"{where.capitalize()} answered with an error (HTTP {status}): {detail}",
                                 status=status)
        if isinstance(inner, (httpx.ConnectError, httpx.ConnectTimeout, sdk.SecretAIConnectionError)):
            return SecretAIError(ErrorKind.UNREACHABLE, f"Could not reach {where}.")
        if isinstance(inner, (httpx.TimeoutException, sdk.SecretAITimeoutError)):
            return SecretAIError(ErrorKind.TIMEOUT, f"{where.capitalize()} stopped responding (timed out).")
        if isinstance(inner, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)):
            return SecretAIError(ErrorKind.INTERRUPTED, f"The connection to {where} dropped mid-answer.")
        if isinstance(inner, json.JSONDecodeError):
            return SecretAIError(ErrorKind.MODEL, f"{where.capitalize()} sent a malformed reply.")
    return SecretAIError(ErrorKind.MODEL, f"Unexpected error from {where}: {type(exc).__name__}: {_short(str(exc))}")


def _causes(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        original = getattr(current, "original_error", None)
        current = original if isinstance(original, BaseException) else (current.__cause__ or current.__context__)
    return chain


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
