"""The OpenAI-compatible model path: `AsyncOpenAI` (openai 2.x) over our own `httpx.AsyncClient`.

Why this library: it keeps fields it does not know (`delta.reasoning_content` from vLLM's
reasoning parser, `delta.reasoning` from newer vLLM and proxies), where langchain-openai drops
them. Why 2.x and our own client: openai 3.x moves to httpx2, a second HTTP stack; ChatSecret and
ollama use httpx, and the connection that streams an answer must be inspectable the same way on
both paths.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import openai
from openai import AsyncOpenAI

from ...records import ChatTurn, GenerationOptions, Usage
from ..attestation.capture import client_options
from ..attestation.pinning import KeyGate
from ...records import ModelInfo
from .errors import NO_API_KEY, ErrorKind, SecretAIError
from .protocol import api_key_from_env
from .think_tags import Delta

# Sent to Secret AI instead of whatever OPENAI_ORG_ID / OPENAI_PROJECT_ID hold for OpenAI itself.
_NO_OPENAI_ACCOUNT_HEADERS = {"OpenAI-Organization": openai.omit, "OpenAI-Project": openai.omit}


def secret_openai_client(info: ModelInfo, read_timeout: float, ca_bundle: Path | None = None,
                         gate: KeyGate | None = None) -> AsyncOpenAI:
    """The key comes only from SECRET_AI_API_KEY (never OPENAI_API_KEY) and goes as a Bearer token."""
    key = api_key_from_env()
    if key is None:
        raise SecretAIError(ErrorKind.AUTH, NO_API_KEY)
    return _client(info, read_timeout, key, ca_bundle, gate)


def demo_openai_client(info: ModelInfo, read_timeout: float, ca_bundle: Path | None = None,
                       gate: KeyGate | None = None) -> AsyncOpenAI:
    """The offline demo model needs no key; the SDK insists on one, so a label stands in."""
    return _client(info, read_timeout, "secretgpt-demo", ca_bundle, gate)


def _client(info: ModelInfo, read_timeout: float, key: str, ca_bundle: Path | None,
            gate: KeyGate | None) -> AsyncOpenAI:
    """Both factories end here: the one place the HTTP connection to an OpenAI-compatible host is made.
    `client_options`: verified TLS (SECRET_AI_CA_BUNDLE), each connection's key checked at its
    handshake (`gate`), no redirects, and the hook that records which certificate the connection
    streaming each answer presented (attestation binds to it)."""
    timeout = httpx.Timeout(read_timeout)
    return AsyncOpenAI(
        api_key=key,
        base_url=info.url.rstrip("/") + "/v1",
        # The stream lifecycle decides about retries (one non-streaming fallback) and time limits.
        max_retries=0,
        timeout=timeout,
        http_client=httpx.AsyncClient(timeout=timeout, **client_options(info.url, ca_bundle, gate)),
        default_headers=_NO_OPENAI_ACCOUNT_HEADERS,
    )


def request_messages(messages: list[ChatTurn]) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.content} for m in messages]


def reasoning_of(part: Any) -> str | None:
    """vLLM's reasoning parser: `reasoning_content`; newer vLLM and some proxies: `reasoning`."""
    value = getattr(part, "reasoning_content", None) or getattr(part, "reasoning", None)
    return value if isinstance(value, str) else None


async def openai_deltas(client: AsyncOpenAI, info: ModelInfo, messages: list[ChatTurn], *, stream: bool,
                        options: GenerationOptions | None, usage: Usage) -> AsyncIterator[Delta]:
    """Yield (reasoning, content) pieces; fill `usage`. Closing this generator closes the HTTP
    response (and with it the connection) at once."""
    body: dict[str, Any] = {"model": info.name, "messages": request_messages(messages),
                            **(options.sent() if options else {})}
    if not stream:
        completion = await client.chat.completions.create(**body, stream=False)
        _read_usage(completion.usage, usage)
        if completion.choices:
            choice = completion.choices[0]
            usage.done_reason = choice.finish_reason
            yield reasoning_of(choice.message), choice.message.content
        return
    response = await client.chat.completions.create(**body, stream=True, stream_options={"include_usage": True})
    try:
        async for chunk in response:
            if chunk.usage is not None:
                _read_usage(chunk.usage, usage)
            if not chunk.choices:
                continue
            choice = chunk.choices[0]
            if choice.finish_reason:
                usage.done_reason = choice.finish_reason
            delta = choice.delta
            if delta is not None:
                reasoning, content = reasoning_of(delta), delta.content
                if reasoning or content:
                    yield reasoning, content
    finally:
        await response.close()


def _read_usage(reported: Any, usage: Usage) -> None:
    if reported is None:
        return
    usage.prompt_tokens = getattr(reported, "prompt_tokens", None)
    usage.completion_tokens = getattr(reported, "completion_tokens", None)
