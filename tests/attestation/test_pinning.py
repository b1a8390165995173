"""The key check at the handshake, on both model paths with their real clients: a connection whose
key is not the attested one is closed before a byte of the request is written (the server's own
log shows nothing arrived), plain http and hosts with no attestation get nothing, and a redirect
is followed by neither SDK."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from openai import AsyncOpenAI

from secretgpt.records import ChatTurn
from secretgpt.services.attestation import spki_sha256
from secretgpt.services.attestation.pinning import KeyGate, NotAttested, PinnedTransport
from secretgpt.services.loopback_model import LoopbackModelServer, Reply
from secretgpt.services.secret_ai import Catalog, ErrorKind, ModelInfo, SecretAIError, SecretAIService
from tests.conftest import SECRET_AI_KEY

from .conftest import SecretVM
from .tls_pki import TestCA

PROMPT = "the confidential prompt"


class Pins:
    """The bound key per origin, as the attestation service would give it."""

    def __init__(self) -> None:
        self.keys: dict[str, str] = {}
        self.other_keys: list[str] = []

    def gate(self) -> KeyGate:
        return KeyGate(self.keys.get, lambda origin, _der: self.other_keys.append(origin))


def service_for(url: str, protocol: str, ca_bundle: Path | None, gate: KeyGate) -> SecretAIService:
    catalog = Catalog(models=[ModelInfo(name="loopback", url=url, protocol=protocol)])
    return SecretAIService(catalog, read_timeout=10.0, ca_bundle=ca_bundle, gate=gate)


async def answer(service: SecretAIService) -> str:
    text = ""
    try:
        async for piece in service.stream_invoke([ChatTurn(role="user", content=PROMPT)]):
            text += getattr(piece, "content", "")
    finally:
        await service.aclose()
    return text


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_AI_API_KEY", SECRET_AI_KEY)


@pytest.fixture(params=["openai", "ollama"])
def protocol(request: pytest.FixtureRequest, secretvm: SecretVM) -> str:
    secretvm.server.protocols = frozenset({request.param})
    return request.param


async def test_the_attested_key_lets_the_prompt_through(secretvm: SecretVM, ca_bundle: Path, protocol: str) -> None:
    pins = Pins()
    pins.keys[secretvm.origin] = spki_sha256(secretvm.identity.der).hex()
    text = await answer(service_for(secretvm.origin, protocol, ca_bundle, pins.gate()))
    assert text == "Hello from the confidential VM."
    assert PROMPT in str(secretvm.server.connections[-1].request)


async def test_another_key_at_the_handshake_sends_nothing(secretvm: SecretVM, ca_bundle: Path, test_ca: TestCA,
                                                          tmp_path: Path, protocol: str) -> None:
    pins = Pins()
    pins.keys[secretvm.origin] = spki_sha256(secretvm.identity.der).hex()
    # The VM's certificate is swapped after it was attested: same CA, same name, another key.
    swapped = test_ca.issue_server()
    secretvm.server.ssl_context.load_cert_chain(*swapped.write_pem(tmp_path))
    with pytest.raises(SecretAIError) as raised:
        await answer(service_for(secretvm.origin, protocol, ca_bundle, pins.gate()))
    assert raised.value.kind is ErrorKind.NOT_ATTESTED
    # The key it names could only be read in the handshake; after it, nothing reached the server.
    presented = spki_sha256(swapped.der).hex()
    assert f"sha256:{presented[:16]}" in raised.value.message and "nothing was sent" in raised.value.message
    assert secretvm.server.bytes_received == 0 and secretvm.server.requests == []
    assert pins.other_keys == [secretvm.origin]  # the attestation service hears of the new key


async def test_a_host_without_a_verified_attestation_gets_nothing(secretvm: SecretVM, ca_bundle: Path,
                                                                  protocol: str) -> None:
    with pytest.raises(SecretAIError) as raised:
        await answer(service_for(secretvm.origin, protocol, ca_bundle, Pins().gate()))
    assert raised.value.kind is ErrorKind.NOT_ATTESTED and "no verified attestation" in raised.value.message
    assert secretvm.server.bytes_received == 0


async def test_plain_http_gets_nothing_not_even_a_connection(protocol: str) -> None:
    async with LoopbackModelServer(lambda _r: Reply.of("plain"), protocols={protocol}) as server:
        with pytest.raises(SecretAIError) as raised:
            await answer(service_for(server.url, protocol, None, Pins().gate()))
        assert raised.value.kind is ErrorKind.NOT_ATTESTED and "not reached over TLS" in raised.value.message
        assert server.accepted == 0 and server.bytes_received == 0


async def test_unchecked_requests_go_as_before(protocol: str) -> None:
    """The demo, `warn` and a person's consent: the request goes without the check."""
    async with LoopbackModelServer(lambda _r: Reply.of("plain"), protocols={protocol}) as server:
        with KeyGate.unchecked():
            text = await answer(service_for(server.url, protocol, None, Pins().gate()))
        assert text == "plain"


async def test_a_redirect_is_followed_by_neither_sdk(secretvm: SecretVM, ca_bundle: Path, protocol: str) -> None:
    """A host that redirects the chat request to another (here: a genuine VM) gets no answer from
    it: the redirect is an error, and the target hears nothing."""
    async with LoopbackModelServer(lambda _r: Reply.of("plain"), protocols={protocol}) as front:
        front.redirect = (307, f"{secretvm.origin}/v1/chat/completions" if protocol == "openai"
                          else f"{secretvm.origin}/api/chat")
        with KeyGate.unchecked(), pytest.raises(SecretAIError) as raised:
            await answer(service_for(front.url, protocol, ca_bundle, Pins().gate()))
    assert raised.value.kind is ErrorKind.REDIRECT and "follows no redirect" in raised.value.message
    assert secretvm.server.bytes_received == 0


async def test_a_client_keeps_to_its_own_origin(secretvm: SecretVM, ca_bundle: Path) -> None:
    from secretgpt.services.attestation.tls import tls_context

    transport = PinnedTransport("https://127.0.0.1:1", Pins().gate(), tls_context(ca_bundle))
    async with httpx.AsyncClient(transport=transport) as client:
        client_ = AsyncOpenAI(api_key="k", base_url=f"{secretvm.origin}/v1", http_client=client, max_retries=0)
        with pytest.raises(Exception) as raised:
            await client_.models.list()
    assert isinstance(raised.value.__cause__, NotAttested)
    assert secretvm.server.bytes_received == 0


async def test_discovery_asks_an_unverified_host_nothing(secretvm: SecretVM, ca_bundle: Path) -> None:
    """The protocol probe and the model list carry the key: they go through the same check."""
    from secretgpt.services.secret_ai import ProtocolDetector, discover

    detector = ProtocolDetector("auto", ca_bundle=ca_bundle, gate=Pins().gate())
    catalog = await discover(secretvm.origin, None, SECRET_AI_KEY, detector)
    assert not catalog.models and catalog.error is not None
    assert "no verified attestation" in catalog.error and "SECRET_AI_MODEL" in catalog.error
    assert secretvm.server.bytes_received == 0
