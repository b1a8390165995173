"""An app (hub + HTTP API) whose model is the loopback HTTPS SecretVM, trusted through
SECRET_AI_CA_BUNDLE, attested by a verifier that trusts the test SGX root."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

from secretgpt.hub.chat_hub import ChatHub
from secretgpt.services.attestation import AttestationService, AttestationSettings, EvidenceVerifier
from secretgpt.services.secret_ai import Catalog, ModelInfo, SecretAIService
from secretgpt.storage import SqlConversationStore
from tests.conftest import API_TOKEN, build_app, serve
from tests.support.sse import EventStream, event_stream

from .conftest import SecretVM
from .sgx_pki import TestSgxPki

MODEL = "loopback"


@dataclass
class AttestedApp:
    vm: SecretVM
    hub: ChatHub
    client: httpx.AsyncClient  # the API, with its token

    def sse(self, message: str = "Tell me", **body: Any) -> contextlib.AbstractAsyncContextManager[EventStream]:
        return event_stream(self.client, {"message": message, **body})

    async def hosts(self) -> list[dict[str, Any]]:
        response = await self.client.get("/api/v1/attestation")
        assert response.status_code == 200, response.text
        return response.json()["hosts"]

    async def proof(self, conversation_id: str, message_id: str) -> httpx.Response:
        return await self.client.get(f"/api/v1/conversations/{conversation_id}/messages/{message_id}/proof")


@contextlib.asynccontextmanager
async def attested_app(vm: SecretVM, pki: TestSgxPki, attestation: AttestationSettings, app_settings: Any,
                       store: SqlConversationStore, *, protocol: str = "openai",
                       demo: bool = False) -> AsyncIterator[AttestedApp]:
    catalog = Catalog(models=[ModelInfo(name=MODEL, url=vm.origin, protocol=protocol, demo=demo)], demo=demo)
    verifier = EvidenceVerifier(pccs_url=attestation.secretvm_pccs_url, root_ca_der=pki.root_der)
    attesting = AttestationService(attestation, verifier=verifier)
    # As the runtime wires it: under `require` every model connection's key is checked.
    gate = attesting.gate() if app_settings.attestation_policy == "require" else None
    service = SecretAIService(catalog, read_timeout=30.0, ca_bundle=attestation.secret_ai_ca_bundle, gate=gate)
    hub = ChatHub(app_settings, service, store, attesting)
    try:
        async with serve(build_app(hub, API_TOKEN, 15.0)) as base_url, httpx.AsyncClient(
                base_url=base_url, headers={"Authorization": f"Bearer {API_TOKEN}"}, timeout=60.0) as client:
            yield AttestedApp(vm, hub, client)
    finally:
        await hub.shutdown()
        await service.aclose()


async def final_event(app: AttestedApp, **body: Any) -> dict[str, Any]:
    async with app.sse(**body) as events:
        frames = await events.rest(timeout=60)
    final = frames[-1].data
    assert final["type"] in ("done", "cancelled", "error")
    return final
