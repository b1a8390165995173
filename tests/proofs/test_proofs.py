"""Proofs end to end: an answer streamed from the loopback SecretVM, attested, signed, written,
and checked again offline; tampering gives exit 2."""

from __future__ import annotations

import asyncio
import base64
import functools
import json
import os
import stat
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from secretgpt.proofs import (
    EXIT_TAMPERED,
    EXIT_UNVERIFIED,
    EXIT_VERIFIED,
    AdmissionRecord,
    Answer,
    AttestationRecord,
    Connection,
    ConsentRecord,
    HashChain,
    InstallationKey,
    KeyFileError,
    SignedProof,
    Turn,
    build_proof,
    canonical,
    verify_proof,
)
from secretgpt.proofs.__main__ import main
from secretgpt.proofs.keys import KEY_FILE
from secretgpt.services.attestation import (
    AttestationService,
    AttestationSettings,
    Evidence,
    EvidenceVerifier,
    spki_sha256,
    status_for_connection,
)
from secretgpt.services.attestation.status import DEMO_REASON, unverified
from secretgpt.services.loopback_model import Reply

from ..attestation.conftest import REPO, SecretVM
from ..attestation.sgx_pki import Measurements, TestSgxPki
from .conftest import StreamedAnswer, stream_answer

TURNS = [Turn(role="system", content="Be brief."), Turn(role="user", content="Tell me")]
REPLY = Reply.of("Confidential computing keeps data encrypted in use — even ünïcödé 🔒.", "Think first.")


def test_chain_keeps_lengths_only_and_replays() -> None:
    from secretgpt.proofs.chain import replay, split

    chain = HashChain()
    for kind, text in [("r", "Hm"), ("c", "Hé"), ("c", ""), ("c", "llo 🔒")]:
        chain.add(kind, text)  # type: ignore[arg-type]
    assert chain.chunks == [("r", 2), ("c", 3), ("c", 8)]
    assert replay(split("Héllo 🔒", "Hm", chain.chunks)) == chain.head
    assert replay(split("Héllo 🔓", "Hm", chain.chunks)) != chain.head
    with pytest.raises(ValueError, match="longer than its chunks"):
        split("Héllo 🔒!", "Hm", chain.chunks)
    with pytest.raises(ValueError):
        chain.add("x", "no")  # type: ignore[arg-type]


def test_installation_key_is_private_and_stable(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    key = InstallationKey.load_or_create(data_dir)
    path = data_dir / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = InstallationKey.load_or_create(data_dir)
    assert again.fingerprint == key.fingerprint and len(key.fingerprint) == 64

    path.chmod(0o644)
    assert InstallationKey.load_or_create(data_dir).fingerprint == key.fingerprint
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    path.write_text("not a key")
    with pytest.raises(KeyFileError, match="not a readable private key"):
        InstallationKey.load_or_create(data_dir)
    assert path.read_text() == "not a key"  # left for the person to look at, not replaced


def sign(answer: StreamedAnswer, key: InstallationKey, origin: str, status, evidence: Evidence | None) -> SignedProof:
    return build_proof(
        key=key, turns=TURNS, model="loopback", chain=answer.chain,
        answer=Answer(text=answer.text, reasoning=answer.reasoning, ended=answer.ended),  # type: ignore[arg-type]
        connection=Connection(origin=origin, certificate=base64.b64encode(answer.certificate).decode()
                              if answer.certificate else None),
        attestation=AttestationRecord(status=status, evidence=evidence),
        started_at=answer.started_at, finished_at=answer.finished_at or answer.started_at,
        generation={"temperature": 0.7, "seed": 42}, conversation_id="c1", message_id="m1",
    )


async def attested_answer(vm: SecretVM, pki: TestSgxPki, measurements: Measurements, settings: AttestationSettings,
                          key: InstallationKey, *, stop_after: int | None = None) -> SignedProof:
    vm.serve_evidence(pki.quote(spki_sha256(vm.identity.der), measurements))
    vm.server.reply_for = lambda _request: REPLY
    service = AttestationService(settings, verifier=EvidenceVerifier(pccs_url=settings.secretvm_pccs_url,
                                                                     root_ca_der=pki.root_der))
    answer = await stream_answer(vm, settings.secret_ai_ca_bundle, stop_after=stop_after)  # type: ignore[arg-type]
    status = await service.answer_status(vm.origin, answer.certificate)
    host = service.host(vm.origin)
    assert status.status == "verified", status.reason
    return sign(answer, key, vm.origin, status, host.evidence if host else None)


@pytest.mark.parametrize("stop_after", [None, 3], ids=["completed", "stopped"])
async def test_round_trip_verifies_offline(secretvm: SecretVM, sgx_pki: TestSgxPki, measurements: Measurements,
                                           settings: AttestationSettings, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str], stop_after: int | None) -> None:
    key = InstallationKey.load_or_create(tmp_path / "data")
    proof = await attested_answer(secretvm, sgx_pki, measurements, settings, key, stop_after=stop_after)
    assert proof.proof.answer.ended == ("stopped" if stop_after else "completed")
    if stop_after:
        assert REPLY.text.startswith(proof.proof.answer.text) and proof.proof.answer.text != REPLY.text
    else:
        assert proof.proof.answer.text == REPLY.text and proof.proof.answer.reasoning == REPLY.thinking
    path = tmp_path / "proof.json"
    path.write_text(proof.to_json(), encoding="utf-8")

    # The app's verifier trusts Intel's root only; this test hands the test root to the verifier.
    code = await asyncio.to_thread(main, ["verify", str(path), "--key", key.fingerprint],
                                   verifier=EvidenceVerifier(root_ca_der=sgx_pki.root_der))
    out = capsys.readouterr().out
    assert code == EXIT_VERIFIED, out
    for line in ("PASS  signature", "PASS  hash_chain", "PASS  cpu_quote", "PASS  tcb", "PASS  workload",
                 "PASS  tls_key"):
        assert line in out
    assert ("stopped: the text is what had arrived" in out) == bool(stop_after)


