"""Answers streamed through the hub and the HTTP API from the loopback HTTPS SecretVM: the final
event names the message and its attestation; GET /api/v1/attestation shows the host; the proof
route gives a signed bundle the CLI checks (tests for the four states, the demo, both model paths,
a stopped answer, tampering and the 404s)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from secretgpt.proofs import EXIT_TAMPERED, EXIT_UNVERIFIED, EXIT_VERIFIED
from secretgpt.proofs.__main__ import main
from secretgpt.services.attestation import AttestationSettings, EvidenceVerifier, spki_sha256
from secretgpt.services.loopback_model import Reply
from secretgpt.storage import SqlConversationStore
from tests.conftest import SECRET_AI_KEY

from .attested_app import AttestedApp, final_event
from .conftest import REPLY, REPO, SecretVM
from .sgx_pki import Measurements, TestSgxPki
from .tls_pki import TestCA




@pytest.mark.parametrize("protocol", ["openai", "ollama"])
async def test_bound_answer_is_verified_on_both_model_paths(app_for: Callable[..., Any], secretvm: SecretVM,
                                                            sgx_pki: TestSgxPki, measurements: Measurements,
                                                            protocol: str) -> None:
    secretvm.server.protocols = frozenset({"ollama", "openai"})
    secretvm.serve_evidence(sgx_pki.quote(spki_sha256(secretvm.identity.der), measurements))
    async with app_for(protocol=protocol) as app:
        final = await final_event(app)
        assert final["type"] == "done" and final["message_id"]
        attestation = final["attestation"]
        assert attestation["status"] == "verified", attestation["reason"]
        assert attestation["bound"] and attestation["origin"] == secretvm.origin
        names = [c["name"] for c in attestation["checks"]]
        assert {"cpu_quote", "tcb", "workload", "tls_key"} <= set(names)
        [host] = await app.hosts()
        assert host["origin"] == secretvm.origin and host["status"] == "verified" and host["models"] == ["loopback"]
        assert any(c["name"] == "tls_key" and c["outcome"] == "pass" for c in host["checks"])
        # Stored with the message: the page and a reload read the same.
        message = await app.hub.message(final["conversation_id"], final["message_id"], owner=owner())
        assert message.metadata["attestation"]["status"] == "verified"
    chat_path = "/v1/chat/completions" if protocol == "openai" else "/api/chat"
    assert any(chat_path in r for r in secretvm.server.requests)


async def test_another_key_is_unbound(app_for: Callable[..., Any], secretvm: SecretVM, sgx_pki: TestSgxPki,
                                      measurements: Measurements, test_ca: TestCA) -> None:
    other = test_ca.issue_server().der  # the quote binds a key this connection does not have
    secretvm.serve_evidence(sgx_pki.quote(spki_sha256(other), measurements))
    async with app_for() as app:
        attestation = (await final_event(app))["attestation"]
    assert attestation["status"] == "unbound" and not attestation["bound"]
    assert "not the one in the quote" in attestation["reason"]


async def test_no_evidence_is_unverified(app_for: Callable[..., Any]) -> None:
    async with app_for() as app:
        final = await final_event(app)
        hosts = await app.hosts()
    assert final["attestation"]["status"] == "unverified"
    assert "no evidence served" in final["attestation"]["reason"]
    assert hosts[0]["status"] == "unverified"


async def test_a_tampered_quote_fails(app_for: Callable[..., Any], secretvm: SecretVM, sgx_pki: TestSgxPki,
                                      measurements: Measurements) -> None:
    quote = bytearray(sgx_pki.quote(spki_sha256(secretvm.identity.der), measurements))
    quote[48 + 136] ^= 0x01  # one bit of MRTD, inside the signed body
    secretvm.serve_evidence(bytes(quote))
    async with app_for() as app:
        attestation = (await final_event(app))["attestation"]
    assert attestation["status"] == "failed" and "cpu_quote failed" in attestation["reason"]


async def test_the_demo_model_is_unverified(app_for: Callable[..., Any], secretvm: SecretVM, sgx_pki: TestSgxPki,
                                            measurements: Measurements) -> None:
    secretvm.serve_evidence(sgx_pki.quote(spki_sha256(secretvm.identity.der), measurements))
    async with app_for(demo=True) as app:
        final = await final_event(app)
        [host] = await app.hosts()
    assert final["attestation"]["status"] == "unverified"
    assert "demo" in final["attestation"]["reason"].lower()
    assert host["demo"] and host["reason"] == "Demo model — not a confidential VM"
    assert "GET /cpu" not in secretvm.server.requests  # the demo is never attested


def owner() -> str:
    from secretgpt.interfaces.http_api import owner_for_token
    from tests.conftest import API_TOKEN

    return owner_for_token(API_TOKEN)


def cli(path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "secretgpt.proofs", "verify", str(path), *extra], cwd=REPO,
                          capture_output=True, text=True, timeout=120)


async def stopped_answer(app: AttestedApp, secretvm: SecretVM, word: str = "word",
                         thinking: str = "") -> dict[str, Any]:
    secretvm.server.reply_for = lambda _r: Reply.of(" ".join([word] * 400), thinking, tokens_per_second=40)
    async with app.sse() as events:
        start = await events.until("start", timeout=30)
        await events.until("text", timeout=30)
        await events.until("text", timeout=30)
        response = await app.client.delete(f"/api/v1/chat/stream/{start.data['stream_id']}")
        assert response.status_code == 200
        frames = await events.rest(timeout=60)
    return frames[-1].data


@pytest.mark.parametrize("ending", ["completed", "stopped"])
async def test_proof_round_trip_through_the_api(app_for: Callable[..., Any], secretvm: SecretVM, sgx_pki: TestSgxPki,
                                                measurements: Measurements, tmp_path: Path, ending: str) -> None:
    secretvm.serve_evidence(sgx_pki.quote(spki_sha256(secretvm.identity.der), measurements))
    async with app_for() as app:
        final = await final_event(app) if ending == "completed" else await stopped_answer(app, secretvm)
        assert final["type"] == ("done" if ending == "completed" else "cancelled")
        assert final["attestation"]["status"] == "verified"
        response = await app.proof(final["conversation_id"], final["message_id"])
        assert response.status_code == 200, response.text
        assert "attachment" in response.headers["content-disposition"]
        fingerprint = app.hub.attestation.fingerprint
        stored = await app.hub.message(final["conversation_id"], final["message_id"], owner=owner())
    proof = response.json()["proof"]
    assert proof["answer"]["ended"] == ending and proof["answer"]["text"] == stored.content
    assert proof["signer"]["fingerprint"] == fingerprint and proof["message_id"] == final["message_id"]
    assert proof["turns"][-1] == {"role": "user", "content": "Tell me"}
    if ending == "stopped":
        assert 0 < len(proof["answer"]["text"]) < len(" ".join(["word"] * 400))
    path = tmp_path / "proof.json"
    path.write_bytes(response.content)

    # With the test root (the one the SecretVM's quote is made under) the evidence verifies: 0.
    verifier = EvidenceVerifier(root_ca_der=sgx_pki.root_der)
    assert await asyncio.to_thread(main, ["verify", str(path), "--key", fingerprint], verifier=verifier) == EXIT_VERIFIED
    # The real CLI trusts Intel's root only: intact, but the evidence does not verify: 1.
    result = cli(path, "--key", fingerprint)
    assert result.returncode == EXIT_UNVERIFIED, result.stdout + result.stderr
    assert "PASS  signature" in result.stdout and "PASS  hash_chain" in result.stdout
    # Nothing of it was carried over from an earlier answer.
    assert proof["answer"]["continued_text_bytes"] == 0 and proof["answer"]["continued_reasoning_bytes"] == 0
    assert "continued" not in result.stdout and "earlier answer" not in result.stdout

    # One changed character of the answer: tampered, 2.
    data = json.loads(response.content)
    text = data["proof"]["answer"]["text"]
    data["proof"]["answer"]["text"] = text[:-1] + ("x" if text[-1] != "x" else "y")
    path.write_text(json.dumps(data), encoding="utf-8")
    tampered = cli(path, "--key", fingerprint)
    assert tampered.returncode == EXIT_TAMPERED, tampered.stdout
    assert "FAIL  signature" in tampered.stdout


async def test_a_continued_answer_proof_says_what_was_carried_over(
        app_for: Callable[..., Any], secretvm: SecretVM, sgx_pki: TestSgxPki, measurements: Measurements,
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    secretvm.serve_evidence(sgx_pki.quote(spki_sha256(secretvm.identity.der), measurements))
    async with app_for() as app:
        # Bytes, not characters, are counted.
        stopped = await stopped_answer(app, secretvm, word="wörd🔒", thinking="Mull it över.")
        conversation_id = stopped["conversation_id"]
        earlier = await app.hub.message(conversation_id, stopped["message_id"], owner=owner())
        secretvm.server.reply_for = lambda _r: REPLY
        async with app.sse("", conversation_id=conversation_id, continue_from=earlier.id) as events:
            final = (await events.rest(timeout=60))[-1].data
        assert final["type"] == "done" and final["attestation"]["status"] == "verified"
        response = await app.proof(conversation_id, final["message_id"])
        assert response.status_code == 200, response.text
        fingerprint = app.hub.attestation.fingerprint
    answer = response.json()["proof"]["answer"]
    carried = len(earlier.content.encode("utf-8"))
    assert 0 < len(earlier.content) < carried and answer["text"].startswith(earlier.content)
    assert answer["text"] != earlier.content  # the continuation arrived over this connection
    thought = len(earlier.think.encode("utf-8"))
    assert earlier.think == "Mull it över." and answer["reasoning"].startswith(earlier.think)
    assert answer["continued_text_bytes"] == carried and answer["continued_reasoning_bytes"] == thought
    path = tmp_path / "continued.json"
    path.write_bytes(response.content)

    # Intact and verified (carrying over is information, not a failure), and the verifier says so.
    verifier = EvidenceVerifier(root_ca_der=sgx_pki.root_der)
    assert await asyncio.to_thread(main, ["verify", str(path), "--key", fingerprint], verifier=verifier) == EXIT_VERIFIED
    out = capsys.readouterr().out
    assert "PASS  hash_chain" in out
    assert (f"INFO  continued   the first {carried} bytes of the text came from an earlier answer (Continue), "
            "not over this connection") in out
    assert f"the first {thought} bytes of the reasoning came from an earlier answer" in out

    # The count is signed like every other field: claiming less was carried over is tampering.
    data = json.loads(response.content)
    data["proof"]["answer"]["continued_text_bytes"] = carried - 1
    path.write_text(json.dumps(data), encoding="utf-8")
    tampered = cli(path)
    assert tampered.returncode == EXIT_TAMPERED, tampered.stdout
    assert "FAIL  signature" in tampered.stdout


async def test_the_proof_route_404s(app_for: Callable[..., Any]) -> None:
    async with app_for() as app:
        final = await final_event(app)
        conversation_id, message_id = final["conversation_id"], final["message_id"]
        assert (await app.proof(conversation_id, message_id)).status_code == 200
        assert (await app.proof("nope", message_id)).status_code == 404
        missing = await app.proof(conversation_id, "nope")
        assert missing.status_code == 404 and missing.json()["detail"]["kind"] == "not_found"
        conversation = await app.hub.conversation(conversation_id, owner=owner())
        question = conversation.messages[0].id  # a user turn has no proof
        no_proof = await app.proof(conversation_id, question)
        assert no_proof.status_code == 404 and no_proof.json()["detail"]["kind"] == "no_proof"
        # Someone else's conversation is not found, as on every conversation route.
        from secretgpt.proofs import SignedProof

        with pytest.raises(LookupError):
            await app.hub.proof(conversation_id, message_id, owner="someone-else")
        assert isinstance(await app.hub.proof(conversation_id, message_id, owner=owner()), SignedProof)
