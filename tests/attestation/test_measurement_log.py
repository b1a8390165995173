"""The verification log: a verified attestation is logged with its measurements (file mode 0600);
the same VM attested again adds nothing; a VM whose MRTD or compose changed is flagged with the
changed fields, also by a new service reading the same log (an app restart), until someone notes
it; a truncated last line is skipped and appending goes on; reads are bounded."""

from __future__ import annotations

import hashlib
import json
import logging
import stat
from pathlib import Path

import pytest

from secretgpt.services.attestation import AttestationService, AttestationSettings, EvidenceVerifier, spki_sha256
from secretgpt.services.attestation import measurement_log
from secretgpt.services.attestation.measurement_log import LogEntry, MeasurementLog

from .conftest import COMPOSE, SecretVM
from .sgx_pki import Measurements, TestSgxPki, registry_measurements
from .tls_pki import TestCA

OTHER_COMPOSE = "services:\n  model:\n    image: vllm/vllm-openai:v0.9\n"


def attesting(settings: AttestationSettings, pki: TestSgxPki, path: Path) -> AttestationService:
    """A service as the app makes one, its log in `path` (a new one: as after a restart)."""
    verifier = EvidenceVerifier(pccs_url=settings.secretvm_pccs_url, root_ca_der=pki.root_der)
    return AttestationService(settings, verifier=verifier, measurement_log=MeasurementLog(path))


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def serve(vm: SecretVM, pki: TestSgxPki, measurements: Measurements, compose: str = COMPOSE) -> None:
    vm.serve_evidence(pki.quote(spki_sha256(vm.identity.der), measurements), compose=compose)


async def test_a_verified_attestation_is_logged_with_its_measurements(
        secretvm: SecretVM, sgx_pki: TestSgxPki, measurements: Measurements, settings: AttestationSettings,
        tmp_path: Path) -> None:
    serve(secretvm, sgx_pki, measurements)
    path = tmp_path / "attestation-log.jsonl"
    host = await attesting(settings, sgx_pki, path).attest(secretvm.origin)
    assert host.status.status == "verified", host.status.reason
    [line] = lines(path)
    assert line["kind"] == "verified" and line["origin"] == secretvm.origin and line["changes"] == []
    assert line["measurements"] == {
        "tee": "TDX", "mr_td": measurements.mr_td.hex(), "rtmr0": measurements.rtmr0.hex(),
        "rtmr1": measurements.rtmr1.hex(), "rtmr2": measurements.rtmr2.hex(), "rtmr3": measurements.rtmr3.hex(),
        "sev_measurement": None, "compose_sha256": hashlib.sha256(COMPOSE.encode()).hexdigest(),
        "tls_key_sha256": spki_sha256(secretvm.identity.der).hex(), "tcb_status": "UpToDate"}
    assert line["template"] == "small" and line["version"] == measurements.version
    assert line["fetched_at"] and line["at"] and line["attestation_id"] == host.status.attestation_id
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


async def test_only_verified_attestations_are_logged(secretvm: SecretVM, sgx_pki: TestSgxPki,
                                                    measurements: Measurements, settings: AttestationSettings,
                                                    tmp_path: Path, test_ca: TestCA) -> None:
    path = tmp_path / "attestation-log.jsonl"
    service = attesting(settings, sgx_pki, path)
    assert (await service.attest(secretvm.origin)).status.status == "unverified"  # no evidence served
    other = test_ca.issue_server().der  # evidence that binds another key: unbound
    secretvm.serve_evidence(sgx_pki.quote(spki_sha256(other), measurements))
    assert (await service.attest(secretvm.origin, force=True)).status.status == "unbound"
    assert not path.exists()


async def test_the_same_vm_attested_again_adds_nothing(secretvm: SecretVM, sgx_pki: TestSgxPki,
                                                      measurements: Measurements, settings: AttestationSettings,
                                                      tmp_path: Path) -> None:
    serve(secretvm, sgx_pki, measurements)
    path = tmp_path / "attestation-log.jsonl"
    service = attesting(settings, sgx_pki, path)
    await service.attest(secretvm.origin)
    serve(secretvm, sgx_pki, measurements)  # a new quote (new signature) of the same VM
    await service.attest(secretvm.origin, force=True)
    await attesting(settings, sgx_pki, path).attest(secretvm.origin)  # after a restart, too
    assert len(lines(path)) == 1
    assert secretvm.server.requests.count("GET /cpu") == 3
    assert service.measurement_log is not None and service.measurement_log.pending(secretvm.origin) is None


