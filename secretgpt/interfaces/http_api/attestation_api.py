"""The HTTP API for attestation and proofs: the state of each model host (with how fresh its
evidence is and what changed), the verification log (to read or download), and the signed proof of
one answer (owner-scoped like the other conversation routes)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from ...hub import HostReport, LogEntry
from ...hub import NoProof
from ...hub import ChatHub
from ...records import ConversationNotFound, MessageNotFound
from .requests import ApiRoute, api_error, json_body, refused

MAX_LOG_ENTRIES = 10_000


class HostsAnswer(BaseModel):
    hosts: list[HostReport]


class AcknowledgeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    origin: str = Field(min_length=1, max_length=2000)


def attestation_api(hub: ChatHub, require_token: Any) -> APIRouter:
    api = APIRouter(prefix="/api/v1", dependencies=[Depends(require_token)], route_class=ApiRoute)

    @api.get("/attestation", summary="Each model host: status (verified | unbound | unverified | failed), "
                                     "reason and checks")
    async def attestation() -> HostsAnswer:
        return HostsAnswer(hosts=hub.attestation.hosts())

    @api.get("/attestation/log", summary="The verification log: each host's verified measurement sets, newest "
                                         "first; format=jsonl downloads it as kept (oldest first)")
    async def verification_log(origin: str | None = Query(None, max_length=2000),
                               format: Literal["json", "jsonl"] = "json",  # noqa: A002
                               limit: int = Query(1000, ge=1, le=MAX_LOG_ENTRIES)) -> Any:
        if format == "jsonl":
            return Response(await hub.attestation.log_export(origin), media_type="application/x-ndjson",
                            headers={"Content-Disposition": 'attachment; filename="attestation-log.jsonl"'})
        entries: list[LogEntry] = await hub.attestation.log_entries(origin, limit)
        return [entry.model_dump(mode="json") for entry in entries]

    @api.post("/attestation/acknowledge", summary="Mark a host's changed measurements as seen (no longer flagged)")
    async def acknowledge(body: AcknowledgeRequest = json_body(AcknowledgeRequest)) -> HostReport:
        try:
            return await hub.attestation.acknowledge(body.origin)
        except LookupError as exc:
            raise api_error(404, str(exc), "not_found") from None

    @api.get("/conversations/{conversation_id}/messages/{message_id}/proof",
             summary="The signed proof of one answer (check it with secretgpt-proof verify FILE)")
    async def proof(conversation_id: str, message_id: str, owner: str = Depends(require_token)) -> Response:
        try:
            signed = await hub.proof(conversation_id, message_id, owner=owner)
        except (ConversationNotFound, MessageNotFound) as exc:
            raise refused(exc, conversation_id=conversation_id) from None
        except NoProof as exc:
            raise api_error(404, str(exc), "no_proof") from None
        return Response(signed.to_json(), media_type="application/json", headers={
            "Content-Disposition": f'attachment; filename="proof-{message_id[:32]}.json"'})

    return api
