"""A verified host's measurement set — what the VM booted with (Intel TDX: MRTD and RTMR0-3; AMD
SEV-SNP: the launch measurement), the compose it runs, the TLS key its quote binds and the
platform's TCB status — and what differs between two of them."""

from __future__ import annotations

import hashlib

from pydantic import BaseModel, ConfigDict

from .models import TCB, WORKLOAD, HostAttestation
from .quote import parse_cpu_quote
from .status import evidence_verified

# Field -> what the page calls it, in the order changes are listed.
LABELS = {"tee": "TEE type", "mr_td": "MRTD", "rtmr0": "RTMR0", "rtmr1": "RTMR1", "rtmr2": "RTMR2",
          "rtmr3": "RTMR3", "sev_measurement": "SEV-SNP measurement", "compose_sha256": "Compose hash",
          "tls_key_sha256": "TLS key", "tcb_status": "TCB status"}
SEV_MEASUREMENT = slice(0x90, 0xC0)


class MeasuredSet(BaseModel):
    """Hex values as the quote holds them; a field a TEE does not have is None."""

    model_config = ConfigDict(frozen=True)

    tee: str
    mr_td: str | None = None
    rtmr0: str | None = None
    rtmr1: str | None = None
    rtmr2: str | None = None
    rtmr3: str | None = None
    sev_measurement: str | None = None
    compose_sha256: str | None = None
    tls_key_sha256: str  # report_data[0:32]: SHA-256 of the TLS public key (of the whole certificate on older images)
    tcb_status: str | None = None

    def set_id(self) -> str:
        """Names this set: equal sets, equal ids (the log compares these)."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:32]


class Change(BaseModel):
    """One field of a host's measurement set that is not what it was when last verified."""

    field: str
    label: str
    old: str | None
    new: str | None


def measured_set(host: HostAttestation) -> MeasuredSet | None:
    """The set of a host whose attestation verified (bound to the connection that served the
    evidence); None for any other: only verified measurements are worth remembering."""
    evidence, verdict = host.evidence, host.verdict
    if host.status.status != "verified" or evidence is None or verdict is None or not evidence_verified(verdict):
        return None
    quote = parse_cpu_quote(evidence.cpu_quote)
    values: dict[str, str | None] = {"tee": quote.tee, "tls_key_sha256": verdict.report_data[:64]}
    if quote.tee == "TDX":
        import dcap_qvl

        report = dcap_qvl.parse_quote(quote.raw).report
        values |= {"mr_td": bytes(report.mr_td).hex(), "rtmr0": bytes(report.rt_mr0).hex(),
                   "rtmr1": bytes(report.rt_mr1).hex(), "rtmr2": bytes(report.rt_mr2).hex(),
                   "rtmr3": bytes(report.rt_mr3).hex()}
    else:
        values["sev_measurement"] = quote.raw[SEV_MEASUREMENT].hex()
    checks = {c.name: c for c in verdict.checks}
    workload, tcb = checks.get(WORKLOAD), checks.get(TCB)
    if workload is not None and workload.values.get("compose_sha256"):
        values["compose_sha256"] = str(workload.values["compose_sha256"])
    if tcb is not None:
        # TDX: Intel's word for the platform; SEV-SNP: the reported TCB version.
        status = tcb.values.get("tcb_status") or tcb.values.get("reported_tcb")
        values["tcb_status"] = str(status) if status is not None else None
    return MeasuredSet.model_validate(values)


def changes_between(old: MeasuredSet, new: MeasuredSet) -> list[Change]:
    before, after = old.model_dump(), new.model_dump()
    return [Change(field=name, label=label, old=before[name], new=after[name])
            for name, label in LABELS.items() if before[name] != after[name]]


def short(value: str | None) -> str:
    """A hash as people compare them: its first 12 characters."""
    if value is None:
        return "none"
    return value if len(value) <= 16 else value[:12] + "…"