async def test_cli_with_intels_root_says_why_it_did_not_verify(secretvm: SecretVM, sgx_pki: TestSgxPki,
                                                              measurements: Measurements,
                                                              settings: AttestationSettings, tmp_path: Path) -> None:
    key = InstallationKey.load_or_create(tmp_path / "data")
    path = tmp_path / "proof.json"
    path.write_text((await attested_answer(secretvm, sgx_pki, measurements, settings, key)).to_json())
    result = run_cli(path, "--key", key.fingerprint)
    assert result.returncode == EXIT_UNVERIFIED, result.stdout + result.stderr
    assert "FAIL  cpu_quote" in result.stdout and "recorded as verified" in result.stdout


def run_cli(path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "secretgpt.proofs", "verify", str(path), *extra], cwd=REPO,
                          capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(REPO)})


async def test_demo_answer_proof_is_intact_but_unverified(tmp_path: Path) -> None:
    key = InstallationKey.load_or_create(tmp_path)
    answer = StreamedAnswer(text="Hello from the demo.", finished_at=datetime.now(timezone.utc))
    answer.chain.add("c", answer.text)
    proof = sign(answer, key, "http://127.0.0.1:8123", unverified("http://127.0.0.1:8123", DEMO_REASON), None)
    report = await verify_proof(proof.to_json().encode(), trusted_keys=[key.fingerprint])
    assert report.exit_code == EXIT_UNVERIFIED
    assert "Demo model — not a confidential VM" in report.summary


async def test_admission_not_recorded_and_a_consent_given_on_the_page(tmp_path: Path) -> None:
    key = InstallationKey.load_or_create(tmp_path)
    origin = "https://vm.example:21434"
    answer = StreamedAnswer(text="Sent anyway.", finished_at=datetime.now(timezone.utc))
    answer.chain.add("c", answer.text)
    status = unverified(origin, "no evidence served")
    # An answer stored before admissions were recorded: format /2, admission null, and it says so.
    older = sign(answer, key, origin, status, None)
    assert (older.proof.format, older.proof.admission) == ("secretgpt-proof/2", None)
    assert '"admission": null' in older.to_json()
    report = await verify_proof(older.to_json().encode(), trusted_keys=[key.fingerprint])
    assert [(line.name, line.detail) for line in report.lines if line.name in ("admission", "policy", "consent")] \
        == [("admission", "not recorded (the answer was stored before SecretGPT recorded how prompts were let go)")]

    given = datetime(2025, 3, 4, 5, 6, 7, tzinfo=timezone(timedelta(hours=2)))
    admission = AdmissionRecord(policy="require", key_checked=False, consent=ConsentRecord(
        given_at=given, via="page", host_status="unverified", reason="no evidence served"))
    proof = build_proof(key=key, turns=TURNS, model="m", chain=answer.chain, answer=Answer(text=answer.text,
                        ended="completed"), connection=Connection(origin=origin),
                        attestation=AttestationRecord(status=status), started_at=given, finished_at=given,
                        admission=admission)
    report = await verify_proof(proof.to_json().encode(), trusted_keys=[key.fingerprint])
    lines = {line.name: line.detail for line in report.lines}
    assert lines["consent"] == ('given 2025-03-04 03:06:07 UTC via the page ("Send anyway"), to send to a host that '
                                "was unverified: no evidence served")
    assert lines["key_checked"].startswith("no: ") and report.exit_code == EXIT_UNVERIFIED


