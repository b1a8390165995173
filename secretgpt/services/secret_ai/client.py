"""`SecretAIService`: the one place that talks to the model, over `AsyncOpenAI` or `ChatSecret`."""

from __future__ import annotations

import logging
import types
from collections.abc import AsyncIterator, Callable
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from openai import AsyncOpenAI

from .discovery import Catalog
from .errors import map_error
from .models import (
    Answer, ChatTurn, ChunkKind, ErrorKind, GenerationOptions, ModelInfo, Protocol, SecretAIError, StreamChunk,
)
from .openai_client import Delta, openai_deltas, secret_openai_client
from .protocol import ProtocolDetector
from .streaming_handler import ThinkTagParser

log = logging.getLogger(__name__)

ChatModelFactory = Callable[[ModelInfo, float], BaseChatModel]
OpenAIFactory = Callable[[ModelInfo, float], AsyncOpenAI]


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
    """Streams answers from a model server over the API it speaks: OpenAI-compatible chat
    completions (`AsyncOpenAI`) or Ollama's /api/chat (`ChatSecret`). Both paths feed one
    `ThinkTagParser`, so reasoning reads the same whichever way it arrives."""

    def __init__(self, catalog: Catalog, factory: ChatModelFactory = secret_chat_model, read_timeout: float = 150.0,
                 *, openai_factory: OpenAIFactory = secret_openai_client,
                 detector: ProtocolDetector | None = None) -> None:
        self.catalog = catalog
        self._factory = factory
        self._openai_factory = openai_factory
        self._read_timeout = read_timeout
        self.detector = detector or ProtocolDetector()
        self._clients: dict[tuple[str, str], BaseChatModel] = {}
        self._openai_clients: dict[str, AsyncOpenAI] = {}
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

    async def protocol(self, info: ModelInfo) -> Protocol:
        return info.protocol or await self.detector.protocol_for(info.url)

    def _client(self, info: ModelInfo) -> BaseChatModel:
        key = (info.name, info.url)
        if key not in self._clients:
            self._clients[key] = self._factory(info, self._read_timeout)
        return self._clients[key]

    def _openai_client(self, info: ModelInfo) -> AsyncOpenAI:
        if info.url not in self._openai_clients:
            self._openai_clients[info.url] = self._openai_factory(info, self._read_timeout)
        return self._openai_clients[info.url]

    async def aclose(self) -> None:
        for client in self._openai_clients.values():
            await client.close()
        self._openai_clients.clear()

    async def stream_invoke(
        self, messages: list[ChatTurn], model: str | None = None, *, stream: bool = True,
        options: GenerationOptions | None = None,
    ) -> AsyncIterator[StreamChunk]:
        """Yield THINK/TEXT chunks as they arrive, then one DONE with usage.

        Raises SecretAIError. Closing this generator (or cancelling the task iterating it) closes
        the HTTP connection to the model server.
        """
        info = self.resolve(model)
        parser = ThinkTagParser()
        usage: dict[str, Any] = {"model": info.name}
        source: AsyncIterator[Delta] | None = None
        try:
            if await self.protocol(info) == "openai":
                source = openai_deltas(self._openai_client(info), info, messages, stream=stream, options=options,
                                       usage=usage)
            else:
                source = self._ollama_deltas(info, messages, stream, options, usage)
            async for reasoning, content in source:
                if reasoning:
                    for piece in parser.feed_reasoning(reasoning):
                        yield piece
                if content:
                    for piece in parser.feed(content):
                        yield piece
        except SecretAIError:
            raise
        except Exception as exc:
            raise map_error(exc, info) from exc
        finally:
            if source is not None:
                await source.aclose()  # type: ignore[attr-defined]
        for piece in parser.finish():
            yield piece
        # A whole answer arrives at once: how long the model thought is not observable then.
        usage["think_seconds"] = parser.think_seconds if stream else None
        yield StreamChunk(ChunkKind.DONE, usage=usage)

    async def _ollama_deltas(self, info: ModelInfo, messages: list[ChatTurn], stream: bool,
                             options: GenerationOptions | None, usage: dict[str, Any]) -> AsyncIterator[Delta]:
        llm = self._client(info)  # ChatSecret checks SECRET_AI_API_KEY when it is built
        lc_messages = to_langchain(messages)
        kwargs: dict[str, Any] = {"stream": stream}
        sent = ollama_options(options)
        if sent:
            kwargs["options"] = sent
        if info.name in self._no_reasoning:
            kwargs["reasoning"] = None
        received = 0
        while True:
            source = llm.astream(lc_messages, **kwargs)
            try:
                async for chunk in source:
                    received += 1
                    reasoning = chunk.additional_kwargs.get("reasoning_content") if chunk.additional_kwargs else None
                    content = chunk.content
                    yield reasoning, content if isinstance(content, str) else str(content)
                    if chunk.usage_metadata:
                        usage["prompt_tokens"] = chunk.usage_metadata.get("input_tokens")
                        usage["completion_tokens"] = chunk.usage_metadata.get("output_tokens")
                    if chunk.response_metadata.get("done"):
                        usage["done_reason"] = chunk.response_metadata.get("done_reason")
                return
            except Exception as exc:
                error = map_error(exc, info)
                if received == 0 and "support thinking" in error.message and "reasoning" not in kwargs:
                    self._no_reasoning.add(info.name)
                    kwargs["reasoning"] = None
                    continue
                raise error from exc
            finally:
                await source.aclose()

    async def invoke(self, messages: list[ChatTurn], model: str | None = None, *,
                     options: GenerationOptions | None = None) -> Answer:
        """The whole answer from one non-streaming request."""
        text: list[str] = []
        think: list[str] = []
        usage: dict[str, object] = {}
        async for chunk in self.stream_invoke(messages, model, stream=False, options=options):
            if chunk.kind is ChunkKind.TEXT:
                text.append(chunk.content)
            elif chunk.kind is ChunkKind.THINK:
                think.append(chunk.content)
            else:
                usage = chunk.usage
        return Answer(text="".join(text), think="".join(think), usage=usage)


def ollama_options(options: GenerationOptions | None) -> dict[str, float | int]:
    """Ollama's names for the generation options (`num_predict` is its max tokens)."""
    sent = options.sent() if options else {}
    if "max_tokens" in sent:
        sent["num_predict"] = sent.pop("max_tokens")
    return sent
