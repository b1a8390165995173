"""The four states, end to end: a loopback HTTPS SecretVM serves evidence, the real libraries
verify it (dcap-qvl against a test root, secretvm-verify's registry), and the key of the
connection decides between verified and unbound."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest

from secretgpt.services.attestation import (
    AttestationService,
    AttestationSettings,
    EvidenceVerifier,
    record_peer_certificates,
    spki_sha256,
)
from secretgpt.services.attestation import fetch
from secretgpt.services.attestation.models import CPU_QUOTE, GPU, GPU_NONCE, TCB, TLS_KEY, WORKLOAD

from tests.support.app_process import free_port

from .conftest import SecretVM
from .pccs import LoopbackPccs
from .sgx_pki import Measurements, TestSgxPki, registry_measurements
from .tls_pki import ServerIdentity, TestCA


def service(settings: AttestationSettings, sgx_pki: TestSgxPki) -> AttestationService:
    verifier = EvidenceVerifier(pccs_url=settings.secretvm_pccs_url, root_ca_der=sgx_pki.root_der)
    return AttestationService(settings, verifier=verifier)


def bound_quote(vm: SecretVM, pki: TestSgxPki, measurements: Measurements, gpu_nonce: bytes = bytes(32)) -> bytes:
    return pki.quote(spki_sha256(vm.identity.der) + gpu_nonce, measurements)


async def test_an_attestation_started_during_an_answer_leaves_the_answers_certificates_alone(
        secretvm: SecretVM, sgx_pki: TestSgxPki, measurements: Measurements, settings: AttestationSettings,
        pccs: LoopbackPccs) -> None:
    """The answer's log holds the connection that streamed it, never the evidence downloads (else an
    answer on a new key would be judged against the key the evidence came over)."""
    secretvm.serve_evidence(bound_quote(secretvm, sgx_pki, measurements))
    attestation = service(settings, sgx_pki)
    with record_peer_certificates() as answer_log:
        attestation.observe(secretvm.origin, secretvm.identity.der)  # what an answer's first chunk does
        host = await attestation.attest(secretvm.origin)
    assert host.status.status == "verified", host.status.reason
    assert "GET /cpu" in secretvm.server.requests  # the evidence did come over HTTPS, inside the block
    assert answer_log.seen == []


async def test_bound_host_is_verified(secretvm: SecretVM, sgx_pki: TestSgxPki, measurements: Measurements,
                                      settings: AttestationSettings, pccs: LoopbackPccs) -> None:
    secretvm.serve_evidence(bound_quote(secretvm, sgx_pki, measurements))
    attestation = service(settings, sgx_pki)
    status = await attestation.answer_status(secretvm.origin, secretvm.identity.der)

    assert status.status == "verified", status.reason
    assert status.bound
    assert [(c.name, c.outcome) for c in status.checks if c.required] == [
        ("evidence", "pass"), (CPU_QUOTE, "pass"), (TCB, "pass"), (WORKLOAD, "pass"), (TLS_KEY, "pass")]
    assert status.check(TCB).values["tcb_status"] == "UpToDate"
    assert status.check(WORKLOAD).values["template"] == measurements.template
    assert status.check(WORKLOAD).values["version"] == measurements.version
    assert status.check(TLS_KEY).values["matches_this_connection"] is True
    assert status.check(GPU).outcome == "skipped" and not status.check(GPU).required
    host = attestation.host(secretvm.origin)
    assert host is not None and host.evidence is not None and host.status.status == "verified"
    assert host.evidence.collateral and host.evidence.pccs_url == pccs.url  # kept for offline re-checks
    assert host.evidence.certificate_der() == secretvm.identity.der
    assert status.attestation_id == host.evidence.attestation_id()
    assert any("/tdx/certification/v4/tcb" in r for r in pccs.requests)
    assert "GET /cpu" in secretvm.server.requests


async def test_evidence_goes_without_the_api_key(secretvm: SecretVM, sgx_pki: TestSgxPki, measurements: Measurements,
                                                 settings: AttestationSettings,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_AI_API_KEY", "sk-must-stay-home")
    sent: list[httpx.Request] = []
    real_send = httpx.AsyncClient.send

    async def spy(self: httpx.AsyncClient, request: httpx.Request, **kwargs: object) -> httpx.Response:
        sent.append(request)
        return await real_send(self, request, **kwargs)

    monkeypatch.setattr(httpx.AsyncClient, "send", spy)
    secretvm.serve_evidence(bound_quote(secretvm, sgx_pki, measurements))
    await service(settings, sgx_pki).attest(secretvm.origin)
    assert [r.url.path for r in sent] == ["/cpu", "/docker-compose", "/gpu"]
    for request in sent:
        assert "authorization" not in request.headers
        assert "sk-must-stay-home" not in str(request.headers) and "sk-must-stay-home" not in str(request.url)


async def test_evidence_on_the_older_port(secretvm: SecretVM, sgx_pki: TestSgxPki, measurements: Measurements,
                                          settings: AttestationSettings, server_identity: ServerIdentity,
                                          tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The origin serves only the model API; the evidence comes from the older layout's port
    (29343, here a free port standing in for it), same host, same key."""
    legacy = await SecretVM(server_identity, tmp_path).start()
    try:
        legacy.serve_evidence(bound_quote(secretvm, sgx_pki, measurements))
        monkeypatch.setattr(fetch, "LEGACY_EVIDENCE_PORT", legacy.server.port)
        attestation = service(settings, sgx_pki)
        status = await attestation.answer_status(secretvm.origin, secretvm.identity.der)
        assert status.status == "verified", status.reason
        assert status.check("evidence").values["served_from"] == legacy.origin
        assert "GET /cpu" in secretvm.server.requests and "GET /cpu" in legacy.server.requests
    finally:
        await legacy.server.stop()


