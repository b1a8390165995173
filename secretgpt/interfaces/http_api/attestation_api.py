"""The HTTP API for attestation and proofs: the state of each model host, and the signed proof of
one answer (owner-scoped like the other conversation routes)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from pydantic import BaseModel

from ...hub.attestation_desk import HostReport, NoProof
from ...hub.chat_hub import ChatHub
from ...storage import ConversationNotFound, MessageNotFound
from .requests import ApiRoute, api_error, refused


class HostsAnswer(BaseModel):
    hosts: list[HostReport]


def attestation_api(hub: ChatHub, require_token: Any) -> APIRouter:
    api = APIRouter(prefix="/api/v1", dependencies=[Depends(require_token)], route_class=ApiRoute)

    @api.get("/attestation", summary="Each model host: status (verified | unbound | unverified | failed), "
                                     "reason and checks")
    async def attestation() -> HostsAnswer:
        return HostsAnswer(hosts=hub.attestation.hosts())

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
