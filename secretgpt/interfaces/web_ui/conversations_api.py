"""The HTTP API for stored conversations: list, read, rename, delete, export and import.

The API's conversations belong to its token; the browser's belong to the browser.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ...hub.core.router import HubRouter
from ...services.secret_ai import GenerationOptions
from ...services.secret_ai.models import MAX_SYSTEM_PROMPT_CHARS
from ...storage import ConversationNotFound, ConversationSummary, InvalidImport, StoredConversation
from .api import api_error, json_body


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


def create_conversations_api(hub: HubRouter, require_token: Callable[..., str]) -> APIRouter:
    api = APIRouter(prefix="/api/v1/conversations", dependencies=[Depends(require_token)])

    @api.get("", summary="Conversations, newest first (search matches titles and messages)")
    async def list_conversations(owner: str = Depends(require_token),
                                 search: str | None = Query(None, max_length=500)) -> list[ConversationSummary]:
        return await hub.store.list_conversations(owner, search=search)

    @api.get("/export", summary="Every conversation of this token, lossless JSON")
    async def export_all(owner: str = Depends(require_token)) -> dict[str, Any]:
        return await hub.store.export_all(owner)

    @api.post("/import", summary="Import a JSON export (one conversation or all); nothing changes on error")
    async def import_conversations(request: Request, owner: str = Depends(require_token)) -> dict[str, list[str]]:
        try:
            ids = await hub.store.import_json(owner, await request.body())
        except InvalidImport as exc:
            raise api_error(422, str(exc), "invalid_import") from None
        return {"conversation_ids": ids}

    @api.get("/{conversation_id}", summary="A conversation's active thread with all answer metadata")
    async def get_conversation(conversation_id: str, owner: str = Depends(require_token)) -> StoredConversation:
        try:
            return await hub.store.get(conversation_id, owner)
        except ConversationNotFound:
            raise api_error(404, f"No conversation {conversation_id!r}.", "not_found") from None

    @api.get("/{conversation_id}/export", summary="Export as lossless JSON or readable Markdown")
    async def export(conversation_id: str, owner: str = Depends(require_token),
                     format: Literal["json", "markdown"] = "json") -> Any:  # noqa: A002
        try:
            if format == "markdown":
                return PlainTextResponse(await hub.store.export_markdown(conversation_id, owner),
                                         media_type="text/markdown; charset=utf-8")
            return json.loads(json.dumps(await hub.store.export_json(conversation_id, owner), default=str))
        except ConversationNotFound:
            raise api_error(404, f"No conversation {conversation_id!r}.", "not_found") from None

    @api.patch("/{conversation_id}", summary="Rename; set the system prompt and generation options")
    async def update(conversation_id: str, body: UpdateRequest = json_body(UpdateRequest),
                     owner: str = Depends(require_token)) -> dict[str, Any]:
        try:
            if body.title is not None:
                await hub.store.rename(conversation_id, owner, body.title)
            conversation = await hub.store.get(conversation_id, owner)
            settings = conversation.settings.changed(body.system, body.options)
            if settings != conversation.settings:
                await hub.store.update_settings(conversation_id, owner, settings)
        except ConversationNotFound:
            raise api_error(404, f"No conversation {conversation_id!r}.", "not_found") from None
        except ValueError as exc:
            raise api_error(422, str(exc), "bad_request") from None
        return {"conversation_id": conversation_id, "title": conversation.title, "system": settings.system,
                "options": settings.options.model_dump()}

    @api.delete("/{conversation_id}", summary="Delete for good")
    async def delete(conversation_id: str, owner: str = Depends(require_token)) -> dict[str, str]:
        if hub.registry.for_conversation(conversation_id) is not None:
            raise api_error(409, "An answer is still streaming in this conversation; stop it first.", "busy")
        try:
            await hub.store.delete(conversation_id, owner)
        except ConversationNotFound:
            raise api_error(404, f"No conversation {conversation_id!r}.", "not_found") from None
        return {"conversation_id": conversation_id, "deleted": "yes"}

    return api
