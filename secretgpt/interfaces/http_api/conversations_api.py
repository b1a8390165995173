"""The HTTP API for stored conversations: list, read, rename, delete, export and import.

The API's conversations belong to its token; the browser's belong to the browser.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ...hub import ChatHub
from ...hub import BadMessage, ConversationBusy
from ...records import MAX_SYSTEM_PROMPT_CHARS, GenerationOptions
from ...records import ConversationNotFound, ConversationSummary, InvalidImport, StoredConversation
from .requests import ApiRoute, json_body, refused


class UpdateRequest(BaseModel):
    """Any of: a new title, the system prompt, the generation options (replaced as a whole)."""

    model_config = ConfigDict(extra="forbid")
    title: str | None = Field(None, min_length=1, max_length=500)
    system: str | None = Field(None, max_length=MAX_SYSTEM_PROMPT_CHARS)
    options: GenerationOptions | None = None

    @model_validator(mode="after")
    def _something(self) -> UpdateRequest:
        if self.title is None and self.system is None and self.options is None:
            raise ValueError("send at least one of title, system, options")
        return self


def conversations_api(hub: ChatHub, require_token: Any) -> APIRouter:
    api = APIRouter(prefix="/api/v1/conversations", dependencies=[Depends(require_token)], route_class=ApiRoute)

    @api.get("", summary="Conversations, newest first; with `search`, best match first, each with a "
                         "`snippet` and its `highlights`")
    async def list_conversations(owner: str = Depends(require_token),
                                 search: str | None = Query(None, max_length=500)) -> list[ConversationSummary]:
        return await hub.list_conversations(owner=owner, search=search)

    @api.get("/export", summary="Every conversation of this token, lossless JSON")
    async def export_all(owner: str = Depends(require_token)) -> dict[str, Any]:
        return await hub.export_all(owner=owner)

    @api.post("/import", summary="Import a JSON export (one conversation or all); nothing changes on error")
    async def import_conversations(request: Request, owner: str = Depends(require_token)) -> dict[str, list[str]]:
        try:
            ids = await hub.import_json(await request.body(), owner=owner)
        except InvalidImport as exc:
            raise refused(exc) from None
        return {"conversation_ids": ids}

    @api.get("/{conversation_id}", summary="A conversation's active thread with all answer metadata")
    async def get_conversation(conversation_id: str, owner: str = Depends(require_token)) -> StoredConversation:
        try:
            conversation = await hub.conversation(conversation_id, owner=owner)
            conversation.storage_bytes = await hub.storage_bytes(conversation_id, owner=owner)
            return conversation
        except ConversationNotFound as exc:
            raise refused(exc, conversation_id=conversation_id) from None

    @api.get("/{conversation_id}/export", summary="Export as lossless JSON or readable Markdown")
    async def export(conversation_id: str, owner: str = Depends(require_token),
                     format: Literal["json", "markdown"] = "json") -> Any:  # noqa: A002
        try:
            if format == "markdown":
                return PlainTextResponse(await hub.export_markdown(conversation_id, owner=owner),
                                         media_type="text/markdown; charset=utf-8")
            return json.loads(json.dumps(await hub.export_json(conversation_id, owner=owner), default=str))
        except (ConversationNotFound, BadMessage) as exc:  # BadMessage: a temporary chat is not exported
            raise refused(exc, conversation_id=conversation_id) from None

    @api.patch("/{conversation_id}", summary="Rename; set the system prompt and generation options")
    async def update(conversation_id: str, body: UpdateRequest = json_body(UpdateRequest),
                     owner: str = Depends(require_token)) -> dict[str, Any]:
        try:
            conversation = await hub.update_conversation(conversation_id, owner=owner, title=body.title,
                                                         system=body.system, options=body.options)
        except (ConversationNotFound, ValueError) as exc:
            raise refused(exc, conversation_id=conversation_id) from None
        return {"conversation_id": conversation_id, "title": conversation.title, "system": conversation.system,
                "options": conversation.options.model_dump()}

    @api.delete("/{conversation_id}", summary="Delete for good")
    async def delete(conversation_id: str, owner: str = Depends(require_token)) -> dict[str, str]:
        try:
            await hub.delete(conversation_id, owner=owner)
        except (ConversationBusy, ConversationNotFound) as exc:
            raise refused(exc, conversation_id=conversation_id) from None
        return {"conversation_id": conversation_id, "deleted": "yes"}

    return api
