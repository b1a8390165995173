"""The Ollama model path: secret-ai-sdk's `ChatSecret` (langchain-ollama underneath) on `/api/chat`.

Kept for Ollama hosts; Secret AI's hosts today speak the OpenAI-compatible API (openai_client.py).
"""

from __future__ import annotations

import types
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from ...records import ChatTurn, GenerationOptions, Usage
from ..attestation.capture import client_options
from ..attestation.pinning import KeyGate
from ...records import ModelInfo
from .errors import map_error
from .think_tags import Delta

ChatModelFactory = Callable[[ModelInfo, float, Path | None, KeyGate | None], BaseChatModel]


def _client_kwargs(model: ModelInfo, read_timeout: float, ca_bundle: Path | None,
                   gate: KeyGate | None) -> dict[str, Any]:
    # Our own idle/first-token timeouts govern; the SDK's 30 s default would cut slow first tokens.
    # client_options: verified TLS (SECRET_AI_CA_BUNDLE), the key checked at each handshake, the
    # certificate hook, as on the OpenAI path. ollama's client follows redirects unless told not to.
    return {"timeout": read_timeout, "follow_redirects": False, **client_options(model.url, ca_bundle, gate)}


def secret_chat_model(model: ModelInfo, read_timeout: float, ca_bundle: Path | None = None,
                      gate: KeyGate | None = None) -> BaseChatModel:
    """`ChatSecret` reads SECRET_AI_API_KEY itself; the key never passes through our code."""
    from secret_ai_sdk import ChatSecret

    llm = ChatSecret(model=model.name, base_url=model.url, reasoning=True,
                     client_kwargs=_client_kwargs(model, read_timeout, ca_bundle, gate))
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


def demo_chat_model(model: ModelInfo, read_timeout: float, ca_bundle: Path | None = None,
                    gate: KeyGate | None = None) -> BaseChatModel:
    """The offline demo speaks the same protocol but needs no key, so the plain parent class."""
    from langchain_ollama import ChatOllama

    return ChatOllama(model=model.name, base_url=model.url, reasoning=True,
                      client_kwargs=_client_kwargs(model, read_timeout, ca_bundle, gate))


def to_langchain(messages: list[ChatTurn]) -> list[BaseMessage]:
    """A turn with images goes as content parts, which langchain-ollama sends as Ollama's
    `images: [base64, …]` beside the turn's text (which it starts with a newline: the proof keeps
    the turn's text as the app made it)."""
    kinds = {"system": SystemMessage, "user": HumanMessage, "assistant": AIMessage}
    return [kinds[m.role](content=[{"type": "text", "text": m.content},
                                   *({"type": "image_url", "image_url": {"url": image.data_url}} for image in m.images)]
                          if m.images else m.content) for m in messages]


def ollama_options(options: GenerationOptions | None) -> dict[str, float | int]:
    """Ollama's names for the generation options (`num_predict` is its max tokens)."""
    sent = options.sent() if options else {}
    if "max_tokens" in sent:
        sent["num_predict"] = sent.pop("max_tokens")
    return sent


async def ollama_deltas(llm: BaseChatModel, info: ModelInfo, messages: list[ChatTurn], *, stream: bool,
                        options: GenerationOptions | None, usage: Usage,
                        no_reasoning: set[str]) -> AsyncIterator[Delta]:
    """Yield (reasoning, content) pieces; fill `usage`. A model whose server answers "does not
    support thinking" is asked again without it, and remembered in `no_reasoning`."""
    lc_messages = to_langchain(messages)
    kwargs: dict[str, Any] = {"stream": stream}
    sent = ollama_options(options)
    if sent:
        kwargs["options"] = sent
    if info.name in no_reasoning:
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
                    usage.prompt_tokens = chunk.usage_metadata.get("input_tokens")
                    usage.completion_tokens = chunk.usage_metadata.get("output_tokens")
                if chunk.response_metadata.get("done"):
                    usage.done_reason = chunk.response_metadata.get("done_reason")
            return
        except Exception as exc:
            error = map_error(exc, info)
            if received == 0 and "support thinking" in error.message and "reasoning" not in kwargs:
                no_reasoning.add(info.name)
                kwargs["reasoning"] = None
                continue
            raise error from exc
        finally:
            await source.aclose()
