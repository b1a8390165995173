"""Checking a proof offline: its signature and who made it, its hash chain against the text, how
its prompt was let go, and its evidence again (the quote with its stored collateral at the time it
was captured, the workload, the key binding, the GPU nonce).

Who signed comes first. Anyone can make a key, so a proof that is intact says only that whoever
holds its key vouches for it: take a verified proof, change the text, rebuild the chain and sign
it with a fresh key, and every other check still passes. So a proof is judged against the keys
the person names: `expected_keys` (--key: it must be one of these, else it is tampered with) and
`trusted_keys` (--keys FILE, or the app's own key: a proof from another is intact but not vouched
for by anyone trusted).

Exit codes, the first that applies: 2 tampered with or malformed, or signed by another key than
the --key named (the failing check is named); 3 intact, but signed by a key you did not name
(whatever its evidence gave: who signed comes first); 1 intact, from a key you named, but the
evidence did not verify (the summary says why: the demo model, plain http, something not
checkable offline, a failed check); 0 intact, from a key you named, and the evidence verified.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import ValidationError

from ..services.attestation.models import Check
from ..services.attestation.status import status_for_connection
from ..services.attestation.verifier import EvidenceVerifier
from .bundle import FORMAT, FORMATS, AdmissionRecord, Answer, SignedProof, canonical
from .chain import replay, split
from .display import first_line, printable
from .keys import fingerprint, normal_fingerprint, verify_signature
from .parse import Unreadable, read_json

log = logging.getLogger(__name__)

EXIT_VERIFIED, EXIT_UNVERIFIED, EXIT_TAMPERED, EXIT_UNKNOWN_SIGNER = 0, 1, 2, 3
LineOutcome = Literal["pass", "fail", "skipped", "info"]
# trusted: a key named (--key, --keys, the app's own); unknown: intact, from a key nobody named;
# unexpected: intact, but not the --key named; invalid: the signature does not hold.
SignerTrust = Literal["trusted", "unknown", "unexpected", "invalid"]
VIA = {"page": 'the page ("Send anyway")', "api": "the API (allow_unverified)"}


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
    signer: str | None = None  # the fingerprint the proof names (neutralised: it is the file's word until trust is set)
    trust: SignerTrust | None = None  # None: the signature was not reached
    expected: tuple[str, ...] = ()  # the --key fingerprints it had to be signed with
    text_sha256: str | None = None  # of the answer text judged (UTF-8)
    text_chars: int = 0
    first_line: str = ""  # the text's first line, cut and neutralised
    evidence: str = ""  # what the evidence gave, in words (for a front end that words the signer itself)

    def add(self, outcome: LineOutcome, name: str, detail: str = "") -> None:
        self.lines.append(Line(outcome, name, printable(detail)))

    def reject(self, name: str, detail: str) -> ProofReport:
        self.add("fail", name, detail)
        self.exit_code = EXIT_TAMPERED
        self.summary = printable(f"tampered with or malformed: {name} failed ({detail})")
        return self


async def verify_proof(data: bytes, *, verifier: EvidenceVerifier | None = None,
                       expected_keys: Collection[str] = (), trusted_keys: Collection[str] = ()) -> ProofReport:
    """`expected_keys`: the proof must be signed by one of these (else 2); `trusted_keys`: signers
    vouched for (any other: 3). Fingerprints as Settings shows them (spaces and colons ignored).
    `verifier`: the app's (Intel's root) unless a test passes one with its own trust anchor."""
    report = ProofReport(expected=tuple(_normal(expected_keys)))
    try:
        raw = read_json(data)
    except Unreadable as exc:
        return _not_a_proof(report, str(exc))
    unreadable = _unreadable_format(raw)
    if unreadable:
        return _not_a_proof(report, unreadable)
    try:
        proof = SignedProof.model_validate(raw)
    except ValidationError as exc:  # a proof, but not as signed ones are made: malformed
        return report.reject("format", _validation_summary(exc))
    report.add("pass", "format", proof.proof.format)
    _judged_text(proof.proof.answer.text, report)
    trusted = set(report.expected) | set(_normal(trusted_keys))
    if not _intact(raw, proof, report, trusted):
        return report
    _admission(proof.proof.admission, report)
    if files := [a for turn in proof.proof.turns for a in turn.attachments]:
        report.add("info", "attachments", printable(
            f"{len(files)} file{'s' if len(files) != 1 else ''} sent with the turns (text in the turn, images beside "
            "it), named by SHA-256: " + "; ".join(f"{a.name[:80]} {a.sha256[:16]}…" for a in files[:10])))
    try:
        await _evidence(proof, report, verifier or EvidenceVerifier())
    except Exception as exc:  # signed by anyone: evidence no app made may break the checks; never a traceback
        log.warning("a proof's evidence could not be checked: %s", type(exc).__name__)
        return report.reject("evidence", f"its checks could not read it: {type(exc).__name__}")
    if report.trust == "unknown":
        report.exit_code = EXIT_UNKNOWN_SIGNER
        report.summary = f"intact, but signed by a key you did not name ({report.signer}); {report.evidence}"
    return report


def _normal(keys: Collection[str]) -> list[str]:
    return [normal_fingerprint(key) or key for key in keys]


def _judged_text(text: str, report: ProofReport) -> None:
    report.text_sha256 = hashlib.sha256(text.encode("utf-8")).hexdigest()
    report.text_chars = len(text)
    report.first_line = first_line(text)


def _unreadable_format(raw: Any) -> str | None:
    """Why `raw` is not a proof this version reads (before its fields are checked), if it is not."""
    body = raw.get("proof") if isinstance(raw, dict) else None
    found = body.get("format") if isinstance(body, dict) else None
    if found in FORMATS:
        return None
    if isinstance(found, str) and found.startswith("secretgpt-proof/"):
        return f"it is a proof of format {found[:40]}, which this version cannot read"
    return "it is JSON, but not a proof"


def _not_a_proof(report: ProofReport, why: str) -> ProofReport:
    report.is_proof = False
    report.reject("format", f"{why}; expected the file Download proof saves: JSON with \"proof\" "
                            f"(format {FORMAT}) and \"signature\"")
    report.summary = printable(f"not a SecretGPT proof file: {why}")
    return report


def _signed_by(raw: dict[str, Any], proof: SignedProof, report: ProofReport, trusted: set[str]) -> bool:
    """The signature holds, and by whom: sets `report.signer` and `report.trust`."""
    signer = proof.proof.signer
    report.signer, report.trust = printable(signer.fingerprint[:64]), "invalid"
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
    report.signer = key_fingerprint
    if report.expected and key_fingerprint not in report.expected:
        report.trust = "unexpected"
        report.reject("signature", f"signed by key {key_fingerprint}, not the expected {' or '.join(report.expected)}")
        return False
    report.trust = "trusted" if key_fingerprint in trusted else "unknown"
    report.add("pass", "signature", f"Ed25519, key {key_fingerprint}")
    return True


def _intact(raw: dict[str, Any], proof: SignedProof, report: ProofReport, trusted: set[str]) -> bool:
    if not _signed_by(raw, proof, report, trusted):
        return False
    body = proof.proof
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
    try:
        base64.b64decode(body.connection.certificate or "", validate=True)
    except (binascii.Error, ValueError):
        report.reject("connection", "the connection's certificate is not base64")
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


def _admission(admission: AdmissionRecord | None, report: ProofReport) -> None:
    """Information, as the signing installation recorded it: the policy, whether the connection's
    key was checked before the prompt was sent, and who consented to send to an unverified host."""
    if admission is None:
        report.add("info", "admission", "not recorded (the answer was stored before SecretGPT recorded how "
                                        "prompts were let go)")
        return
    policy = ("require: prompts go only to verified confidential VMs, unless a person consents"
              if admission.policy == "require" else "warn: prompts go to any host; answers are judged after")
    report.add("info", "policy", f"ATTESTATION_POLICY={policy}")
    if admission.demo:
        checked = "no: the offline demo model (local, nothing to attest)"
    elif admission.key_checked:
        checked = ("yes: the connection's TLS key was checked against the verified attestation at the handshake, "
                   "before the prompt was sent")
    else:
        checked = "no: the prompt was sent without checking the connection's key first"
    report.add("info", "key_checked", checked)
    consent = admission.consent
    report.add("info", "consent", "none" if consent is None else (
        f"given {_utc(consent.given_at)} via {VIA[consent.via]}, to send to a host that was "
        f"{consent.host_status}: {consent.reason}"))


def _utc(moment: datetime) -> str:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)
    return f"{aware.astimezone(timezone.utc):%Y-%m-%d %H:%M:%S} UTC"


async def _evidence(proof: SignedProof, report: ProofReport, verifier: EvidenceVerifier) -> None:
    body = proof.proof
    recorded = body.attestation.status
    report.add("info", "recorded", f"{recorded.status} when the answer ended: {recorded.reason}")
    evidence = body.attestation.evidence
    if evidence is None:
        return _evidence_gave(report, EXIT_UNVERIFIED, f"there is no evidence to verify: {recorded.reason}")
    verdict = await verifier.verify_offline(evidence)
    certificate = base64.b64decode(body.connection.certificate) if body.connection.certificate else None
    status = status_for_connection(body.connection.origin, verdict, certificate,
                                   attestation_id=evidence.attestation_id())
    for check in status.checks:
        report.add(check.outcome, check.name, _describe(check))
    if status.status == "verified":
        return _evidence_gave(report, EXIT_VERIFIED, "its evidence verified offline: " + status.reason)
    was = " (it was recorded as verified when the answer ended)" if recorded.status == "verified" else ""
    _evidence_gave(report, EXIT_UNVERIFIED,
                   f"its evidence did not verify offline ({status.status}): {status.reason}{was}")


def _evidence_gave(report: ProofReport, code: int, words: str) -> None:
    report.exit_code, report.evidence = code, printable(words)
    report.summary = f"intact, {'and' if code == EXIT_VERIFIED else 'but'} {report.evidence}"


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
