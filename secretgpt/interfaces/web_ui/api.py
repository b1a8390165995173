"""The HTTP API: Server-Sent Events for streams, JSON for the rest. Every route needs the token."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import APIRouter, Depends, Header, HTTPException, Request
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ...hub.core.events import FINAL_EVENTS, StreamRecord
from ...hub.core.router import BadMessage, HubRouter, StreamNotFound, TooManyStreams
from ...hub.core.stream import ActiveStream
from ...services.secret_ai import ErrorKind, GenerationOptions, SecretAIError
from ...services.secret_ai.models import MAX_SYSTEM_PROMPT_CHARS
from ...storage import ConversationNotFound, MessageNotFound

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no", "Connection": "keep-alive"}


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    message: str = Field("", description="The user's message (not needed to regenerate or continue)")
    conversation_id: str | None = Field(None, description="Continue this conversation (omit to start one)")
    model: str | None = Field(None, description="Model name (default: the first available)")
    regenerate: str | None = Field(None, description="Answer this answer's question again (message id)")
    edit: str | None = Field(None, description="Ask `message` in place of this user message (message id)")
    continue_from: str | None = Field(None, description="Carry on this stopped/interrupted answer (message id)")
    system: str | None = Field(None, max_length=MAX_SYSTEM_PROMPT_CHARS,
                               description="System prompt for this conversation from now on (\"\" clears it)")
    options: GenerationOptions | None = Field(
        None, description="temperature (0..2), top_p (0..1), max_tokens, seed for this conversation from now on")


class StreamRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    stream_id: str


class StreamInfo(BaseModel):
    stream_id: str
    conversation_id: str
    model: str
    status: str
    paused: bool
    chars: int
    last_event_id: int


class ChatAnswer(BaseModel):
    stream_id: str
    conversation_id: str
    model: str
    status: str
    text: str
    think: str
    metadata: dict[str, Any]


def json_body(model: type[BaseModel]) -> Any:
    """Parse the body as JSON whatever the Content-Type: `curl -d '{...}'` sends form encoding."""

    async def parse(request: Request) -> BaseModel:
        raw = await request.body()
        if not raw.strip():
            # pydantic would say "Input should be an object", which does not tell a curl user much.
            raise RequestValidationError([{"type": "missing", "loc": ("body",), "input": None,
                                           "msg": "the request body is empty; send JSON such as "
                                                  '{"message": "hi"}'}])
        try:
            return model.model_validate_json(raw)
        except ValidationError as exc:
            raise RequestValidationError(
                [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]) from None

    return Depends(parse)


def owner_for_token(token: str) -> str:
    return "api:" + hashlib.sha256(token.encode()).hexdigest()[:16]


def api_error(status: int, message: str, kind: str) -> HTTPException:
    return HTTPException(status_code=status, detail={"message": message, "kind": kind})


ERROR_STATUS = {ErrorKind.BAD_REQUEST: 422, ErrorKind.UNAVAILABLE: 503, ErrorKind.AUTH: 502,
                ErrorKind.UNREACHABLE: 502, ErrorKind.TIMEOUT: 504, ErrorKind.OVERLOADED: 503,
                ErrorKind.STORAGE: 500}


def token_guard(api_token: str) -> Callable[..., str]:
    """A dependency that checks the bearer token and returns the owner it stands for."""

    def require_token(authorization: str | None = Header(None)) -> str:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), api_token.encode()):
            raise HTTPException(status_code=401, detail={"message": "Missing or invalid API token. Send "
                                "'Authorization: Bearer <token>' (printed at start-up).", "kind": "unauthorized"},
                                headers={"WWW-Authenticate": "Bearer"})
        return owner_for_token(api_token)

    return require_token


def create_api(hub: HubRouter, api_token: str, keepalive: float) -> APIRouter:
    require_token = token_guard(api_token)
    api = APIRouter(prefix="/api/v1", dependencies=[Depends(require_token)])

    async def start(body: ChatRequest, owner: str, streaming: bool) -> ActiveStream:
        try:
            return await hub.stream_message(body.message, owner=owner, conversation_id=body.conversation_id,
                                            model=body.model, streaming=streaming, cancel_when_orphaned=streaming,
                                            regenerate=body.regenerate, edit=body.edit,
                                            continue_from=body.continue_from, system=body.system,
                                            options=body.options)
        except BadMessage as exc:
            raise api_error(422, str(exc), "bad_request") from None
        except TooManyStreams as exc:
            raise api_error(429, str(exc), "too_many_streams") from None
        except ConversationNotFound:
            raise api_error(404, f"No conversation {body.conversation_id!r}.", "not_found") from None
        except MessageNotFound as exc:
            raise api_error(404, str(exc).strip("'\""), "not_found") from None
        except SecretAIError as exc:
            raise api_error(ERROR_STATUS.get(exc.kind, 502), exc.message, exc.kind.value) from None

    def find(stream_id: str, owner: str) -> ActiveStream:
        try:
            return hub.stream_for(stream_id, owner)
        except StreamNotFound:
            raise api_error(404, f"No stream {stream_id!r} (it may have ended long ago).", "not_found") from None

    @api.post("/chat/stream", summary="Stream an answer as Server-Sent Events")
    async def chat_stream(body: ChatRequest = json_body(ChatRequest), owner: str = Depends(require_token)) -> StreamingResponse:
        stream = await start(body, owner, streaming=True)
        return StreamingResponse(sse(stream, 0, keepalive), media_type="text/event-stream", headers=SSE_HEADERS)

    @api.get("/chat/stream/{stream_id}", summary="Re-attach to a stream; replays after Last-Event-ID")
    async def chat_stream_attach(stream_id: str, owner: str = Depends(require_token),
                                 last_event_id: str | None = Header(None)) -> StreamingResponse:
        stream = find(stream_id, owner)
        try:
            after = int(last_event_id) if last_event_id else 0
        except ValueError:
            raise api_error(422, "Last-Event-ID must be a whole number.", "bad_request") from None
        return StreamingResponse(sse(stream, after, keepalive), media_type="text/event-stream", headers=SSE_HEADERS)

    @api.post("/chat/stream/pause", summary="Hold delivery; the model keeps generating into a buffer")
    async def pause(body: StreamRef = json_body(StreamRef), owner: str = Depends(require_token)) -> StreamInfo:
        stream = find(body.stream_id, owner)
        stream.pause()
        return info(stream)

    @api.post("/chat/stream/resume", summary="Deliver everything held, then continue live")
    async def resume(body: StreamRef = json_body(StreamRef), owner: str = Depends(require_token)) -> StreamInfo:
        stream = find(body.stream_id, owner)
        stream.resume()
        return info(stream)

    @api.delete("/chat/stream/{stream_id}", summary="Stop: close the model connection now, keep the partial answer")
    async def cancel(stream_id: str, owner: str = Depends(require_token)) -> StreamInfo:
        stream = find(stream_id, owner)
        stream.cancel()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stream.wait(), 5)
        return info(stream)

    @api.get("/chat/streams", summary="Streams that have not ended")
    async def streams(owner: str = Depends(require_token)) -> list[StreamInfo]:
        return [info(s) for s in hub.get_active_streams(owner)]

    @api.post("/chat", summary="The whole answer, without streaming")
    async def chat(body: ChatRequest = json_body(ChatRequest), owner: str = Depends(require_token)) -> JSONResponse:
        stream = await start(body, owner, streaming=False)
        record = await stream.wait()
        await stream.wait_saved()  # answered means stored: a GET right after must find it
        payload = answer(record).model_dump(mode="json")
        if record.error:
            payload["error"] = {"message": record.error, "kind": record.error_kind}
            return JSONResponse(payload, status_code=ERROR_STATUS.get(ErrorKind(record.error_kind), 502))
        return JSONResponse(payload)

    @api.get("/models", summary="Models this server can use")
    async def models() -> dict[str, Any]:
        catalog = hub.service.catalog
        return {"models": [m.model_dump() for m in catalog.models], "demo": catalog.demo, "error": catalog.error}

    return api


def info(stream: ActiveStream) -> StreamInfo:
    return StreamInfo(stream_id=stream.id, conversation_id=stream.conversation_id, model=stream.model,
                      status=stream.status.value, paused=stream.paused, chars=len(stream.text),
                      last_event_id=stream.last_seq)


def answer(record: StreamRecord) -> ChatAnswer:
    return ChatAnswer(stream_id=record.stream_id, conversation_id=record.conversation_id, model=record.model,
                      status=record.status.value, text=record.text, think=record.think, metadata=record.metadata())


async def sse(stream: ActiveStream, after: int, keepalive: float) -> AsyncIterator[bytes]:
    """Events as `id:`/`data:` frames; a comment line keeps idle or paused connections open.

    Everything already delivered is sent in one write; we only wait when caught up.
    """
    stream.attach()
    try:
        seq = max(0, after)
        while True:
            batch = stream.events_after(seq)
            if batch:
                frames = []
                for event in batch:
                    data = json.dumps(event.payload(), ensure_ascii=False, separators=(",", ":"))
                    frames.append(f"id: {event.seq}\ndata: {data}\n\n")
                    seq = event.seq
                    if event.type in FINAL_EVENTS:
                        # The end goes out once the answer is stored: a client that saw it can read it back.
                        await stream.wait_saved()
                        yield "".join(frames).encode()
                        return
                yield "".join(frames).encode()
                continue
            if stream.ended:
                return
            try:
                async with asyncio.timeout(keepalive):
                    await stream.changed()
            except TimeoutError:
                yield b": keep-alive\n\n"
    finally:
        stream.detach()
