"""Each attestation of a model host is counted by the hub's observer, as the AttestationDesk wires
it: `secretgpt_attestation_checks_total{status}` and `secretgpt_attestation_host_status{origin,
status}` (1 for the host's last status only), read back with prometheus_client's parser."""

from __future__ import annotations

from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from secretgpt.hub import AttestationDesk
from secretgpt.metrics import HubMetrics
from secretgpt.services.attestation import AttestationService, AttestationSettings, EvidenceVerifier, spki_sha256
from secretgpt.services.secret_ai import Catalog, ModelInfo

from .conftest import SecretVM
from .sgx_pki import Measurements, TestSgxPki


def samples(metrics: HubMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(metrics.render()[0].decode()) for s in family.samples}


async def test_each_attestation_is_counted_and_the_host_shows_its_last_status(
        secretvm: SecretVM, sgx_pki: TestSgxPki, measurements: Measurements, settings: AttestationSettings,
        tmp_path: Path) -> None:
    metrics = HubMetrics()
    service = AttestationService(settings, verifier=EvidenceVerifier(pccs_url=settings.secretvm_pccs_url,
                                                                     root_ca_der=sgx_pki.root_der))
    catalog = Catalog(models=[ModelInfo(name="attested", url=secretvm.origin)])
    desk = AttestationDesk(service, lambda: tmp_path, lambda: catalog, on_attested=metrics.host_attested)
    origin = secretvm.origin

    secretvm.serve_evidence(sgx_pki.quote(spki_sha256(secretvm.identity.der), measurements))
    assert (await desk.check_again(origin)).status == "verified"
    first = samples(metrics)
    assert first[("secretgpt_attestation_checks_total", (("status", "verified"),))] == 1
    assert first[("secretgpt_attestation_host_status", (("origin", origin), ("status", "verified")))] == 1

    secretvm.serve_evidence("not a quote")
    report = await desk.check_again(origin)
    assert report.status != "verified"
    after = samples(metrics)
    assert after[("secretgpt_attestation_checks_total", (("status", report.status),))] == 1
    assert after[("secretgpt_attestation_host_status", (("origin", origin), ("status", report.status)))] == 1
    assert after[("secretgpt_attestation_host_status", (("origin", origin), ("status", "verified")))] == 0
    await service.aclose()
