"""How each protocol puts a scripted reply on the wire: Ollama's NDJSON and vLLM's SSE.

The server runs one `Reply` script; a wire turns its steps into bytes. The OpenAI-compatible
side copies what vLLM behind LiteLLM sends: a role-only first chunk, content or reasoning deltas,
a chunk with `finish_reason`, the usage chunk when `stream_options.include_usage` is set, then
`data: [DONE]`; errors as LiteLLM/vLLM shape them.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime, timezone
from typing import Any

from .script import Reply

LITELLM_AUTH_MESSAGE = ("Authentication Error, Invalid proxy server token passed. Received API Key = {masked}, "
                        "Key Hash (Token) =None. Unable to find token in cache or `LiteLLM_VerificationTokenTable`")
_OPENAI_ERROR_TYPES = {400: "BadRequestError", 404: "NotFoundError", 422: "UnprocessableEntityError",
                       429: "RateLimitError"}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def _prompt_tokens(request: dict) -> int:
    return sum(len(str(m.get("content", ""))) // 4 for m in request.get("messages") or [])


class OllamaWire:
    """`/api/chat`: one JSON object per line; the last has `done: true` and the token counts."""

    content_type = "application/x-ndjson"

    def __init__(self, request: dict, opened_at: float) -> None:
        self.request = request
        self.opened_at = opened_at

    def inline(self, reply: Reply) -> bool:
        return reply.inline_think or not self.request.get("think")

    def start(self, reply: Reply) -> bytes:
        return b""

    def chunk(self, reply: Reply, content: str, thinking: str) -> bytes:
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if thinking:
            message["thinking"] = thinking
        return _line({"model": reply.model, "created_at": _now(), "message": message, "done": False})

    def stream_error(self, message: str) -> bytes:
        return _line({"error": message})

    def end(self, reply: Reply, sent: int, tail: str) -> bytes:
        return _line(self._done(reply, sent, tail))

    def whole(self, reply: Reply, text: str, thinking: str) -> dict[str, Any]:
        payload = self._done(reply, len(reply.steps), "")
        payload["message"] = {"role": "assistant", "content": text, **({"thinking": thinking} if thinking else {})}
        return payload

    @staticmethod
    def error_body(status: int, message: str, api_key_sent: str = "") -> dict[str, Any]:
        if status == 401:
            return {"error": "unauthorized: invalid API key"}
        return {"error": message or f"HTTP {status}"}

    def _done(self, reply: Reply, eval_count: int, tail: str) -> dict[str, Any]:
        return {
            "model": reply.model,
            "created_at": _now(),
            "message": {"role": "assistant", "content": tail},
            "done": True,
            "done_reason": reply.finish_reason,
            "total_duration": int((time.monotonic() - self.opened_at) * 1e9),
            "prompt_eval_count": _prompt_tokens(self.request),
            "eval_count": eval_count,
        }


class OpenAIWire:
    """`/v1/chat/completions`: `data: {chat.completion.chunk}` events, then `data: [DONE]`."""

    content_type = "text/event-stream"

    def __init__(self, request: dict, opened_at: float) -> None:
        self.request = request
        self.id = "chatcmpl-" + uuid.uuid4().hex
        self.created = int(time.time())

    def inline(self, reply: Reply) -> bool:
        return reply.inline_think

    def start(self, reply: Reply) -> bytes:
        return self._event(reply, {"role": "assistant", "content": ""})

    def chunk(self, reply: Reply, content: str, thinking: str) -> bytes:
        delta: dict[str, Any] = {}
        if thinking:
            delta[reply.reasoning_field] = thinking
        if content or not thinking:
            delta["content"] = content
        return self._event(reply, delta)

    def stream_error(self, message: str) -> bytes:
        error = {"error": {"message": message, "type": "InternalServerError", "param": None, "code": 500}}
        return _sse(error) + b"data: [DONE]\n\n"

    def end(self, reply: Reply, sent: int, tail: str) -> bytes:
        out = self._event(reply, {"content": tail} if tail else {}, finish_reason=reply.finish_reason)
        if (self.request.get("stream_options") or {}).get("include_usage"):
            out += _sse({"id": self.id, "object": "chat.completion.chunk", "created": self.created,
                         "model": reply.model, "choices": [], "usage": self._usage(sent)})
        return out + b"data: [DONE]\n\n"

    def whole(self, reply: Reply, text: str, thinking: str) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": text, "tool_calls": []}
        if thinking:
            message[reply.reasoning_field] = thinking
        return {"id": self.id, "object": "chat.completion", "created": self.created, "model": reply.model,
                "choices": [{"index": 0, "message": message, "logprobs": None,
                             "finish_reason": reply.finish_reason}],
                "usage": self._usage(len(reply.steps))}

    @staticmethod
    def error_body(status: int, message: str, api_key_sent: str = "") -> dict[str, Any]:
        if status == 401:
            masked = f"sk-...{api_key_sent[-4:]}" if api_key_sent else "None"
            return {"error": {"message": LITELLM_AUTH_MESSAGE.format(masked=masked), "type": "auth_error",
                              "param": "None", "code": "401"}}
        kind = _OPENAI_ERROR_TYPES.get(status, "InternalServerError" if status >= 500 else "APIError")
        return {"error": {"message": message or f"HTTP {status}", "type": kind, "param": None, "code": status}}

    def _usage(self, completion: int) -> dict[str, int]:
        prompt = _prompt_tokens(self.request)
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}

    def _event(self, reply: Reply, delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        return _sse({"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": reply.model,
                     "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]})


Wire = OllamaWire | OpenAIWire


def _line(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj).encode() + b"\n"


def _sse(obj: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(obj).encode() + b"\n\n"