def resign(raw: dict, key: InstallationKey) -> dict:
    raw["signature"] = base64.b64encode(key.sign(canonical(raw["proof"]))).decode()
    return raw


@pytest.fixture
async def signed(secretvm: SecretVM, sgx_pki: TestSgxPki, measurements: Measurements, settings: AttestationSettings,
                 tmp_path: Path) -> tuple[dict, InstallationKey, EvidenceVerifier]:
    key = InstallationKey.load_or_create(tmp_path / "data")
    proof = await attested_answer(secretvm, sgx_pki, measurements, settings, key)
    # The key the proof is checked against is this installation's, as Settings shows it.
    verifier = functools.partial(verify_proof, verifier=EvidenceVerifier(root_ca_der=sgx_pki.root_der),
                                 trusted_keys=[key.fingerprint])
    assert (await verifier(proof.to_json().encode())).exit_code == EXIT_VERIFIED
    return json.loads(proof.to_json()), key, verifier


def _flip_char(text: str, at: int) -> str:
    return text[:at] + ("X" if text[at] != "X" else "Y") + text[at + 1:]


@pytest.mark.parametrize("where", ["text", "chunk", "quote", "turn", "status", "continued"])
async def test_one_changed_character_is_tampering(signed: tuple, where: str) -> None:
    raw, _key, verifier = signed
    proof = raw["proof"]
    if where == "text":
        proof["answer"]["text"] = _flip_char(proof["answer"]["text"], 5)
    elif where == "chunk":
        proof["chain"]["chunks"][1][1] += 1
    elif where == "quote":
        quote = proof["attestation"]["evidence"]["cpu_quote"]
        proof["attestation"]["evidence"]["cpu_quote"] = quote[:300] + ("0" if quote[300] != "0" else "1") + quote[301:]
    elif where == "turn":
        proof["turns"][1]["content"] = "Tell me more"
    elif where == "continued":
        proof["answer"]["continued_text_bytes"] = 3  # claims its start came from an earlier answer
    else:
        proof["attestation"]["status"]["status"] = "failed"
    report = await verifier(json.dumps(raw).encode())
    assert report.exit_code == EXIT_TAMPERED
    assert report.lines[-1].name == "signature" and report.lines[-1].outcome == "fail"


async def test_re_signed_text_is_caught_by_the_hash_chain(signed: tuple) -> None:
    raw, key, verifier = signed
    raw["proof"]["answer"]["text"] = _flip_char(raw["proof"]["answer"]["text"], 5)
    report = await verifier(json.dumps(resign(raw, key)).encode())
    assert report.exit_code == EXIT_TAMPERED and "hash_chain failed" in report.summary


async def test_carrying_over_more_than_the_text_is_malformed(signed: tuple) -> None:
    raw, key, verifier = signed
    assert raw["proof"]["answer"]["continued_text_bytes"] == 0  # a normal answer: nothing carried over
    report = await verifier(json.dumps(raw).encode())
    assert report.exit_code == EXIT_VERIFIED and not any(line.name == "continued" for line in report.lines)
    # A proof made before the count was recorded (no such fields, signed as it was) still verifies.
    older = json.loads(json.dumps(raw))
    del older["proof"]["answer"]["continued_text_bytes"], older["proof"]["answer"]["continued_reasoning_bytes"]
    assert (await verifier(json.dumps(resign(older, key)).encode())).exit_code == EXIT_VERIFIED
    raw["proof"]["answer"]["continued_reasoning_bytes"] = len(raw["proof"]["answer"]["reasoning"].encode()) + 1
    report = await verifier(json.dumps(resign(raw, key)).encode())
    assert report.exit_code == EXIT_TAMPERED and report.lines[-1].name == "format"
    assert "more reasoning carried over" in report.summary