async def test_a_silent_pccs_times_out_as_unverified(secretvm: SecretVM, sgx_pki: TestSgxPki,
                                                    measurements: Measurements, ca_bundle: Path) -> None:
    with socket.socket() as silent:  # accepts connections (backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        secretvm.serve_evidence(bound_quote(secretvm, sgx_pki, measurements))
        verifier = EvidenceVerifier(pccs_url=url, pccs_timeout=0.5, root_ca_der=sgx_pki.root_der)
        attestation = AttestationService(AttestationSettings(secret_ai_ca_bundle=ca_bundle), verifier=verifier)
        status = await attestation.answer_status(secretvm.origin, secretvm.identity.der)
    assert status.status == "unverified" and "did not answer within 0.5 s" in status.reason


async def test_another_key_is_unbound_never_verified(secretvm: SecretVM, sgx_pki: TestSgxPki,
                                                    measurements: Measurements, settings: AttestationSettings,
                                                    test_ca: TestCA) -> None:
    secretvm.serve_evidence(bound_quote(secretvm, sgx_pki, measurements))
    attestation = service(settings, sgx_pki)
    other = test_ca.issue_server().der  # e.g. a proxy in the middle with its own certificate

    status = await attestation.answer_status(secretvm.origin, other)

    assert status.status == "unbound" and not status.bound
    assert "not the one in the quote" in status.reason
    assert status.check(TLS_KEY).values["matches_this_connection"] is False
    assert status.check(TLS_KEY).values["connection_key_sha256"] == spki_sha256(other).hex()
    # the same evidence with the VM's own connection is verified: only the key differs
    assert (await attestation.answer_status(secretvm.origin, secretvm.identity.der)).status == "verified"


async def test_a_quote_for_another_key_makes_the_host_unbound(secretvm: SecretVM, sgx_pki: TestSgxPki,
                                                             measurements: Measurements,
                                                             settings: AttestationSettings) -> None:
    secretvm.serve_evidence(sgx_pki.quote(b"\x42" * 32, measurements))
    host = await service(settings, sgx_pki).attest(secretvm.origin)
    assert host.status.status == "unbound"


async def test_no_evidence_is_unverified(secretvm: SecretVM, sgx_pki: TestSgxPki,
                                         settings: AttestationSettings) -> None:
    status = await service(settings, sgx_pki).answer_status(secretvm.origin, secretvm.identity.der)
    assert status.status == "unverified"
    assert "no evidence served" in status.reason and "/cpu: HTTP 404" in status.reason


async def test_a_tampered_quote_fails(secretvm: SecretVM, sgx_pki: TestSgxPki, measurements: Measurements,
                                      settings: AttestationSettings) -> None:
    quote = bytearray(bound_quote(secretvm, sgx_pki, measurements))
    quote[48 + 136] ^= 0x01  # one bit of MRTD, inside the signed body
    secretvm.serve_evidence(bytes(quote))
    status = await service(settings, sgx_pki).answer_status(secretvm.origin, secretvm.identity.der)
    assert status.status == "failed"
    assert status.check(CPU_QUOTE).outcome == "fail"
    assert "cpu_quote failed" in status.reason


