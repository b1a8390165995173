"""ATTESTATION_POLICY=require through the API, on both model paths with their real clients, against
the loopback HTTPS SecretVM: a verified, bound host gets the prompt; a host that is not verified
(no evidence, another key, plain http) gets nothing, and neither does a verified host whose
connection presents another key; `allow_unverified` and `warn` send; the demo needs nothing;
redirects are followed by neither path."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from secretgpt.services.attestation import spki_sha256
from secretgpt.services.loopback_model import LoopbackModelServer, Reply

from .attested_app import AttestedApp, final_event
from .conftest import SecretVM
from .sgx_pki import Measurements, TestSgxPki
from .tls_pki import TestCA

CHAT_PATHS = ("POST /v1/chat/completions", "POST /api/chat")


@pytest.fixture(params=["openai", "ollama"])
def protocol(request: pytest.FixtureRequest, secretvm: SecretVM) -> str:
    secretvm.server.protocols = frozenset({request.param})
    return request.param


@pytest.fixture
def bound(secretvm: SecretVM, sgx_pki: TestSgxPki, measurements: Measurements) -> None:
    """The VM serves evidence that binds its own key: it can be verified."""
    secretvm.serve_evidence(sgx_pki.quote(spki_sha256(secretvm.identity.der), measurements))


def chat_requests(server: LoopbackModelServer) -> list[str]:
    return [r for r in server.requests if r in CHAT_PATHS]


async def refused(app: AttestedApp, path: str = "/api/v1/chat/stream", **body: Any) -> dict[str, Any]:
    response = await app.client.post(path, json={"message": "my secret", **body})
    assert response.status_code == 403, response.text
    return response.json()["detail"]


async def test_a_verified_bound_host_gets_the_prompt(app_for: Callable[..., Any], secretvm: SecretVM, bound: None,
                                                     protocol: str) -> None:
    async with app_for(policy="require", protocol=protocol) as app:
        final = await final_event(app)
    assert final["type"] == "done" and final["attestation"]["status"] == "verified"
    # Attested before the prompt: the evidence was asked for before the chat request.
    requests = secretvm.server.requests
    assert requests.index("GET /cpu") < requests.index(chat_requests(secretvm.server)[0])


async def test_another_key_at_the_handshake_sends_nothing(app_for: Callable[..., Any], secretvm: SecretVM,
                                                          bound: None, test_ca: TestCA, tmp_path: Path,
                                                          protocol: str) -> None:
    async with app_for(policy="require", protocol=protocol) as app:
        [host] = await app.hosts()
        await app.hub.attestation.check_again(host["origin"])  # attested, verified
        received = secretvm.server.bytes_received
        swapped = test_ca.issue_server()  # then the server presents another key
        secretvm.server.ssl_context.load_cert_chain(*swapped.write_pem(tmp_path))
        final = await final_event(app)
    assert final["type"] == "error" and final["kind"] == "not_attested"
    assert f"sha256:{spki_sha256(swapped.der).hex()[:16]}" in final["message"]
    assert secretvm.server.bytes_received == received and chat_requests(secretvm.server) == []


@pytest.mark.parametrize("case", ["no evidence", "another key in the quote"])
async def test_a_host_that_is_not_verified_gets_nothing(app_for: Callable[..., Any], secretvm: SecretVM,
                                                        sgx_pki: TestSgxPki, measurements: Measurements,
                                                        test_ca: TestCA, protocol: str, case: str) -> None:
    if case != "no evidence":
        secretvm.serve_evidence(sgx_pki.quote(spki_sha256(test_ca.issue_server().der), measurements))
    async with app_for(policy="require", protocol=protocol) as app:
        detail = await refused(app)
        assert (await refused(app, "/api/v1/chat"))["kind"] == "not_attested"
        conversations = (await app.client.get("/api/v1/conversations")).json()
    assert detail["kind"] == "not_attested" and "Nothing was sent" in detail["message"]
    assert "allow_unverified" in detail["message"] and "ATTESTATION_POLICY=warn" in detail["message"]
    assert chat_requests(secretvm.server) == [] and conversations == []  # nothing sent, nothing stored


async def test_plain_http_gets_nothing(app_for: Callable[..., Any], secretvm: SecretVM, protocol: str) -> None:
    async with LoopbackModelServer(lambda _r: Reply.of("plain"), protocols={protocol}) as plain:
        secretvm.server = plain  # the app's model host is this plain-http server
        async with app_for(policy="require", protocol=protocol) as app:
            detail = await refused(app)
        assert "plain http" in detail["message"] and plain.bytes_received == 0


@pytest.mark.parametrize("how", ["allow_unverified", "warn"])
async def test_allow_unverified_and_warn_send(app_for: Callable[..., Any], secretvm: SecretVM, protocol: str,
                                              how: str) -> None:
    body = {"allow_unverified": True} if how == "allow_unverified" else {}
    async with app_for(policy="require" if body else "warn", protocol=protocol) as app:
        final = await final_event(app, **body)
    assert final["type"] == "done" and final["attestation"]["status"] == "unverified"
    assert len(chat_requests(secretvm.server)) == 1


async def test_the_demo_answers_under_require(app_for: Callable[..., Any], secretvm: SecretVM) -> None:
    async with app_for(policy="require", demo=True) as app:
        final = await final_event(app)
    assert final["type"] == "done" and "GET /cpu" not in secretvm.server.requests


async def test_a_redirect_never_earns_verified(app_for: Callable[..., Any], secretvm: SecretVM, bound: None,
                                               protocol: str) -> None:
    """A host that redirects the chat to a genuine VM: the redirect is an error on both paths, and
    the VM it points at hears nothing of the prompt."""
    async with LoopbackModelServer(lambda _r: Reply.of("x"), protocols={protocol}) as front:
        path = "/v1/chat/completions" if protocol == "openai" else "/api/chat"
        front.redirect = (307, f"{secretvm.origin}{path}")
        genuine, secretvm.server = secretvm.server, front
        async with app_for(policy="require", protocol=protocol) as app:
            final = await final_event(app, allow_unverified=True)
    assert final["type"] == "error" and final["kind"] == "redirect"
    assert final["attestation"]["status"] != "verified"
    assert chat_requests(genuine) == []

