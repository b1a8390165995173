"""Real evidence recorded from confidential VMs (../shared/attestation), checked with the real
libraries, offline."""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from pathlib import Path

import dcap_qvl
import pytest

from secretgpt.services.attestation import Evidence, EvidenceVerifier, key_binding_check
from secretgpt.services.attestation.models import CPU_QUOTE, EVIDENCE, GPU, GPU_NONCE, WORKLOAD
from secretgpt.services.attestation.quote import fetch_collateral, parse_cpu_quote, verify_tdx
from secretgpt.services.attestation.status import resolve

from .pccs import LoopbackPccs

SAMPLE_CAPTURED_AT = 1750331763  # when the dcap-qvl sample's collateral was current


def evidence(cpu_quote: str, *, compose: str | None = None, gpu: str | None = None,
             collateral: str | None = None, captured_at: int = 1_760_000_000) -> Evidence:
    return Evidence(origin="https://vm.example:21434", served_from="https://vm.example:21434",
                    captured_at=datetime.fromtimestamp(captured_at, timezone.utc), cpu_quote=cpu_quote,
                    compose=compose, gpu=gpu, collateral=collateral)


async def test_secret_ai_gpu_vm_quote(shared: Path) -> None:
    quote = (shared / "secretai_cpu_quote.txt").read_text()
    gpu = (shared / "gpu_attest.txt").read_text()
    verdict = await EvidenceVerifier().verify_offline(evidence(quote, gpu=gpu))
    checks = {c.name: c for c in verdict.checks}

    assert checks[EVIDENCE].values["tee"] == "TDX"
    assert (checks[EVIDENCE].values["template"], checks[EVIDENCE].values["version"]) == ("4xlarge_256gb_gpu", "v0.0.21")
    assert checks[GPU_NONCE].outcome == "pass"
    assert checks[GPU_NONCE].values["gpu_nonce"] == json.loads(gpu)["nonce"]
    assert checks[GPU].outcome == "skipped" and checks[GPU].values["arch"] == "HOPPER"
    assert checks[CPU_QUOTE].outcome == "skipped"  # no collateral was recorded with it
    binding = key_binding_check(verdict.report_data, None)
    assert binding.values["attested_key_sha256"] == "7e3faaf35ce0d013b087a9126687afe38f483813fea2989d64491a3b15319bae"
    assert resolve(verdict.checks)[0] == "unverified"


async def test_secret_ai_gpu_nonce_of_other_evidence_fails(shared: Path) -> None:
    gpu = json.loads((shared / "gpu_attest.txt").read_text())
    gpu["nonce"] = "00" * 32
    verdict = await EvidenceVerifier().verify_offline(
        evidence((shared / "secretai_cpu_quote.txt").read_text(), gpu=json.dumps(gpu)))
    assert next(c for c in verdict.checks if c.name == GPU_NONCE).outcome == "fail"
    assert resolve(verdict.checks)[0] == "failed"


@pytest.mark.parametrize(("kind", "prefix"), [("tdx", "tdx_cpu"), ("sev", "amd_cpu")])
async def test_small_vm_workload(shared: Path, kind: str, prefix: str) -> None:
    quote = (shared / f"{prefix}_docker_check_quote.txt").read_text()
    compose = (shared / f"{prefix}_docker_check_compose.yaml").read_text()
    verifier = EvidenceVerifier()

    match = next(c for c in (await verifier.verify_offline(evidence(quote, compose=compose))).checks
                 if c.name == WORKLOAD)
    assert match.outcome == "pass" and match.values["result"] == "authentic_match"
    assert (match.values["template"], match.values["version"]) == ("small", "v0.0.25")

    other = next(c for c in (await verifier.verify_offline(evidence(quote, compose=compose + "\n# edited"))).checks
                 if c.name == WORKLOAD)
    assert other.outcome == "fail" and other.values["result"] == "authentic_mismatch"


def test_dcap_sample_verifies_at_its_captured_time_and_not_today(shared: Path) -> None:
    quote = (shared / "dcap_tdx_quote").read_bytes()
    collateral = (shared / "dcap_tdx_quote_collateral.json").read_text()
    assert verify_tdx(quote, collateral, SAMPLE_CAPTURED_AT).tcb_status == "UpToDate"
    with pytest.raises(ValueError, match="CrlExpired|expired"):
        verify_tdx(quote, collateral, int(time.time()))
    flipped = bytearray(quote)
    flipped[48 + 520] ^= 0x01  # a bit of report_data in the signed body
    with pytest.raises(ValueError, match="signature is invalid"):
        verify_tdx(bytes(flipped), collateral, SAMPLE_CAPTURED_AT)


async def test_collateral_from_a_pccs_is_the_recorded_collateral(shared: Path) -> None:
    """The real dcap_qvl.get_collateral against a loopback PCCS serving the recorded collateral."""
    quote = (shared / "dcap_tdx_quote").read_bytes()
    recorded = json.loads((shared / "dcap_tdx_quote_collateral.json").read_text())
    with LoopbackPccs(recorded) as pccs:
        fetched = json.loads(await fetch_collateral(pccs.url, quote, timeout=10))
    for key in ("tcb_info", "qe_identity", "pck_crl", "root_ca_crl", "tcb_info_signature"):
        assert fetched[key] == recorded[key]
    assert fetched["pck_certificate_chain"]  # dcap-qvl attaches the quote's own PCK chain
    report = dcap_qvl.verify(quote, dcap_qvl.QuoteCollateralV3.from_json(json.dumps(fetched)), SAMPLE_CAPTURED_AT)
    assert report.status == "UpToDate"
    assert any("/tdx/certification/v4/tcb?fmspc=B0C06F000000" in r for r in pccs.requests)


async def test_sev_report_needs_amd_which_is_unreachable_offline(shared: Path) -> None:
    quote = (shared / "amd_cpu_quote.txt").read_text()
    assert parse_cpu_quote(quote).tee == "SEV-SNP"
    _, verdict = await EvidenceVerifier().verify(evidence(quote))
    cpu = next(c for c in verdict.checks if c.name == CPU_QUOTE)
    assert cpu.outcome == "skipped" and "AMD's key service unreachable" in cpu.detail
    assert resolve(verdict.checks)[0] == "unverified"
