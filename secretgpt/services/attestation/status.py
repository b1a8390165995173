"""From checks to one of four words. `verified` only when every required check passed and this
connection's key is the one bound in the quote; never otherwise."""

from __future__ import annotations

from datetime import datetime

from .models import (
    REQUIRED_FOR_VERIFIED,
    TLS_KEY,
    AttestationStatus,
    Check,
    EvidenceVerdict,
    StatusWord,
)
from .tls import certificate_sha256, spki_sha256

DEMO_REASON = "Demo model — not a confidential VM"
PLAIN_HTTP_REASON = "plain http: no TLS connection, so nothing can be bound to a confidential VM"


def key_binding_check(report_data_hex: str, certificate_der: bytes | None) -> Check:
    """Compare report_data[0:32] with SHA-256 of this connection's public key (current images)
    or of its whole certificate (older images)."""
    attested = report_data_hex[:64]
    values: dict[str, object] = {"attested_key_sha256": attested}
    if len(attested) < 64:
        return Check(name=TLS_KEY, outcome="fail", detail="the quote has no report_data to bind a key", values=values)
    if certificate_der is None:
        return Check(name=TLS_KEY, outcome="skipped", values=values,
                     detail="the certificate of this connection was not captured")
    try:
        spki, whole = spki_sha256(certificate_der).hex(), certificate_sha256(certificate_der).hex()
    except ValueError as exc:
        return Check(name=TLS_KEY, outcome="fail", detail=f"unreadable connection certificate: {exc}", values=values)
    values |= {"connection_key_sha256": spki, "connection_certificate_sha256": whole}
    if attested == spki:
        kind = "public key"
    elif attested == whole:
        kind = "whole certificate (older images)"
    else:
        return Check(name=TLS_KEY, outcome="fail", values=values | {"matches_this_connection": False},
                     detail="this connection's key is not the one in the quote")
    return Check(name=TLS_KEY, outcome="pass", values=values | {"matches_this_connection": True, "bound_by": kind},
                 detail=f"matches this connection ({kind})")


def resolve(checks: list[Check]) -> tuple[StatusWord, str]:
    failed = [c for c in checks if c.outcome == "fail" and c.name != TLS_KEY]
    if failed:
        return "failed", "; ".join(f"{c.name} failed: {c.detail}" for c in failed)
    missing = [c for c in checks if c.required and c.outcome == "skipped" and c.name != TLS_KEY]
    if missing:
        return "unverified", "; ".join(f"{c.name} not checked: {c.detail}" for c in missing)
    names = {c.name for c in checks if c.outcome == "pass"} | {TLS_KEY}
    absent = [name for name in REQUIRED_FOR_VERIFIED if name not in names]
    if absent:
        return "unverified", "not checked: " + ", ".join(absent)
    key = next((c for c in checks if c.name == TLS_KEY), None)
    if key is None or key.outcome == "skipped":
        return "unverified", f"{TLS_KEY} not checked: " + (key.detail if key else "no connection to compare")
    if key.outcome == "fail":
        return "unbound", "the evidence verified, but " + key.detail
    return "verified", "every check passed and this connection's key is the one in the quote"


def evidence_verified(verdict: EvidenceVerdict) -> bool:
    """Every required check of the evidence passed: its report_data[0:32] is a key a connection
    may be bound to (whether a given connection is, `key_binding_check` says)."""
    word, _ = resolve([*verdict.checks, Check(name=TLS_KEY, outcome="pass")])
    return word == "verified"


def status_for_connection(origin: str, verdict: EvidenceVerdict, certificate_der: bytes | None, *,
                          attestation_id: str | None) -> AttestationStatus:
    checks = [*verdict.checks, key_binding_check(verdict.report_data, certificate_der)]
    word, reason = resolve(checks)
    return AttestationStatus(status=word, reason=reason, origin=origin, checks=checks, attestation_id=attestation_id,
                             checked_at=verdict.checked_at, bound=checks[-1].outcome == "pass")


def unverified(origin: str, reason: str, *, check_name: str = "evidence",
               checked_at: datetime | None = None) -> AttestationStatus:
    """A status for a host that could not be checked at all (demo, plain http, no evidence)."""
    check = Check(name=check_name, outcome="skipped", detail=reason)
    return AttestationStatus(status="unverified", reason=reason, origin=origin, checks=[check], checked_at=checked_at)
