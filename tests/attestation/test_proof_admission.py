"""Proofs say how the prompt was let go: under which ATTESTATION_POLICY, whether the connection's
key was checked at the handshake before anything was sent, and the consent to send to a host that
was not verified (when, how, the host's state then). Signed with the rest, printed by the
verifier; a proof made before this was recorded (format /1) still verifies."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from secretgpt.proofs import EXIT_TAMPERED, EXIT_UNVERIFIED, EXIT_VERIFIED, canonical
from secretgpt.proofs.__main__ import main
from secretgpt.services.attestation import EvidenceVerifier, spki_sha256

from .attested_app import AttestedApp, final_event
from .conftest import SecretVM
from .sgx_pki import Measurements, TestSgxPki


async def proof_of(app: AttestedApp, **body: Any) -> dict[str, Any]:
    final = await final_event(app, **body)
    assert final["type"] == "done", final
    response = await app.proof(final["conversation_id"], final["message_id"])
    assert response.status_code == 200, response.text
    return response.json()


async def verified(path: Path, capsys: pytest.CaptureFixture[str], pki: TestSgxPki, key: str) -> tuple[int, str]:
    code = await asyncio.to_thread(main, ["verify", str(path), "--key", key],
                                   verifier=EvidenceVerifier(root_ca_der=pki.root_der))
    return code, capsys.readouterr().out


async def test_a_verified_host_under_require_had_its_key_checked(
        app_for: Callable[..., Any], secretvm: SecretVM, sgx_pki: TestSgxPki, measurements: Measurements,
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    secretvm.serve_evidence(sgx_pki.quote(spki_sha256(secretvm.identity.der), measurements))
    async with app_for(policy="require") as app:
        signed = await proof_of(app)
        key = app.hub.attestation.fingerprint
    proof = signed["proof"]
    assert proof["format"] == "secretgpt-proof/2"
    assert proof["admission"] == {"policy": "require", "key_checked": True, "consent": None, "demo": False}
    path = tmp_path / "proof.json"
    path.write_text(json.dumps(signed), encoding="utf-8")
    code, out = await verified(path, capsys, sgx_pki, key)
    assert code == EXIT_VERIFIED, out
    assert "INFO  policy      ATTESTATION_POLICY=require: prompts go only to verified confidential VMs" in out
    assert ("INFO  key_checked yes: the connection's TLS key was checked against the verified attestation at the "
            "handshake, before the prompt was sent") in out
    assert "INFO  consent     none\n" in out

    # Signed with the rest: claiming the key was checked when it was not is tampering.
    signed["proof"]["admission"]["policy"] = "warn"
    path.write_text(json.dumps(signed), encoding="utf-8")
    code, out = await verified(path, capsys, sgx_pki, key)
    assert code == EXIT_TAMPERED and "FAIL  signature" in out


async def test_sent_anyway_over_the_api_records_the_consent(
        app_for: Callable[..., Any], tmp_path: Path, sgx_pki: TestSgxPki,
        capsys: pytest.CaptureFixture[str]) -> None:
    async with app_for(policy="require") as app:  # no evidence served: the host cannot be verified
        before = datetime.now().astimezone()
        signed = await proof_of(app, allow_unverified=True)
        key = app.hub.attestation.fingerprint
    admission = signed["proof"]["admission"]
    assert (admission["policy"], admission["key_checked"], admission["demo"]) == ("require", False, False)
    consent = admission["consent"]
    assert consent["via"] == "api" and consent["host_status"] == "unverified"
    assert "no evidence served" in consent["reason"]
    given = datetime.fromisoformat(consent["given_at"])
    assert given.tzinfo is not None and given >= before
    path = tmp_path / "proof.json"
    path.write_text(json.dumps(signed), encoding="utf-8")
    code, out = await verified(path, capsys, sgx_pki, key)
    assert code == EXIT_UNVERIFIED, out
    assert "INFO  key_checked no: the prompt was sent without checking the connection's key first" in out
    assert (f"INFO  consent     given {given:%Y-%m-%d %H:%M:%S} UTC via the API (allow_unverified), to send to a "
            f"host that was unverified: {consent['reason']}") in out


@pytest.mark.parametrize("case", ["warn", "demo"])
async def test_warn_and_the_demo_say_so(app_for: Callable[..., Any], tmp_path: Path, sgx_pki: TestSgxPki,
                                        capsys: pytest.CaptureFixture[str], case: str) -> None:
    async with app_for(policy="warn" if case == "warn" else "require", demo=case == "demo") as app:
        signed = await proof_of(app)
        key = app.hub.attestation.fingerprint
    expected = {"policy": "warn", "key_checked": False, "consent": None, "demo": False} if case == "warn" else \
        {"policy": "require", "key_checked": False, "consent": None, "demo": True}
    assert signed["proof"]["admission"] == expected
    path = tmp_path / "proof.json"
    path.write_text(json.dumps(signed), encoding="utf-8")
    code, out = await verified(path, capsys, sgx_pki, key)
    assert code == EXIT_UNVERIFIED, out
    if case == "warn":
        assert "ATTESTATION_POLICY=warn: prompts go to any host; answers are judged after" in out
        assert "key_checked no: the prompt was sent without checking" in out
    else:
        assert "key_checked no: the offline demo model (local, nothing to attest)" in out


async def test_a_proof_of_format_1_still_verifies(app_for: Callable[..., Any], secretvm: SecretVM,
                                                  sgx_pki: TestSgxPki, measurements: Measurements, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """A proof downloaded before admissions were recorded: format /1, no admission field, signed
    as it was. /1 with an admission, or /2 without one, is malformed."""
    secretvm.serve_evidence(sgx_pki.quote(spki_sha256(secretvm.identity.der), measurements))
    async with app_for(policy="require") as app:
        signed = await proof_of(app)
        key = app.hub.attestation.key
    path = tmp_path / "proof.json"

    def resigned(proof: dict[str, Any]) -> str:
        signature = base64.b64encode(key.sign(canonical(proof))).decode()
        return json.dumps({"proof": proof, "signature": signature})

    older = json.loads(json.dumps(signed["proof"]))
    older["format"] = "secretgpt-proof/1"
    del older["admission"]
    path.write_text(resigned(older), encoding="utf-8")
    code, out = await verified(path, capsys, sgx_pki, key.fingerprint)
    assert code == EXIT_VERIFIED, out
    assert ("INFO  admission   not recorded (the answer was stored before SecretGPT recorded how prompts were "
            "let go)") in out
    assert "key_checked" not in out

    for fmt, drop in (("secretgpt-proof/1", False), ("secretgpt-proof/2", True)):
        proof = json.loads(json.dumps(signed["proof"]))
        proof["format"] = fmt
        if drop:
            del proof["admission"]
        path.write_text(resigned(proof), encoding="utf-8")
        code, out = await verified(path, capsys, sgx_pki, key.fingerprint)
        assert code == EXIT_TAMPERED and "FAIL  format" in out, out
