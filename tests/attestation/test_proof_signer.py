"""Proofs name their signer. The probe: a genuinely verified proof (streamed from the loopback
SecretVM through the attested app), its text changed, its hash chain rebuilt, a fresh key embedded
and used to sign it again. Every check but "who signed" passes, so without a key named it must
never exit 0: exit 3, the signer shown first; with the real installation's key named, exit 2; the
app's own verifier says "another installation"."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from secretgpt.proofs import (
    EXIT_TAMPERED,
    EXIT_UNKNOWN_SIGNER,
    EXIT_UNVERIFIED,
    EXIT_VERIFIED,
    HashChain,
    InstallationKey,
    canonical,
)
from secretgpt.proofs.__main__ import main
from secretgpt.services.attestation import EvidenceVerifier, spki_sha256

from .attested_app import final_event
from .conftest import SecretVM
from .sgx_pki import Measurements, TestSgxPki
from .test_answers_attested import cli

FORGED = "Wire the money to account 0042 — the enclave says so."


def forge(raw: dict[str, Any], text: str, key: InstallationKey) -> dict[str, Any]:
    """What the probe did: new text, the chain rebuilt over it, `key` embedded and signing."""
    forged = json.loads(json.dumps(raw))
    proof = forged["proof"]
    chain = HashChain()
    chain.add("r", proof["answer"]["reasoning"])
    chain.add("c", text)
    proof["answer"]["text"] = text
    proof["chain"] = {**proof["chain"], "chunks": [list(c) for c in chain.chunks], "head": chain.head}
    proof["signer"] = {"algorithm": "ed25519", "public_key": key.public_key_b64, "fingerprint": key.fingerprint}
    forged["signature"] = base64.b64encode(key.sign(canonical(proof))).decode()
    return forged


@pytest.fixture
async def verified_proof(app_for: Callable[..., Any], secretvm: SecretVM, sgx_pki: TestSgxPki,
                         measurements: Measurements) -> AsyncIterator[tuple[dict[str, Any], str, Any]]:
    """A verified answer's proof as the app gives it, this installation's fingerprint, and the app."""
    secretvm.serve_evidence(sgx_pki.quote(spki_sha256(secretvm.identity.der), measurements))
    async with app_for(policy="require") as app:
        final = await final_event(app)
        assert final["attestation"]["status"] == "verified", final["attestation"]["reason"]
        response = await app.proof(final["conversation_id"], final["message_id"])
        assert response.status_code == 200, response.text
        yield response.json(), app.hub.attestation.fingerprint, app


def run(path: Path, capsys: pytest.CaptureFixture[str], verifier: EvidenceVerifier, *extra: str) -> tuple[int, str]:
    code = main(["verify", str(path), *extra], verifier=verifier)
    return code, capsys.readouterr().out


async def test_a_re_signed_verified_proof_exits_3_unnamed_and_2_against_the_real_key(
        verified_proof: tuple, sgx_pki: TestSgxPki, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    raw, real, _app = verified_proof
    verifier = EvidenceVerifier(root_ca_der=sgx_pki.root_der)  # the evidence verifies: only the signer is wrong
    attacker = InstallationKey.load_or_create(tmp_path / "attacker")
    path = tmp_path / "forged.json"
    path.write_text(json.dumps(forge(raw, FORGED, attacker)), encoding="utf-8")

    code, out = await asyncio.to_thread(run, path, capsys, verifier)
    assert code == EXIT_UNKNOWN_SIGNER, out
    first = out.splitlines()
    assert first[0] == f"Signer:  {attacker.fingerprint} — NOT A KEY YOU NAMED"
    assert f"--key {attacker.fingerprint}" in out and "--keys FILE" in out
    assert f"Answer:  SHA-256 {hashlib.sha256(FORGED.encode()).hexdigest()}" in out
    assert f'first line: "{FORGED}"' in out
    assert "PASS  hash_chain" in out and "PASS  tls_key" in out  # everything else holds
    assert out.rstrip().endswith("(exit 3)") and "signed by a key you did not name" in out

    code, out = await asyncio.to_thread(run, path, capsys, verifier, "--key", real)
    assert code == EXIT_TAMPERED, out
    assert out.splitlines()[0] == f"Signer:  {attacker.fingerprint} — NOT the key you named ({real})"
    assert f"signed by key {attacker.fingerprint}, not the expected {real}" in out

    # A trust list that holds the real key only: the forger is still nobody you named.
    keys = tmp_path / "trusted.txt"
    keys.write_text(f"# Alice's laptop\n{real.upper()}  # as Settings shows it\n\n", encoding="utf-8")
    code, out = await asyncio.to_thread(run, path, capsys, verifier, "--keys", str(keys))
    assert code == EXIT_UNKNOWN_SIGNER, out

    # The genuine proof: 3 until its key is named (by --key or --keys), then 0.
    genuine = tmp_path / "genuine.json"
    genuine.write_text(json.dumps(raw), encoding="utf-8")
    code, out = await asyncio.to_thread(run, genuine, capsys, verifier)
    assert code == EXIT_UNKNOWN_SIGNER and out.startswith(f"Signer:  {real} — NOT A KEY YOU NAMED"), out
    code, out = await asyncio.to_thread(run, genuine, capsys, verifier, "--keys", str(keys))
    assert code == EXIT_VERIFIED and out.startswith(f"Signer:  {real} (a key you named)"), out
    assert (await asyncio.to_thread(run, genuine, capsys, verifier, "--key", real))[0] == EXIT_VERIFIED


async def test_who_signed_comes_before_what_the_evidence_gave(verified_proof: tuple, tmp_path: Path) -> None:
    """The real command trusts Intel's root only, so this evidence does not verify: an unnamed
    signer is still 3 (not 1), a named one 1."""
    raw, real, _app = verified_proof
    path = tmp_path / "proof.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    unnamed, named = cli(path), cli(path, "--key", real)
    assert unnamed.returncode == EXIT_UNKNOWN_SIGNER, unnamed.stdout + unnamed.stderr
    assert "its evidence did not verify offline" in unnamed.stdout and "Traceback" not in unnamed.stderr
    assert named.returncode == EXIT_UNVERIFIED, named.stdout + named.stderr


async def test_a_key_that_is_not_a_fingerprint_is_refused(verified_proof: tuple, tmp_path: Path) -> None:
    raw, real, _app = verified_proof
    path = tmp_path / "proof.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    assert cli(path, "--key", real[:-1]).returncode == EXIT_TAMPERED  # a typo never means "no key named"
    keys = tmp_path / "keys.txt"
    keys.write_text(f"{real}\nnot-a-key\n", encoding="utf-8")
    result = cli(path, "--keys", str(keys))
    assert result.returncode == EXIT_TAMPERED
    assert result.stderr.strip() == f"line 2 of the keys file {keys} is not a fingerprint (64 hex digits, as " \
                                    "Settings shows it)"
    missing = cli(path, "--keys", str(tmp_path / "nope.txt"))
    assert missing.returncode == EXIT_TAMPERED and "cannot read the keys file" in missing.stderr


async def test_the_app_says_another_installation(verified_proof: tuple, tmp_path: Path) -> None:
    """The app's verifier (here with the test root: the evidence verifies) trusts this
    installation's key only: its own proof is 0, the forged one 3 whatever its evidence."""
    raw, real, app = verified_proof
    attacker = InstallationKey.load_or_create(tmp_path / "attacker")
    own = await app.hub.attestation.verify(json.dumps(raw).encode())
    assert (own.trust, own.signer, own.exit_code) == ("trusted", real, EXIT_VERIFIED)
    forged = await app.hub.attestation.verify(json.dumps(forge(raw, FORGED, attacker)).encode())
    assert (forged.trust, forged.signer, forged.exit_code) == ("unknown", attacker.fingerprint, EXIT_UNKNOWN_SIGNER)
    assert forged.first_line == FORGED and forged.text_sha256 == hashlib.sha256(FORGED.encode()).hexdigest()
