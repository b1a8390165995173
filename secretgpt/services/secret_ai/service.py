"""`SecretAIService`: the one place that talks to the model, over `AsyncOpenAI` or `ChatSecret`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from langchain_core.language_models.chat_models import BaseChatModel
from openai import AsyncOpenAI

from ..attestation.pinning import KeyGate
from ...records import ChatTurn, GenerationOptions, StreamChunk, Usage
from ...records import SurrogateMender
from ...records import Catalog, ModelApi, ModelInfo
from .errors import ErrorKind, SecretAIError, map_error
from .ollama_client import ChatModelFactory, ollama_deltas, secret_chat_model
from .openai_client import openai_deltas, secret_openai_client
from .protocol import ProtocolDetector
from .think_tags import Delta, ThinkTagParser

log = logging.getLogger(__name__)

OpenAIFactory = Callable[[ModelInfo, float, Path | None, KeyGate | None], AsyncOpenAI]


class SecretAIService:
    """Streams answers from a model server over the API it speaks: OpenAI-compatible chat
    completions (`AsyncOpenAI`) or Ollama's /api/chat (`ChatSecret`). Both paths feed one
    `ThinkTagParser`, so reasoning reads the same whichever way it arrives."""

    def __init__(self, catalog: Catalog, factory: ChatModelFactory = secret_chat_model, read_timeout: float = 150.0,
                 *, openai_factory: OpenAIFactory = secret_openai_client,
                 detector: ProtocolDetector | None = None, ca_bundle: Path | None = None,
                 gate: KeyGate | None = None) -> None:
        self.catalog = catalog
        # Checks every model connection's key at its handshake (None: unchecked, for tests of the paths).
        self.gate = gate
        self._ca_bundle = ca_bundle  # SECRET_AI_CA_BUNDLE, for both model paths
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

    async def prepare(self, model: str | None = None) -> None:
        """Build `model`'s client (None: the default model's) before its first answer needs it.
        The first ChatSecret imports secret_ai_sdk and, through betterproto, pkg_resources: half a
        second or more, which the first answer on the Ollama path would otherwise wait for (on a
        thread here, so the loop goes on serving)."""
        try:
            info = self.resolve(model)
            if await self.protocol(info) == "openai":
                self._openai_client(info)
            else:
                await asyncio.to_thread(self._client, info)
        except SecretAIError as exc:  # the first answer says why; nothing to prepare meanwhile
            log.debug("no client prepared for %s: %s", model or "the default model", exc.kind)

    async def protocol(self, info: ModelInfo) -> ModelApi:
        return info.protocol or await self.detector.protocol_for(info.url)

    def _client(self, info: ModelInfo) -> BaseChatModel:
        key = (info.name, info.url)
        if key not in self._clients:
            self._clients[key] = self._factory(info, self._read_timeout, self._ca_bundle, self.gate)
        return self._clients[key]

    def _openai_client(self, info: ModelInfo) -> AsyncOpenAI:
        if info.url not in self._openai_clients:
            self._openai_clients[info.url] = self._openai_factory(info, self._read_timeout, self._ca_bundle,
                                                                   self.gate)
        return self._openai_clients[info.url]

    async def aclose(self) -> None:
        for client in self._openai_clients.values():
            await client.close()
        self._openai_clients.clear()

    async def stream_invoke(
        self, messages: list[ChatTurn], model: str | None = None, *, stream: bool = True,
        options: GenerationOptions | None = None,
    ) -> AsyncIterator[StreamChunk | Usage]:
        """Yield THINK/TEXT chunks as they arrive, then the answer's `Usage`.

        `stream=False` asks for the whole answer in one response (still yielded as chunks).
        Raises SecretAIError. Closing this generator (or cancelling the task iterating it) closes
        the HTTP connection to the model server.
        """
        info = self.resolve(model)
        parser = ThinkTagParser()
        # Where model text enters the app: a lone surrogate (a JSON `\ud800` escape) becomes
        # U+FFFD here, before the hash chain, the store or the page could fail on it.
        reasoning_text, content_text = SurrogateMender(), SurrogateMender()
        usage = Usage(model=info.name)
        source: AsyncIterator[Delta] | None = None
        try:
            if await self.protocol(info) == "openai":
                source = openai_deltas(self._openai_client(info), info, messages, stream=stream, options=options,
                                       usage=usage)
            else:
                # ChatSecret checks SECRET_AI_API_KEY when it is built.
                source = ollama_deltas(self._client(info), info, messages, stream=stream, options=options,
                                       usage=usage, no_reasoning=self._no_reasoning)
            async for reasoning, content in source:
                if reasoning:
                    for piece in parser.feed_reasoning(reasoning_text.feed(reasoning)):
                        yield piece
                if content:
                    for piece in parser.feed(content_text.feed(content)):
                        yield piece
        except SecretAIError:
            raise
        except Exception as exc:
            raise map_error(exc, info) from exc
        finally:
            if source is not None:
                await source.aclose()  # type: ignore[attr-defined]
        for piece in [*parser.feed_reasoning(reasoning_text.flush()), *parser.feed(content_text.flush()),
                      *parser.finish()]:
            yield piece
        yield usage
