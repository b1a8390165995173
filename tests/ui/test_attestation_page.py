"""Attestation and proofs on the page (NiceGUI's simulated user): the header badge and the
details panel for a verified loopback HTTPS SecretVM (Check again, when the evidence was fetched
and its no-nonce caveat included), a host whose measurements changed since the app last verified
it (the badge's marker, the panel's chip, the verification log and its download, Noted), an
answer's badge, Download proof, and Verify a proof with an intact and a tampered file."""

from __future__ import annotations

import base64
import functools
import hashlib
import json

import pytest
from nicegui import ui
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from nicegui.testing import User

from secretgpt.proofs import HashChain, InstallationKey, canonical
from secretgpt.services.attestation import AttestationService, AttestationSettings, EvidenceVerifier, spki_sha256
from secretgpt.services.attestation import service as attestation_service
from secretgpt.services.attestation.measurement_log import MeasurementLog

from ..attestation.conftest import (  # noqa: F401 - fixtures
    ca_bundle,
    measurements,
    pccs,
    remote_services_unreachable,
    secretvm,
    server_identity,
    sgx_pki,
    test_ca,
)
from ..attestation.conftest import COMPOSE, SecretVM
from ..attestation.pccs import LoopbackPccs
from ..attestation.sgx_pki import Measurements, TestSgxPki, registry_measurements
from .test_chat_page import send, wait_for


def badge_texts(user: User) -> list[str]:
    try:
        return [b.text for b in user.find(marker="attestation-badge").elements]
    except AssertionError:
        return []


@pytest.fixture
def attested_host(secretvm: SecretVM, sgx_pki: TestSgxPki, measurements: Measurements, pccs: LoopbackPccs,
                  ca_bundle, monkeypatch: pytest.MonkeyPatch) -> SecretVM:
    """The app's model is the loopback SecretVM (its CA trusted through SECRET_AI_CA_BUNDLE, Intel's
    collateral from the loopback PCCS); the app's verifier is given the test SGX root, as the CA
    bundle gives the test TLS CA (nothing in the app can set it)."""
    secretvm.serve_evidence(sgx_pki.quote(spki_sha256(secretvm.identity.der), measurements))
    monkeypatch.setenv("SECRET_AI_URL", secretvm.origin)
    monkeypatch.setenv("SECRET_AI_PROTOCOL", "openai")
    monkeypatch.setenv("SECRET_AI_CA_BUNDLE", str(ca_bundle))
    monkeypatch.setenv("SECRETVM_PCCS_URL", pccs.url)
    monkeypatch.setattr(attestation_service, "EvidenceVerifier",
                        functools.partial(EvidenceVerifier, root_ca_der=sgx_pki.root_der))
    return secretvm


async def test_header_badge_and_panel_for_a_verified_host(attested_host: SecretVM, user: User) -> None:
    await user.open("/")
    await wait_for(lambda: "Verified confidential VM" in badge_texts(user), timeout=30, describe=lambda: badge_texts(user))
    user.find(marker="attestation-badge").click()
    await user.should_see(marker="attestation-panel")
    for text in ("Model host attestation", "TLS key fingerprint", "This connection: matches this connection",
                 "TCB status: UpToDate", "SecretVM template: small", "TEE type: Intel TDX", "Compose hash (SHA-256)",
                 "SecretVM evidence has no nonce", "not that it was produced for this request"):
        await user.should_see(text)
    [fetched] = user.find(marker="fetched-at").elements
    assert fetched.text.startswith("Evidence fetched: 20") and fetched.text.endswith(" UTC")
    await user.should_not_see(marker="changed-chip")  # first seen: nothing to compare with
    fetched = attested_host.server.requests.count("GET /cpu")
    user.find("Check again").click()
    await wait_for(lambda: attested_host.server.requests.count("GET /cpu") > fetched, timeout=30)
    await user.should_see("Verified confidential VM", retries=100)

    await send(user, "Is this confidential?")
    await user.should_see("Completed", retries=200)
    await wait_for(lambda: badge_texts(user).count("Verified confidential VM") == 2, timeout=30,
                   describe=lambda: badge_texts(user))
    user.find(marker="answer-badge").click()  # an answer's panel says it too (from the checks it keeps)
    await user.should_see("This answer's attestation")
    assert len(user.find(marker="fetched-at").elements) == len(user.find(marker="freshness-note").elements) == 2


