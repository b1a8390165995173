"""Checking evidence: online when a host is attested (collateral from the PCCS, GPU evidence by
NVIDIA's service), or offline from what was stored (the quote with its stored collateral at the
time it was captured).

The trust anchor for TDX quotes is Intel's SGX root CA, pinned in dcap-qvl. `root_ca_der` exists
only so tests can verify quotes made with a test PKI; nothing in the app sets it (no setting or
environment variable reaches it).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import datetime, timezone

from . import library
from ...config.attestation import DEFAULT_PCCS_URL
from .models import CPU_QUOTE, EVIDENCE, GPU, GPU_NONCE, TCB, WORKLOAD, Check, Evidence, EvidenceVerdict
from .quote import ACCEPTED_TCB, CollateralUnavailable, ParsedQuote, fetch_collateral, parse_cpu_quote, td_debug, verify_tdx


class EvidenceVerifier:
    def __init__(self, *, pccs_url: str = DEFAULT_PCCS_URL, pccs_timeout: float = 20.0, nras_timeout: float = 60.0,
                 root_ca_der: bytes | None = None) -> None:
        self.pccs_url = pccs_url
        self.pccs_timeout = pccs_timeout
        self.nras_timeout = nras_timeout
        self.root_ca_der = root_ca_der

    async def verify(self, evidence: Evidence) -> tuple[Evidence, EvidenceVerdict]:
        """Online: fetches collateral (kept in the returned evidence) and asks NVIDIA about a GPU.
        The CPU-bound parts (and the first, slow import of secretvm-verify) run in a thread, off
        the event loop that streams answers."""
        try:
            quote = await asyncio.to_thread(parse_cpu_quote, evidence.cpu_quote)
        except ValueError as exc:
            return evidence, _unreadable(evidence, exc, offline=False)
        sev, problem = None, None
        if quote.tee == "TDX":
            try:
                collateral = await fetch_collateral(self.pccs_url, quote.raw, self.pccs_timeout)
                evidence = evidence.model_copy(update={"collateral": collateral, "pccs_url": self.pccs_url})
            except CollateralUnavailable as exc:
                problem = f"Intel collateral unavailable: {exc}"
        else:
            sev = await _sev_checks(quote)
        local = await asyncio.to_thread(self._local_checks, quote, evidence, problem, sev)
        gpu = await self._gpu_checks(quote, evidence, local[-1])
        return evidence, _verdict(quote, [*local, *gpu], offline=False)

    async def verify_offline(self, evidence: Evidence) -> EvidenceVerdict:
        return await asyncio.to_thread(self._verify_offline, evidence)

    def _verify_offline(self, evidence: Evidence) -> EvidenceVerdict:
        try:
            quote = parse_cpu_quote(evidence.cpu_quote)
        except ValueError as exc:
            return _unreadable(evidence, exc, offline=True)
        problem = None if evidence.collateral else "no Intel collateral was stored with this evidence"
        note = "AMD SEV-SNP reports are not verified offline (AMD's certificates are not stored)"
        sev = [Check(name=CPU_QUOTE, outcome="skipped", detail=note, values={"tee": quote.tee}),
               Check(name=TCB, outcome="skipped", detail=note)]
        local = self._local_checks(quote, evidence, problem, sev)
        return _verdict(quote, [*local, *_gpu_offline(quote, evidence, local[-1])], offline=True)

    def _local_checks(self, quote: ParsedQuote, evidence: Evidence, problem: str | None,
                      sev: list[Check] | None) -> list[Check]:
        """What needs no network: the evidence, the CPU quote (TDX, with its collateral) and the
        workload (the last)."""
        cpu = sev if quote.tee == "SEV-SNP" and sev is not None else self._tdx_checks(
            quote, evidence, evidence.captured_at_unix, problem)
        return [_evidence_check(evidence, quote), *cpu, _workload_check(quote, evidence)]

    def _tdx_checks(self, quote: ParsedQuote, evidence: Evidence, now: int, problem: str | None) -> list[Check]:
        values: dict[str, object] = {"tee": "Intel TDX", "verified_at_time": _iso(now)}
        if problem is not None:
            return [Check(name=CPU_QUOTE, outcome="skipped", detail=problem, values=values),
                    Check(name=TCB, outcome="skipped", detail="needs the verified quote")]
        values["trust_anchor"] = "Intel SGX Root CA" if self.root_ca_der is None else (
            "test root CA " + hashlib.sha256(self.root_ca_der).hexdigest()[:16])
        if td_debug(quote.raw):
            return [Check(name=CPU_QUOTE, outcome="fail", detail="the TD runs in debug mode", values=values),
                    Check(name=TCB, outcome="skipped", detail="needs the verified quote")]
        try:
            dcap = verify_tdx(quote.raw, evidence.collateral or "", now, self.root_ca_der)
        except ValueError as exc:
            return [Check(name=CPU_QUOTE, outcome="fail", detail=str(exc), values=values),
                    Check(name=TCB, outcome="skipped", detail="needs the verified quote")]
        cpu = Check(name=CPU_QUOTE, outcome="pass", detail="signature chain, QE identity and CRLs verified",
                    values=values | {"collateral_from": evidence.pccs_url})
        tcb_values = {"tcb_status": dcap.tcb_status, "advisory_ids": dcap.advisory_ids}
        if dcap.tcb_status in ACCEPTED_TCB:
            return [cpu, Check(name=TCB, outcome="pass", detail=dcap.tcb_status, values=tcb_values)]
        return [cpu, Check(name=TCB, outcome="fail", detail=f"platform TCB is {dcap.tcb_status}", values=tcb_values)]

    async def _gpu_checks(self, quote: ParsedQuote, evidence: Evidence, workload: Check) -> list[Check]:
        if evidence.gpu is None:
            return _gpu_offline(quote, evidence, workload)
        nonce = _nonce_check(quote, evidence.gpu)
        values = {"arch": _gpu_arch(evidence.gpu)}
        try:
            result = await library.check_nvidia(evidence.gpu, self.nras_timeout)
        except asyncio.TimeoutError:
            return [Check(name=GPU, outcome="skipped", values=values,
                          detail=f"NVIDIA's attestation service did not answer within {self.nras_timeout:g} s"), nonce]
        return [_nras_check(result, values), nonce]


async def _sev_checks(quote: ParsedQuote) -> list[Check]:
    import base64

    result = await library.check_sev(base64.b64encode(quote.raw).decode())
    values = {"tee": "AMD SEV-SNP", "product": result.report.get("product")}
    if not result.checks.get("vcek_fetched", False):
        why = "; ".join(result.errors) or "AMD KDS unreachable"
        return [Check(name=CPU_QUOTE, outcome="skipped", detail=f"AMD's key service unreachable: {why}", values=values),
                Check(name=TCB, outcome="skipped", detail="needs the verified report")]
    if not result.valid:
        return [Check(name=CPU_QUOTE, outcome="fail", detail="; ".join(result.errors), values=values),
                Check(name=TCB, outcome="skipped", detail="needs the verified report")]
    tcb = {"current_tcb": result.report.get("current_tcb"), "reported_tcb": result.report.get("reported_tcb")}
    return [Check(name=CPU_QUOTE, outcome="pass", detail="VCEK chain, CRL and report signature verified", values=values),
            Check(name=TCB, outcome="pass", detail="TCB ordering valid", values=tcb)]


def _workload_check(quote: ParsedQuote, evidence: Evidence) -> Check:
    if evidence.compose is None:
        return Check(name=WORKLOAD, outcome="skipped", detail="the host served no docker-compose")
    values: dict[str, object] = {"compose_sha256": hashlib.sha256(evidence.compose.encode()).hexdigest()}
    verdict = library.verify_workload(evidence.cpu_quote, evidence.compose, quote.tee)
    values |= {"template": verdict.template_name, "version": verdict.artifacts_ver, "environment": verdict.env,
               "result": verdict.status}
    if verdict.status == "authentic_match":
        return Check(name=WORKLOAD, outcome="pass", values=values,
                     detail=f"SecretVM {verdict.template_name} {verdict.artifacts_ver} running the served compose")
    if verdict.status == "authentic_mismatch":
        return Check(name=WORKLOAD, outcome="fail", values=values,
                     detail="an authentic SecretVM, but not running the served docker-compose")
    return Check(name=WORKLOAD, outcome="fail", values=values, detail="not a known SecretVM image")


def _gpu_offline(quote: ParsedQuote, evidence: Evidence, workload: Check) -> list[Check]:
    if evidence.gpu is None:
        gpu_vm = "gpu" in str(workload.values.get("template") or "").lower()
        detail = "a GPU SecretVM served no GPU evidence" if gpu_vm else "no GPU evidence served (no GPU)"
        return [Check(name=GPU, outcome="skipped", required=gpu_vm, detail=detail)]
    values = {"arch": _gpu_arch(evidence.gpu)}
    gpu = Check(name=GPU, outcome="skipped", values=values,
                detail="GPU evidence is checked by NVIDIA's attestation service, not offline")
    return [gpu, _nonce_check(quote, evidence.gpu)]


def _nonce_check(quote: ParsedQuote, gpu_json: str) -> Check:
    try:
        nonce = str(json.loads(gpu_json).get("nonce", "")).lower()
    except (ValueError, AttributeError):
        return Check(name=GPU_NONCE, outcome="fail", detail="the GPU evidence is not a JSON object")
    bound = quote.report_data[32:64].hex()
    values = {"gpu_nonce": nonce, "report_data_32_64": bound}
    if nonce == bound:
        return Check(name=GPU_NONCE, outcome="pass", detail="the GPU evidence is bound to this quote", values=values)
    return Check(name=GPU_NONCE, outcome="fail", detail="the GPU evidence's nonce is not the one in the quote",
                 values=values)


def _nras_check(result: object, values: dict[str, object]) -> Check:
    checks, errors = getattr(result, "checks", {}), list(getattr(result, "errors", []))
    report = getattr(result, "report", {})
    models = sorted({str(g.get("model")) for g in (report.get("gpus") or {}).values() if g.get("model")})
    values = values | {"models": models, "overall_result": report.get("overall_result")}
    # No verdict from NVIDIA (no connection, a server error, its keys not fetched) is "could not
    # check"; a 4xx answer is NVIDIA refusing the evidence.
    refused = any(e.startswith("NRAS returned 4") for e in errors)
    unreachable = not refused and (not checks.get("nras_submission", False) or any("JWKS" in e for e in errors))
    if unreachable:
        return Check(name=GPU, outcome="skipped", values=values,
                     detail="NVIDIA's attestation service unreachable: " + ("; ".join(errors) or "no answer"))
    if getattr(result, "valid", False):
        return Check(name=GPU, outcome="pass", detail="verified by NVIDIA's attestation service", values=values)
    return Check(name=GPU, outcome="fail", detail="; ".join(errors) or "NVIDIA did not accept the evidence",
                 values=values)


def _gpu_arch(gpu_json: str) -> str | None:
    try:
        return json.loads(gpu_json).get("arch")
    except (ValueError, AttributeError):
        return None


def _evidence_check(evidence: Evidence, quote: ParsedQuote) -> Check:
    values: dict[str, object] = {"served_from": evidence.served_from, "captured_at": evidence.captured_at.isoformat(),
                                 "tee": quote.tee}
    if quote.tee == "TDX":  # the image, from the registry alone (the workload check adds the compose)
        image = library.resolve_version(evidence.cpu_quote)
        values |= {"template": image["template_name"], "version": image["artifacts_ver"]} if image else {}
    return Check(name=EVIDENCE, outcome="pass", detail=f"served by {evidence.served_from}", values=values)


def _verdict(quote: ParsedQuote, checks: list[Check], *, offline: bool) -> EvidenceVerdict:
    captured = datetime.fromisoformat(str(checks[0].values["captured_at"]))
    return EvidenceVerdict(checks=checks, report_data=quote.report_data.hex(),
                           checked_at=captured if offline else datetime.now(timezone.utc), offline=offline)


def _unreadable(evidence: Evidence, exc: Exception, *, offline: bool) -> EvidenceVerdict:
    checks = [Check(name=EVIDENCE, outcome="pass", values={"served_from": evidence.served_from}),
              Check(name=CPU_QUOTE, outcome="fail", detail=f"unreadable quote: {exc}")]
    return EvidenceVerdict(checks=checks, checked_at=datetime.now(timezone.utc), offline=offline)


def _iso(unix: int) -> str:
    return datetime.fromtimestamp(unix, timezone.utc).isoformat()