async def test_re_signed_quote_is_evidence_that_does_not_verify(signed: tuple) -> None:
    raw, key, verifier = signed
    evidence = raw["proof"]["attestation"]["evidence"]
    quote = bytearray(bytes.fromhex(evidence["cpu_quote"]))
    quote[48 + 136] ^= 1
    evidence["cpu_quote"] = quote.hex()
    report = await verifier(json.dumps(resign(raw, key)).encode())
    assert report.exit_code == EXIT_UNVERIFIED and "cpu_quote failed" in report.summary


async def test_other_signers_and_garbage_are_rejected(signed: tuple, tmp_path: Path) -> None:
    raw, _key, verifier = signed
    other = InstallationKey.load_or_create(tmp_path / "other")
    data = json.dumps(raw).encode()
    report = await verifier(data, expected_keys=[other.fingerprint])
    assert report.exit_code == EXIT_TAMPERED and "not the expected" in report.summary
    report = await verifier(json.dumps(resign(raw, other)).encode())
    assert report.exit_code == EXIT_TAMPERED  # signed by another key than the one embedded
    for garbage in (b"{not json", b'{"proof": {}, "signature": ""}', "ü".encode("latin-1")):
        report = await verifier(garbage)
        assert report.exit_code == EXIT_TAMPERED and report.lines[-1].name == "format"
    path = tmp_path / "bad.json"
    path.write_bytes(b"{not json")
    assert run_cli(path).returncode == EXIT_TAMPERED


async def test_a_file_that_is_not_a_proof_is_named_so_with_what_was_expected(tmp_path: Path) -> None:
    """Not "Field required (and 6 more)": another JSON file (an export, anything) is not a proof."""
    cases = {b'{"photos": []}': "it is JSON, but not a proof", b"[1, 2]": "it is JSON, but not a proof",
             b'{"proof": {"format": "secretgpt-proof/9"}}': "it is a proof of format secretgpt-proof/9, which "
                                                            "this version cannot read",
             b"{not json": "it is not JSON"}
    for data, why in cases.items():
        report = await verify_proof(data)
        assert (report.exit_code, report.is_proof) == (EXIT_TAMPERED, False)
        assert report.summary.startswith(f"not a SecretGPT proof file: {why}"), report.summary
        assert report.lines[-1].name == "format"
        assert 'expected the file Download proof saves: JSON with "proof" (format secretgpt-proof/2) and ' \
               '"signature"' in report.lines[-1].detail
        assert "Field required" not in report.lines[-1].detail
    # A proof with a field missing is a malformed proof, not some other file: its fields are named.
    report = await verify_proof(b'{"proof": {"format": "secretgpt-proof/1"}, "signature": ""}')
    assert report.is_proof and "Field required" in report.summary
    path = tmp_path / "photos.json"
    path.write_bytes(b'{"photos": []}')
    result = run_cli(path)
    assert result.returncode == EXIT_TAMPERED
    assert "Result: not a SecretGPT proof file: it is JSON, but not a proof (exit 2)" in result.stdout


async def test_recorded_intel_quote_reverifies_at_its_captured_time(shared: Path, tmp_path: Path,
                                                                   server_identity) -> None:
    """Real Intel evidence (dcap-qvl's sample) in a proof: the quote verifies against Intel's root
    with its stored collateral at the captured time, though it is not a SecretVM (exit 1)."""
    evidence = Evidence(origin="https://vm.example:21434", served_from="https://vm.example:21434",
                        captured_at=datetime.fromtimestamp(1750331763, timezone.utc),
                        cpu_quote=(shared / "dcap_tdx_quote").read_bytes().hex(), compose="services: {}\n",
                        collateral=(shared / "dcap_tdx_quote_collateral.json").read_text())
    verdict = await EvidenceVerifier().verify_offline(evidence)
    status = status_for_connection(evidence.origin, verdict, server_identity.der, attestation_id="x")
    answer = StreamedAnswer(text="An answer.", certificate=server_identity.der, finished_at=datetime.now(timezone.utc))
    answer.chain.add("c", answer.text)
    key = InstallationKey.load_or_create(tmp_path)
    path = tmp_path / "proof.json"
    path.write_text(sign(answer, key, evidence.origin, status, evidence).to_json())
    result = run_cli(path, "--key", key.fingerprint)
    assert result.returncode == EXIT_UNVERIFIED, result.stdout
    assert "PASS  cpu_quote" in result.stdout and "tcb_status=UpToDate" in result.stdout
    assert "FAIL  workload" in result.stdout
