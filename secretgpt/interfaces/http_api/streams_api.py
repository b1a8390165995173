"""The streams API: start an answer as Server-Sent Events (or whole), re-attach, pause, resume,
stop, and list what is streaming and which models there are."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Depends, Header
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sse_starlette import EventSourceResponse

from ...hub import (
    BadMessage, ChatHub, ConversationNotFound, ErrorKind, MessageNotFound, SecretAIError, StreamNotFound, StreamView,
    TooManyStreams,
)
from ...records import (
    MAX_SYSTEM_PROMPT_CHARS, CannotSeeImages, FileNotFound, GenerationOptions, StreamRecord, can_see_images,
)
from .requests import ApiRoute, ERROR_STATUS, api_error, json_body, refused
from .sse import event_source


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
    attachments: list[str] = Field(default_factory=list, max_length=100,
                                   description="Files for this message (file ids from POST /api/v1/files)")
    temporary: bool = Field(False, description="Start a temporary chat: answered as usual, never written to disk "
                            "(not the database, not exports); kept in this server's memory for follow-ups "
                            "(`conversation_id`) until idle for an hour or deleted")
    allow_unverified: bool = Field(False, description="Send even if the model host is not a verified confidential "
                                   "VM (ATTESTATION_POLICY=require refuses it with 403 otherwise)")


class StreamRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    stream_id: str


class StreamSummary(BaseModel):
    stream_id: str
    conversation_id: str
    model: str
    status: str
    paused: bool
    chars: int
    last_event_id: int

    @classmethod
    async def of(cls, stream: StreamView) -> StreamSummary:
        state = await stream.refresh()  # what its events say, wherever its model is read
        return cls(stream_id=stream.id, conversation_id=stream.conversation_id, model=stream.model,
                   status=state.status.value, paused=state.paused, chars=len(state.text),
                   last_event_id=state.events)


class ChatAnswer(BaseModel):
    stream_id: str
    conversation_id: str
    # The stored answer, as the final SSE event names it: what a program asks the proof of.
    message_id: str | None
    model: str
    status: str
    text: str
    think: str
    metadata: dict[str, Any]

    @classmethod
    def of(cls, record: StreamRecord, message_id: str | None) -> ChatAnswer:
        return cls(stream_id=record.stream_id, conversation_id=record.conversation_id, message_id=message_id,
                   model=record.model, status=record.status.value, text=record.text, think=record.think,
                   metadata=record.metadata())


def streams_api(hub: ChatHub, require_token: Any, keepalive: float) -> APIRouter:
    api = APIRouter(prefix="/api/v1", dependencies=[Depends(require_token)], route_class=ApiRoute)

    async def start(body: ChatRequest, owner: str, streaming: bool) -> StreamView:
        try:
            return await hub.send(body.message, owner=owner, conversation_id=body.conversation_id, model=body.model,
                                  streaming=streaming, cancel_when_orphaned=streaming, regenerate=body.regenerate,
                                  edit=body.edit, continue_from=body.continue_from, system=body.system,
                                  options=body.options, allow_unverified=body.allow_unverified, via="api",
                                  attachments=body.attachments, temporary=body.temporary)
        except (BadMessage, TooManyStreams, ConversationNotFound, MessageNotFound, SecretAIError, FileNotFound,
                CannotSeeImages) as exc:
            raise refused(exc, conversation_id=body.conversation_id) from None

    async def control(verb: Callable[..., Awaitable[StreamView]], stream_id: str, owner: str) -> StreamView:
        """`hub.stream`, `.pause`, `.resume` or `.stop` on one of this owner's streams, or 404."""
        try:
            return await verb(stream_id, owner=owner)
        except StreamNotFound as exc:
            raise refused(exc, stream_id=stream_id) from None

    @api.post("/chat/stream", summary="Stream an answer as Server-Sent Events")
    async def chat_stream(body: ChatRequest = json_body(ChatRequest),
                          owner: str = Depends(require_token)) -> EventSourceResponse:
        return event_source(await start(body, owner, streaming=True), 0, keepalive)

    @api.get("/chat/stream/{stream_id}", summary="Re-attach to a stream; replays after Last-Event-ID")
    async def chat_stream_attach(stream_id: str, owner: str = Depends(require_token),
                                 last_event_id: str | None = Header(None)) -> EventSourceResponse:
        stream = await control(hub.stream, stream_id, owner)
        try:
            after = int(last_event_id) if last_event_id else 0
        except ValueError:
            raise api_error(422, "Last-Event-ID must be a whole number.", "bad_request") from None
        return event_source(stream, after, keepalive)

    @api.post("/chat/stream/pause", summary="Hold delivery; the model keeps generating into a buffer")
    async def pause(body: StreamRef = json_body(StreamRef), owner: str = Depends(require_token)) -> StreamSummary:
        return await StreamSummary.of(await control(hub.pause, body.stream_id, owner))

    @api.post("/chat/stream/resume", summary="Deliver everything held, then continue live")
    async def resume(body: StreamRef = json_body(StreamRef), owner: str = Depends(require_token)) -> StreamSummary:
        return await StreamSummary.of(await control(hub.resume, body.stream_id, owner))

    @api.delete("/chat/stream/{stream_id}", summary="Stop: close the model connection now, keep the partial answer")
    async def cancel(stream_id: str, owner: str = Depends(require_token)) -> StreamSummary:
        stream = await control(hub.stop, stream_id, owner)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await stream.wait()
        return await StreamSummary.of(stream)

    @api.get("/chat/streams", summary="Streams that have not ended")
    async def streams(owner: str = Depends(require_token)) -> list[StreamSummary]:
        return [await StreamSummary.of(s) for s in await hub.active_streams(owner=owner)]

    @api.post("/chat", summary="The whole answer, without streaming")
    async def chat(body: ChatRequest = json_body(ChatRequest), owner: str = Depends(require_token)) -> JSONResponse:
        stream = await start(body, owner, streaming=False)
        record = await stream.wait()  # its final event comes once it is stored: a GET right after finds it
        payload = ChatAnswer.of(record, stream.message_id).model_dump(mode="json")
        if record.error:
            payload["error"] = {"message": record.error, "kind": record.error_kind}
            return JSONResponse(payload, status_code=ERROR_STATUS.get(ErrorKind(record.error_kind), 502))
        return JSONResponse(payload)

    @api.get("/models", summary="Models this server can use")
    async def models() -> dict[str, Any]:
        catalog = hub.catalog
        # `vision`: whether it takes images (what its host said, else judged by its name).
        return {"models": [{**m.model_dump(), "vision": can_see_images(m.name, m.vision)} for m in catalog.models],
                "demo": catalog.demo, "error": catalog.error}

    return api
