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
from openai import AsyncOpenAI, AsyncStream

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


def request_messages(messages: list[ChatTurn]) -> list[dict[str, Any]]:
    """A turn with images becomes content parts: its text, then each image as a data: URL."""
    return [{"role": m.role, "content": [{"type": "text", "text": m.content},
                                         *({"type": "image_url", "image_url": {"url": image.data_url}}
                                           for image in m.images)]}
            if m.images else {"role": m.role, "content": m.content} for m in messages]


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
    # The SDK's own request (auth, errors, its SSE decoder and its in-stream error check), with
    # each chunk left as the JSON it is: building its typed models cost about a quarter of the
    # app's CPU per token.
    response = await client.post("/chat/completions", body={**body, "stream": True,
                                                            "stream_options": {"include_usage": True}},
                                 cast_to=object, stream=True, stream_cls=AsyncStream[object])
    try:
        async for chunk in response:
            if not isinstance(chunk, dict):
                continue
            if chunk.get("usage"):
                _read_usage(chunk["usage"], usage)
            choices = chunk.get("choices")
            if not choices:
                continue
            choice = choices[0]
            if choice.get("finish_reason"):
                usage.done_reason = choice["finish_reason"]
            delta = choice.get("delta")
            if delta:
                reasoning, content = reasoning_in(delta), delta.get("content")
                if reasoning or content:
                    yield reasoning, content
    finally:
        await response.close()


def reasoning_in(delta: dict[str, Any]) -> str | None:
    """`reasoning_of` for a chunk's delta as JSON."""
    value = delta.get("reasoning_content") or delta.get("reasoning")
    return value if isinstance(value, str) else None


def _read_usage(reported: Any, usage: Usage) -> None:
    if reported is None:
        return
    field = reported.get if isinstance(reported, dict) else lambda name: getattr(reported, name, None)
    usage.prompt_tokens = field("prompt_tokens")
    usage.completion_tokens = field("completion_tokens")
