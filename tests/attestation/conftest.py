"""Fixtures for attestation tests: all offline. The network is replaced only at the libraries'
edges (a loopback PCCS; NVIDIA's, AMD's and GitHub's URLs pointed at a closed loopback port),
and a guard fails any attempt to reach beyond this machine."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from secretgpt.services.attestation import AttestationSettings
from secretgpt.services.loopback_model import LoopbackModelServer, Reply
from secretgpt.storage import SqlConversationStore
from tests.conftest import SECRET_AI_KEY
from tests.support.app_process import free_port

if TYPE_CHECKING:
    from .attested_app import AttestedApp

from .pccs import LoopbackPccs
from .sgx_pki import Measurements, TestSgxPki, registry_measurements
from .tls_pki import ServerIdentity, TestCA

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "attestation"
COMPOSE = "services:\n  model:\n    image: vllm/vllm-openai\n"


def _loopback(host: object) -> bool:
    if not isinstance(host, str):
        return True  # unix sockets and the like
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def offline_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Fail any connection or name lookup beyond loopback (Python sockets: requests, urllib, httpx)."""
    attempts: list[str] = []
    real_connect, real_getaddrinfo = socket.socket.connect, socket.getaddrinfo

    def connect(self: socket.socket, address: object) -> object:
        host = address[0] if isinstance(address, tuple) else address
        if not _loopback(host):
            attempts.append(str(address))
            raise OSError(f"test guard: no connections beyond this machine ({address})")
        return real_connect(self, address)

    def getaddrinfo(host: object, *args: object, **kwargs: object) -> object:
        if host is not None and not _loopback(host if isinstance(host, str) else host.decode()):  # type: ignore[union-attr]
            attempts.append(f"lookup {host}")
            raise socket.gaierror(f"test guard: no name lookups beyond this machine ({host})")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield attempts
    assert not attempts, f"a test tried to leave the machine: {attempts}"


@pytest.fixture(autouse=True)
def remote_services_unreachable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """NVIDIA's NRAS and AMD's KDS, as secretvm-verify addresses them, become a closed loopback
    port: 'unreachable', as they are offline."""
    from secretvm.verify import amd, nvidia

    dead = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setattr(nvidia, "_NRAS_URL", f"{dead}/v4/attest/gpu")
    monkeypatch.setattr(nvidia, "_NRAS_JWKS_URL", f"{dead}/.well-known/jwks.json")
    monkeypatch.setattr(amd, "_AMD_KDS_BASE", dead)
    monkeypatch.setenv("SECRETVM_VERIFY_CACHE_DIR", str(tmp_path / "secretvm-cache"))
    return dead


@pytest.fixture
def shared() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"recorded attestation evidence not found at {SHARED} (../shared/attestation)")
    return SHARED


@pytest.fixture(scope="session")
def sgx_pki() -> TestSgxPki:
    return TestSgxPki()


@pytest.fixture(scope="session")
def measurements() -> Measurements:
    return registry_measurements(COMPOSE)


@pytest.fixture
def pccs(sgx_pki: TestSgxPki) -> Iterator[LoopbackPccs]:
    with LoopbackPccs(sgx_pki.collateral()) as server:
        yield server


@pytest.fixture(scope="session")
def test_ca() -> TestCA:
    return TestCA()


@pytest.fixture
def ca_bundle(test_ca: TestCA, tmp_path: Path) -> Path:
    return test_ca.write_bundle(tmp_path / "ca.pem")


@pytest.fixture
def settings(ca_bundle: Path, pccs: LoopbackPccs) -> AttestationSettings:
    return AttestationSettings(secret_ai_ca_bundle=ca_bundle, secretvm_pccs_url=pccs.url)


@pytest.fixture
def server_identity(test_ca: TestCA) -> ServerIdentity:
    return test_ca.issue_server()


class SecretVM:
    """A loopback HTTPS host serving the model API and (optionally) evidence on one origin."""

    def __init__(self, identity: ServerIdentity, directory: Path) -> None:
        self.identity = identity
        self.directory = directory
        self.server = LoopbackModelServer(lambda _request: Reply.of("Hello from the confidential VM."),
                                           protocols={"openai"})

    @property
    def origin(self) -> str:
        return self.server.url

    async def start(self) -> SecretVM:
        await self.server.start(self.identity.server_context(self.directory))
        return self

    def serve_evidence(self, quote: bytes | str, compose: str | None = COMPOSE, gpu: dict | None = None) -> None:
        self.server.routes["/cpu"] = quote.hex() if isinstance(quote, bytes) else quote
        if compose is not None:
            self.server.routes["/docker-compose"] = compose
        self.server.routes["/gpu"] = gpu if gpu is not None else {"error": "no GPU", "details": "CPU-only VM"}


@pytest.fixture
async def secretvm(server_identity: ServerIdentity, tmp_path: Path) -> AsyncIterator[SecretVM]:
    vm = await SecretVM(server_identity, tmp_path).start()
    yield vm
    await vm.server.stop()
    await asyncio.sleep(0)


REPLY = Reply.of("Sealed in the enclave — ünïcödé 🔒 and more words to stream.", "Reason first.")


@pytest.fixture
def app_for(secretvm: SecretVM, sgx_pki: TestSgxPki, settings: AttestationSettings, make_settings: Callable[..., Any],
            store: SqlConversationStore, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    monkeypatch.setenv("SECRET_AI_API_KEY", SECRET_AI_KEY)
    secretvm.server.reply_for = lambda _request: REPLY

    def make(*, policy: str = "warn", **kw: Any) -> contextlib.AbstractAsyncContextManager[AttestedApp]:
        """The app on the loopback SecretVM; `policy`: ATTESTATION_POLICY (most tests judge after: warn)."""
        from .attested_app import attested_app  # it builds on this module's SecretVM

        return attested_app(secretvm, sgx_pki, settings, make_settings(attestation_policy=policy), store, **kw)

    return make
