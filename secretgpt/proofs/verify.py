"""Checking a proof offline: its signature, its hash chain against the text, and its evidence
again (the quote with its stored collateral at the time it was captured, the workload, the key
binding, the GPU nonce).

Exit codes: 0 intact and the evidence verified; 1 intact but the evidence did not verify (the
summary says why: the demo model, plain http, something not checkable offline, a failed check);
2 tampered with or malformed (the failing check is named).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import ValidationError

from ..services.attestation.models import Check
from ..services.attestation.status import status_for_connection
from ..services.attestation.verifier import EvidenceVerifier
from .bundle import FORMAT, Answer, SignedProof, canonical
from .chain import replay, split
from .keys import fingerprint, verify_signature

EXIT_VERIFIED, EXIT_UNVERIFIED, EXIT_TAMPERED = 0, 1, 2
LineOutcome = Literal["pass", "fail", "skipped", "info"]


@dataclass
class Line:
    outcome: LineOutcome
    name: str
    detail: str = ""


@dataclass
class ProofReport:
    lines: list[Line] = field(default_factory=list)
    exit_code: int = EXIT_TAMPERED
    summary: str = ""
    is_proof: bool = True  # False: the file is not a SecretGPT proof at all (another JSON file)

    def add(self, outcome: LineOutcome, name: str, detail: str = "") -> None:
        self.lines.append(Line(outcome, name, detail))

    def reject(self, name: str, detail: str) -> ProofReport:
        self.add("fail", name, detail)
        self.exit_code, self.summary = EXIT_TAMPERED, f"tampered with or malformed: {name} failed ({detail})"
        return self


async def verify_proof(data: bytes, *, verifier: EvidenceVerifier | None = None,
                       expected_key: str | None = None) -> ProofReport:
    """`verifier`: the app's (Intel's root) unless a test passes one with its own trust anchor."""
    report = ProofReport()
    try:
        raw = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        return _not_a_proof(report, f"it is not JSON ({exc})")
    unreadable = _unreadable_format(raw)
    if unreadable:
        return _not_a_proof(report, unreadable)
    try:
        proof = SignedProof.model_validate(raw)
    except ValidationError as exc:  # a proof, but not as signed ones are made: malformed
        return report.reject("format", _validation_summary(exc))
    report.add("pass", "format", proof.proof.format)
    if not _intact(raw, proof, report, expected_key):
        return report
    await _evidence(proof, report, verifier or EvidenceVerifier())
    return report


def _unreadable_format(raw: Any) -> str | None:
    """Why `raw` is not a proof this version reads (before its fields are checked), if it is not."""
    body = raw.get("proof") if isinstance(raw, dict) else None
    found = body.get("format") if isinstance(body, dict) else None
    if found == FORMAT:
        return None
    if isinstance(found, str) and found.startswith("secretgpt-proof/"):
        return f"it is a proof of format {found}, which this version cannot read"
    return "it is JSON, but not a proof"


def _not_a_proof(report: ProofReport, why: str) -> ProofReport:
    report.is_proof = False
    report.reject("format", f"{why}; expected the file Download proof saves: JSON with \"proof\" "
                            f"(format {FORMAT}) and \"signature\"")
    report.summary = f"not a SecretGPT proof file: {why}"
    return report


def _intact(raw: dict[str, Any], proof: SignedProof, report: ProofReport, expected_key: str | None) -> bool:
    body, signer = proof.proof, proof.proof.signer
    try:
        key_fingerprint = fingerprint(base64.b64decode(signer.public_key, validate=True))
    except (binascii.Error, ValueError):
        report.reject("signature", "the public key is not base64")
        return False
    if signer.fingerprint != key_fingerprint:
        report.reject("signature", "the fingerprint is not that of the embedded key")
        return False
    if not verify_signature(signer.public_key, proof.signature, canonical(raw["proof"])):
        report.reject("signature", "the signature does not match the contents")
        return False
    if expected_key is not None and expected_key.replace(" ", "").lower() != key_fingerprint:
        report.reject("signature", f"signed by key {key_fingerprint}, not the expected {expected_key}")
        return False
    report.add("pass", "signature", f"Ed25519, key {key_fingerprint}")
    try:
        head = replay(split(body.answer.text, body.answer.reasoning, body.chain.chunks))
    except ValueError as exc:
        report.reject("hash_chain", str(exc))
        return False
    if head != body.chain.head:
        report.reject("hash_chain", "the chunks of the text do not give the recorded head")
        return False
    report.add("pass", "hash_chain", f"{len(body.chain.chunks)} chunk(s) match the text and reasoning; head {head[:16]}…")
    evidence = body.attestation.evidence
    if body.host != body.connection.origin or (evidence is not None and evidence.origin != body.connection.origin):
        report.reject("host", "the answer's host, its connection and its evidence do not name the same origin")
        return False
    ending = {"completed": "completed", "stopped": "stopped: the text is what had arrived when Stop was pressed",
              "interrupted": "interrupted: the connection broke", "error": f"error: {body.answer.error or ''}"}
    report.add("info", "ending", ending[body.answer.ended])
    _carried_over(body.answer, report)
    return True


def _carried_over(answer: Answer, report: ProofReport) -> None:
    """Information, not a failure: what Continue carried over was not received over this connection."""
    for count, part in ((answer.continued_text_bytes, "text"), (answer.continued_reasoning_bytes, "reasoning")):
        if count:
            report.add("info", "continued", f"the first {count} bytes of the {part} came from an earlier answer "
                                            "(Continue), not over this connection")


async def _evidence(proof: SignedProof, report: ProofReport, verifier: EvidenceVerifier) -> None:
    body = proof.proof
    recorded = body.attestation.status
    report.add("info", "recorded", f"{recorded.status} when the answer ended: {recorded.reason}")
    evidence = body.attestation.evidence
    if evidence is None:
        report.exit_code = EXIT_UNVERIFIED
        report.summary = f"intact, but there is no evidence to verify: {recorded.reason}"
        return
    verdict = await verifier.verify_offline(evidence)
    certificate = base64.b64decode(body.connection.certificate) if body.connection.certificate else None
    status = status_for_connection(body.connection.origin, verdict, certificate,
                                   attestation_id=evidence.attestation_id())
    for check in status.checks:
        report.add(check.outcome, check.name, _describe(check))
    if status.status == "verified":
        report.exit_code, report.summary = EXIT_VERIFIED, "intact, and its evidence verified offline: " + status.reason
        return
    report.exit_code = EXIT_UNVERIFIED
    report.summary = f"intact, but its evidence did not verify offline ({status.status}): {status.reason}"
    if recorded.status == "verified":
        report.summary += " (it was recorded as verified when the answer ended)"


def _describe(check: Check) -> str:
    shown = {k: v for k, v in check.values.items() if v not in (None, "", [])}
    values = ", ".join(f"{k}={_short(v)}" for k, v in shown.items())
    return f"{check.detail} [{values}]" if values else check.detail


def _short(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= 70 else text[:67] + "…"


def _validation_summary(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "(top)"
    return f"{where}: {first['msg']}" + (f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else "")
