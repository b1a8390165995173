"""What attestation produces: the raw evidence (kept, stored and embedded in proofs), the checks,
and a status in exactly four words."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

StatusWord = Literal["verified", "unbound", "unverified", "failed"]
Outcome = Literal["pass", "fail", "skipped"]
TeeType = Literal["TDX", "SEV-SNP", "unknown"]

# Check names, in the order they are shown.
EVIDENCE = "evidence"
CPU_QUOTE = "cpu_quote"
TCB = "tcb"
WORKLOAD = "workload"
GPU = "gpu"
GPU_NONCE = "gpu_nonce"
TLS_KEY = "tls_key"
# Without these, no status can be "verified" (a guard against a check silently not being run).
REQUIRED_FOR_VERIFIED = (EVIDENCE, CPU_QUOTE, TCB, WORKLOAD, TLS_KEY)


class Check(BaseModel):
    """One check: pass, fail, or skipped (could not be checked: `detail` says why). A required
    check that was skipped leaves the status `unverified`."""

    model_config = ConfigDict(frozen=True)

    name: str
    outcome: Outcome
    required: bool = True
    detail: str = ""
    values: dict[str, Any] = Field(default_factory=dict)


class Evidence(BaseModel):
    """Everything a host served and we fetched, as it was: enough to verify again later, offline."""

    origin: str  # the model API's origin, https://host:port
    served_from: str  # where the evidence came from: the origin, or the older port 29343
    captured_at: datetime  # timezone-aware (UTC)
    cpu_quote: str  # as served at /cpu: hex TDX quote or base64 SEV-SNP report
    compose: str | None = None  # as served at /docker-compose
    gpu: str | None = None  # NVIDIA evidence JSON as served at /gpu; None: no GPU evidence
    collateral: str | None = None  # Intel collateral (dcap-qvl QuoteCollateralV3 JSON) for a TDX quote
    pccs_url: str | None = None  # where the collateral came from
    certificate: str | None = None  # base64 DER: the leaf certificate of the connection that served /cpu

    @property
    def captured_at_unix(self) -> int:
        return int(self.captured_at.timestamp())

    def certificate_der(self) -> bytes | None:
        return base64.b64decode(self.certificate) if self.certificate else None

    def attestation_id(self) -> str:
        """Names this attestation (an answer records which one it was served under)."""
        served = {"origin": self.origin, "cpu_quote": self.cpu_quote, "compose": self.compose, "gpu": self.gpu,
                  "certificate": self.certificate, "captured_at": self.captured_at_unix}
        return hashlib.sha256(json.dumps(served, sort_keys=True).encode()).hexdigest()[:32]


class EvidenceVerdict(BaseModel):
    """The checks of the evidence itself: everything except a connection's key."""

    checks: list[Check]
    report_data: str = ""  # hex of the quote's 64 bytes of report_data ("" if unreadable)
    checked_at: datetime
    offline: bool = False


class AttestationStatus(BaseModel):
    """The answer to "did this come from a verified confidential VM?" for one connection."""

    status: StatusWord
    reason: str
    origin: str
    checks: list[Check] = Field(default_factory=list)
    attestation_id: str | None = None
    checked_at: datetime | None = None
    bound: bool = False  # this connection's key is the one in the quote

    def check(self, name: str) -> Check | None:
        return next((c for c in self.checks if c.name == name), None)


class HostAttestation(BaseModel):
    """A model host's latest attestation: its evidence, the verdict, and the status of the
    connection that served the evidence (what the header badge shows)."""

    origin: str
    evidence: Evidence | None = None
    verdict: EvidenceVerdict | None = None
    status: AttestationStatus