async def test_the_wrong_compose_fails_the_workload(secretvm: SecretVM, sgx_pki: TestSgxPki,
                                                   measurements: Measurements, settings: AttestationSettings) -> None:
    secretvm.serve_evidence(bound_quote(secretvm, sgx_pki, measurements), compose="services: {}\n")
    status = await service(settings, sgx_pki).answer_status(secretvm.origin, secretvm.identity.der)
    assert status.status == "failed"
    assert status.check(WORKLOAD).values["result"] == "authentic_mismatch"
    assert "workload failed" in status.reason


async def test_the_apps_verifier_trusts_only_intels_root(secretvm: SecretVM, sgx_pki: TestSgxPki,
                                                         measurements: Measurements,
                                                         settings: AttestationSettings) -> None:
    # The app's verifier (Intel's root) refuses what the test root accepts.
    secretvm.serve_evidence(bound_quote(secretvm, sgx_pki, measurements))
    app_service = AttestationService(settings)
    status = await app_service.answer_status(secretvm.origin, secretvm.identity.der)
    assert status.status == "failed" and status.check(CPU_QUOTE).outcome == "fail"


async def test_pccs_unreachable_is_unverified(secretvm: SecretVM, sgx_pki: TestSgxPki, measurements: Measurements,
                                              ca_bundle) -> None:
    secretvm.serve_evidence(bound_quote(secretvm, sgx_pki, measurements))
    settings = AttestationSettings(secret_ai_ca_bundle=ca_bundle, secretvm_pccs_url=f"http://127.0.0.1:{free_port()}")
    status = await service(settings, sgx_pki).answer_status(secretvm.origin, secretvm.identity.der)
    assert status.status == "unverified"
    assert "Intel collateral unavailable" in status.reason


async def test_gpu_evidence_needs_nvidia_which_is_unreachable_offline(secretvm: SecretVM, sgx_pki: TestSgxPki,
                                                                     measurements: Measurements,
                                                                     settings: AttestationSettings) -> None:
    nonce = bytes(range(32))
    secretvm.serve_evidence(bound_quote(secretvm, sgx_pki, measurements, gpu_nonce=nonce),
                            gpu={"nonce": nonce.hex(), "arch": "HOPPER", "evidence_list": []})
    status = await service(settings, sgx_pki).answer_status(secretvm.origin, secretvm.identity.der)
    assert status.status == "unverified"
    assert status.check(GPU_NONCE).outcome == "pass"
    assert status.check(GPU).outcome == "skipped" and status.check(GPU).values["arch"] == "HOPPER"
    assert "NVIDIA's attestation service unreachable" in status.reason


async def test_gpu_evidence_for_another_quote_fails(secretvm: SecretVM, sgx_pki: TestSgxPki,
                                                   measurements: Measurements, settings: AttestationSettings) -> None:
    secretvm.serve_evidence(bound_quote(secretvm, sgx_pki, measurements, gpu_nonce=b"\x01" * 32),
                            gpu={"nonce": "02" * 32, "arch": "HOPPER", "evidence_list": []})
    status = await service(settings, sgx_pki).answer_status(secretvm.origin, secretvm.identity.der)
    assert status.status == "failed" and "gpu_nonce failed" in status.reason


async def test_demo_and_plain_http_are_unverified(settings: AttestationSettings, sgx_pki: TestSgxPki) -> None:
    attestation = service(settings, sgx_pki)
    demo = await attestation.answer_status("http://127.0.0.1:9", None, demo=True)
    assert demo.status == "unverified" and demo.reason == "Demo model — not a confidential VM"
    plain = await attestation.answer_status("http://model.example:11434", None)
    assert plain.status == "unverified" and plain.reason.startswith("plain http")
    assert attestation.hosts() == []  # nothing was fetched


@pytest.mark.parametrize("template", ["small"])
def test_registry_measurements_are_a_known_image(template: str) -> None:
    from secretgpt.services.attestation.library import resolve_version

    m = registry_measurements("x", template)
    pki = TestSgxPki()
    assert resolve_version(pki.quote(bytes(64), m).hex()) == {"template_name": m.template, "artifacts_ver": m.version}