async def test_answer_badge_download_and_verify_a_proof(user: User) -> None:
    await user.open("/")
    await send(user, "Hello")
    await user.should_see("Completed", retries=200)
    await user.should_see(marker="answer-badge", retries=100)
    assert [b.text for b in user.find(marker="answer-badge").elements] == ["Unverified"]  # the test model is plain http
    user.find(marker="answer-badge").click()
    await user.should_see("This answer's attestation")
    await user.should_see("plain http")

    user.find(marker="download-proof").click()
    response = await user.download.next(timeout=10)
    proof = json.loads(response.content)
    assert proof["proof"]["answer"]["ended"] == "completed"
    assert proof["proof"]["attestation"]["status"]["status"] == "unverified"

    fingerprint = user.find(marker="key-fingerprint").elements.pop().text
    assert proof["proof"]["signer"]["fingerprint"] == fingerprint and len(fingerprint) == 64

    user.find(marker="verify-proof-button").click()
    [upload] = user.find(kind=ui.upload, marker="proof-upload").elements
    await upload.handle_uploads([ui.upload.SmallFileUpload("proof.json", "application/json", response.content)])
    await user.should_see("Intact, but its evidence did not verify (exit 1)")
    await user.should_see(marker="proof-check-signature")
    # Who signed and what, first; then how the prompt was let go (the tests' policy is warn).
    await user.should_see("Signed by this installation")
    await user.should_see(hashlib.sha256(proof["proof"]["answer"]["text"].encode()).hexdigest())
    await user.should_see("ATTESTATION_POLICY=warn: prompts go to any host; answers are judged after")
    await user.should_see("no: the prompt was sent without checking the connection's key first")

    proof["proof"]["answer"]["text"] = proof["proof"]["answer"]["text"].replace("plain", "plane", 1)
    await upload.handle_uploads([ui.upload.SmallFileUpload("proof.json", "application/json",
                                                           json.dumps(proof).encode())])
    await user.should_see("Tampered with or malformed (exit 2)")

    # Another installation's proof, intact (here: this one's, edited, its chain rebuilt and signed
    # with a fresh key, as anyone can): never green, and it names the key.
    other = InstallationKey(Ed25519PrivateKey.generate())
    text = "Edited, then signed with a key of my own."
    body = proof["proof"]
    chain = HashChain()
    chain.add("r", body["answer"]["reasoning"])
    chain.add("c", text)
    body["answer"]["text"], body["chain"]["chunks"], body["chain"]["head"] = text, chain.chunks, chain.head
    body["signer"] = {"algorithm": "ed25519", "public_key": other.public_key_b64, "fingerprint": other.fingerprint}
    proof["signature"] = base64.b64encode(other.sign(canonical(body))).decode()
    await upload.handle_uploads([ui.upload.SmallFileUpload("proof.json", "application/json",
                                                           json.dumps(proof).encode())])
    await user.should_see("Intact, but signed by another installation (exit 3)")
    await user.should_see("Signed by another installation, not this one")
    await user.should_see(f"Key {other.fingerprint}")
    await user.should_see(f"“{text}”")

@pytest.fixture
async def verified_earlier(attested_host: SecretVM, sgx_pki: TestSgxPki, measurements: Measurements,
                           pccs: LoopbackPccs, ca_bundle, tmp_path) -> Measurements:
    """An earlier run of the app verified the VM with another image (another MRTD); it runs the
    usual one now. (A fixture: the app starts, and attests its host, before the test's body.)"""
    other = registry_measurements(COMPOSE, other_mrtd_than=measurements.mr_td)
    attested_host.serve_evidence(sgx_pki.quote(spki_sha256(attested_host.identity.der), other))
    (tmp_path / "data").mkdir(parents=True, exist_ok=True)
    earlier = AttestationService(AttestationSettings(secret_ai_ca_bundle=ca_bundle, secretvm_pccs_url=pccs.url),
                                 measurement_log=MeasurementLog(tmp_path / "data" / "attestation-log.jsonl"))
    assert (await earlier.attest(attested_host.origin)).status.status == "verified"
    await earlier.aclose()
    attested_host.serve_evidence(sgx_pki.quote(spki_sha256(attested_host.identity.der), measurements))
    return other


async def test_a_changed_host_is_flagged_with_its_log(verified_earlier: Measurements, measurements: Measurements,
                                                     user: User) -> None:
    other = verified_earlier
    await user.open("/")
    await wait_for(lambda: "Verified confidential VM" in badge_texts(user), timeout=30, describe=lambda: badge_texts(user))
    [badge] = user.find(marker="attestation-badge").elements
    assert badge.props.get("icon-right") == "published_with_changes"
    assert "changed since you last used it" in badge.props["aria-label"]
    user.find(marker="attestation-badge").click()
    await user.should_see("Changed since you last used it")
    [mrtd] = user.find(marker="change-mr_td").elements
    assert mrtd.text == f"MRTD: {other.mr_td.hex()[:12]}… → {measurements.mr_td.hex()[:12]}…"

    user.find(marker="open-verification-log").click()
    await user.should_see(marker="verification-log")
    await wait_for(lambda: log_entries(user) == 2, describe=lambda: log_entries(user))
    await user.should_see("Changed: MRTD")
    user.find(marker="download-log").click()
    download = await user.download.next(timeout=10)
    kept = [json.loads(line) for line in download.content.decode().splitlines()]
    assert [e["measurements"]["mr_td"] for e in kept] == [other.mr_td.hex(), measurements.mr_td.hex()]

    user.find(marker="acknowledge-change").click()
    await user.should_not_see(marker="changed-chip", retries=50)
    await wait_for(lambda: badge.props.get("icon-right") is None, timeout=10)  # the page's timer: no marker


def log_entries(user: User) -> int:
    try:
        return len(user.find(marker="log-entry").elements)
    except AssertionError:
        return 0