async def test_a_changed_mrtd_is_flagged_also_after_a_restart_until_noted(
        secretvm: SecretVM, sgx_pki: TestSgxPki, measurements: Measurements, settings: AttestationSettings,
        tmp_path: Path) -> None:
    path = tmp_path / "attestation-log.jsonl"
    serve(secretvm, sgx_pki, measurements)
    await attesting(settings, sgx_pki, path).attest(secretvm.origin)

    other = registry_measurements(COMPOSE, other_mrtd_than=measurements.mr_td)  # another genuine image
    serve(secretvm, sgx_pki, other)
    restarted = attesting(settings, sgx_pki, path)
    assert (await restarted.attest(secretvm.origin)).status.status == "verified"
    first, second = lines(path)
    changed = {c["field"]: (c["old"], c["new"]) for c in second["changes"]}
    assert changed["mr_td"] == (measurements.mr_td.hex(), other.mr_td.hex())
    assert "compose_sha256" not in changed and "tls_key_sha256" not in changed
    pending = MeasurementLog(path).pending(secretvm.origin)  # and again after another restart
    assert pending is not None and "MRTD" in [c.label for c in pending.changes]

    assert MeasurementLog(path).acknowledge(secretvm.origin) is not None
    assert MeasurementLog(path).pending(secretvm.origin) is None  # noted: it stays noted
    assert lines(path)[-1]["kind"] == "acknowledged"
    serve(secretvm, sgx_pki, measurements)  # and back: a new change, flagged again
    await attesting(settings, sgx_pki, path).attest(secretvm.origin)
    pending = MeasurementLog(path).pending(secretvm.origin)
    assert pending is not None and pending.changes[0].old == other.mr_td.hex()


async def test_a_changed_compose_is_flagged(secretvm: SecretVM, sgx_pki: TestSgxPki, measurements: Measurements,
                                           settings: AttestationSettings, tmp_path: Path) -> None:
    path = tmp_path / "attestation-log.jsonl"
    serve(secretvm, sgx_pki, measurements)
    service = attesting(settings, sgx_pki, path)
    await service.attest(secretvm.origin)
    serve(secretvm, sgx_pki, registry_measurements(OTHER_COMPOSE), compose=OTHER_COMPOSE)
    assert (await service.attest(secretvm.origin, force=True)).status.status == "verified"
    assert service.measurement_log is not None
    pending = service.measurement_log.pending(secretvm.origin)
    assert pending is not None
    assert {c.field for c in pending.changes} == {"rtmr3", "compose_sha256"}
    [compose] = [c for c in pending.changes if c.field == "compose_sha256"]
    assert compose.new == hashlib.sha256(OTHER_COMPOSE.encode()).hexdigest()


async def test_a_truncated_last_line_is_skipped_and_appending_goes_on(
        secretvm: SecretVM, sgx_pki: TestSgxPki, measurements: Measurements, settings: AttestationSettings,
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "attestation-log.jsonl"
    serve(secretvm, sgx_pki, measurements)
    await attesting(settings, sgx_pki, path).attest(secretvm.origin)
    whole = path.read_bytes()
    path.write_bytes(whole + whole[: len(whole) // 2])  # a crash mid-write: half a line, no newline

    serve(secretvm, sgx_pki, registry_measurements(OTHER_COMPOSE), compose=OTHER_COMPOSE)
    with caplog.at_level(logging.WARNING, logger=measurement_log.__name__):
        restarted = attesting(settings, sgx_pki, path)
        await restarted.attest(secretvm.origin)
    assert "1 unreadable line(s) skipped" in caplog.text
    raw = path.read_text(encoding="utf-8").splitlines()
    assert len(raw) == 3 and json.loads(raw[0]) == json.loads(whole)  # the first line is intact
    appended = json.loads(raw[2])  # on a line of its own, flagged against the intact line
    assert appended["kind"] == "verified" and {c["field"] for c in appended["changes"]} == {"rtmr3", "compose_sha256"}
    entries = MeasurementLog(path).entries()
    assert [e.at for e in entries] == [datetime_of(raw[2]), datetime_of(raw[0])]  # newest first, the torn one out


def datetime_of(line: str):
    return LogEntry.model_validate_json(line).at


def test_reads_are_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "attestation-log.jsonl"
    entry = LogEntry(kind="acknowledged", at="2025-01-01T00:00:00Z", origin="https://a.example:443", set_id="x")
    one = entry.model_dump_json() + "\n"
    too_long = LogEntry(kind="acknowledged", at="2025-01-02T00:00:00Z", origin="https://" + "b" * 70_000,
                        set_id="y").model_dump_json() + "\n"
    path.write_text(one * 50 + too_long + one, encoding="utf-8")
    monkeypatch.setattr(measurement_log, "MAX_READ_BYTES", len(one) * 10 + len(too_long) + 5)
    entries = MeasurementLog(path).entries()
    assert len(entries) == 10  # the newest bytes only (the first line there, begun mid-way, left out)
    assert all(e.origin == "https://a.example:443" for e in entries)  # the over-long line skipped
    assert MeasurementLog(path).entries(origin="https://other:443") == []
    assert MeasurementLog(path).export().count("\n") == 10
