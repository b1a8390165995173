"""The per-host cache: first use, TTL, a changed key and "Check again" attest again; concurrent
callers share one attestation; noting a connection never waits for one."""

from __future__ import annotations

import asyncio

from secretgpt.services.attestation import AttestationService, AttestationSettings, EvidenceVerifier, spki_sha256
from secretgpt.services.attestation.service import KEY_CHANGE_MIN_INTERVAL

from .conftest import SecretVM
from .sgx_pki import Measurements, TestSgxPki
from .tls_pki import TestCA


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def cpu_fetches(vm: SecretVM) -> int:
    return vm.server.requests.count("GET /cpu")


def make(settings: AttestationSettings, pki: TestSgxPki, clock: Clock) -> AttestationService:
    verifier = EvidenceVerifier(pccs_url=settings.secretvm_pccs_url, root_ca_der=pki.root_der)
    return AttestationService(settings, verifier=verifier, clock=clock)


async def test_concurrent_answers_share_one_attestation(secretvm: SecretVM, sgx_pki: TestSgxPki,
                                                       measurements: Measurements,
                                                       settings: AttestationSettings) -> None:
    secretvm.serve_evidence(sgx_pki.quote(spki_sha256(secretvm.identity.der), measurements))
    service = make(settings, sgx_pki, Clock())
    statuses = await asyncio.gather(*(service.answer_status(secretvm.origin, secretvm.identity.der)
                                      for _ in range(5)))
    assert {s.status for s in statuses} == {"verified"}
    assert len({s.attestation_id for s in statuses}) == 1
    assert cpu_fetches(secretvm) == 1


async def test_observing_a_connection_returns_at_once(secretvm: SecretVM, sgx_pki: TestSgxPki,
                                                     measurements: Measurements,
                                                     settings: AttestationSettings) -> None:
    secretvm.serve_evidence(sgx_pki.quote(spki_sha256(secretvm.identity.der), measurements))
    service = make(settings, sgx_pki, Clock())
    service.observe(secretvm.origin, secretvm.identity.der)
    # nothing was awaited: the attestation runs in the background, nothing fetched yet
    assert service.is_checking(secretvm.origin) and service.host(secretvm.origin) is None
    assert cpu_fetches(secretvm) == 0
    service.observe(secretvm.origin, secretvm.identity.der)  # a second answer joins the same one
    host = await service.attest(secretvm.origin)
    assert host.status.status == "verified" and cpu_fetches(secretvm) == 1
    assert not service.is_checking(secretvm.origin)


async def test_ttl_key_change_and_check_again(secretvm: SecretVM, sgx_pki: TestSgxPki, measurements: Measurements,
                                             settings: AttestationSettings, test_ca: TestCA) -> None:
    secretvm.serve_evidence(sgx_pki.quote(spki_sha256(secretvm.identity.der), measurements))
    clock = Clock()
    service = make(settings.model_copy(update={"attestation_ttl": 600.0}), sgx_pki, clock)
    await service.attest(secretvm.origin)
    assert cpu_fetches(secretvm) == 1

    clock.now += 599
    assert (await service.answer_status(secretvm.origin, secretvm.identity.der)).status == "verified"
    assert cpu_fetches(secretvm) == 1  # still fresh

    clock.now += 1
    assert (await service.answer_status(secretvm.origin, secretvm.identity.der)).status == "verified"
    assert cpu_fetches(secretvm) == 2  # the TTL passed

    other = test_ca.issue_server().der
    clock.now += KEY_CHANGE_MIN_INTERVAL - 1
    service.observe(secretvm.origin, other)
    assert not service.is_checking(secretvm.origin)  # not more often than KEY_CHANGE_MIN_INTERVAL
    clock.now += 1
    status = await service.answer_status(secretvm.origin, other)
    assert cpu_fetches(secretvm) == 3 and status.status == "unbound"

    await service.attest(secretvm.origin, force=True)  # "Check again"
    assert cpu_fetches(secretvm) == 4


async def test_an_unverified_host_is_tried_again_sooner(secretvm: SecretVM, sgx_pki: TestSgxPki,
                                                       measurements: Measurements,
                                                       settings: AttestationSettings) -> None:
    clock = Clock()
    service = make(settings, sgx_pki, clock)
    assert (await service.attest(secretvm.origin)).status.status == "unverified"  # no evidence yet
    secretvm.serve_evidence(sgx_pki.quote(spki_sha256(secretvm.identity.der), measurements))
    clock.now += 300
    assert (await service.attest(secretvm.origin)).status.status == "verified"
