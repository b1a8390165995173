"""Model-side failures: the kinds a user can act on, and the mapping from raw client errors
(ollama/ChatSecret, openai, httpx) to them.

Both model paths end here, so a failure reads the same whichever API the server speaks.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from ..attestation.pinning import NotAttested, RedirectRefused
from ...records import ModelInfo
from ...records import ErrorKind, SecretAIError


NO_API_KEY = "No API key: set SECRET_AI_API_KEY and restart."


def where(info: ModelInfo) -> str:
    return "the demo model" if info.demo else f"the model server at {info.url}"


def status_error(status: int, detail: str, info: ModelInfo) -> SecretAIError:
    """An HTTP error status from the model server, whichever API it speaks."""
    at = where(info).capitalize()
    if status in (401, 403):
        # No server detail: LiteLLM's message quotes part of the key it was given.
        return SecretAIError(ErrorKind.AUTH, f"{at} rejected the API key (HTTP {status}). Check SECRET_AI_API_KEY.",
                             status=status)
    if status == 429:
        return SecretAIError(ErrorKind.OVERLOADED, f"{at} is busy (HTTP 429). Try again shortly.", status=status)
    message = f"{at} answered with an error (HTTP {status}): {_short(detail)}"
    if status == 404:
        message = message.rstrip(".") + ". Check SECRET_AI_MODEL, and SECRET_AI_PROTOCOL if the server speaks another API."
    return SecretAIError(ErrorKind.MODEL, message, status=status)


def stream_error(detail: str) -> SecretAIError:
    """An error reported inside an answer that had already begun (an error line or SSE object)."""
    return SecretAIError(ErrorKind.MODEL, f"The model stopped with an error: {_short(detail)}")


def map_error(exc: BaseException, info: ModelInfo) -> SecretAIError:
    import ollama
    import openai
    from secret_ai_sdk import secret_ai_ex as sdk

    at = where(info)
    for inner in _causes(exc):
        if isinstance(inner, SecretAIError):
            return inner
        if isinstance(inner, NotAttested):
            return SecretAIError(ErrorKind.NOT_ATTESTED, inner.message)
        if isinstance(inner, RedirectRefused):
            return SecretAIError(ErrorKind.REDIRECT, inner.message)
        if isinstance(inner, sdk.SecretAIAPIKeyMissingError):
            return SecretAIError(ErrorKind.AUTH, NO_API_KEY)
        if isinstance(inner, ollama.ResponseError):
            if inner.status_code == -1:
                return stream_error(inner.error)
            return status_error(inner.status_code, inner.error, info)
        if isinstance(inner, openai.APIStatusError):
            return status_error(inner.status_code, _detail(inner.body, inner.message), info)
        if isinstance(inner, openai.APIConnectionError):
            continue  # the httpx error under it says which kind of failure this was
        if isinstance(inner, openai.APIError):
            return stream_error(_detail(inner.body, inner.message))
        if isinstance(inner, (httpx.ConnectError, httpx.ConnectTimeout, sdk.SecretAIConnectionError)):
            return SecretAIError(ErrorKind.UNREACHABLE, f"Could not reach {at}.")
        if isinstance(inner, (httpx.TimeoutException, sdk.SecretAITimeoutError)):
            return SecretAIError(ErrorKind.TIMEOUT, f"{at.capitalize()} stopped responding (timed out).")
        if isinstance(inner, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)):
            return SecretAIError(ErrorKind.INTERRUPTED, f"The connection to {at} dropped mid-answer.")
        if isinstance(inner, json.JSONDecodeError):
            return SecretAIError(ErrorKind.MODEL, f"{at.capitalize()} sent a malformed reply.")
    if isinstance(exc, openai.APITimeoutError):
        return SecretAIError(ErrorKind.TIMEOUT, f"{at.capitalize()} stopped responding (timed out).")
    if isinstance(exc, openai.APIConnectionError):
        return SecretAIError(ErrorKind.UNREACHABLE, f"Could not reach {at}.")
    return SecretAIError(ErrorKind.MODEL, f"Unexpected error from {at}: {type(exc).__name__}: {_short(str(exc))}")


def _detail(body: Any, fallback: str) -> str:
    """The message in an OpenAI-style error body: {"message": …} (LiteLLM, vLLM) or {"detail": …}
    (FastAPI's own 404)."""
    if isinstance(body, dict):
        for key in ("message", "detail", "error"):
            value = body.get(key)
            if isinstance(value, str) and value.strip():
                return value
            if isinstance(value, dict):
                return _detail(value, fallback)
    if isinstance(body, str) and body.strip():
        return body
    return fallback


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
