"""The per-host attestation cache: attest a host when it is first used, again when its TLS key
changes or `ATTESTATION_TTL` passes, and never in the way of the first token.

Seams for the hub (owner of each stream's lifecycle):

    service = AttestationService(AttestationSettings())          # one per app
    service.observe(origin, certificate_der)   # sync, never blocks: on an answer's first chunk
    status = await service.answer_status(origin, certificate_der, demo=...)   # when it ends
    status.status / .reason / .checks / .attestation_id / .bound          # kept with the answer
    service.host(origin).evidence              # raw evidence, for the answer's proof

for the API (`GET /api/v1/attestation`): `service.hosts()`, `service.is_checking(origin)`; for
the page's "Check again": `await service.attest(origin, force=True)`. Given a `measurement_log`,
each verified attestation's measurement set is logged there (when it differs from the last).
Concurrent callers share one in-flight attestation per host.
"""

from __future__ import annotations

import asyncio
import contextvars
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from ...config.attestation import AttestationSettings
from .fetch import NoEvidence, PlainHttp, fetch_evidence, origin_of
from .measurement_log import MeasurementLog
from .models import AttestationStatus, HostAttestation
from .pinning import KeyGate
from .status import DEMO_REASON, PLAIN_HTTP_REASON, evidence_verified, status_for_connection, unverified
from .tls import spki_sha256, tls_context
from .verifier import EvidenceVerifier

log = logging.getLogger(__name__)

FETCH_TIMEOUT = 10.0
# An attestation that could not be completed (host or PCCS unreachable) is tried again sooner.
RETRY_UNVERIFIED = 300.0
# A connection key other than the attested one triggers a new attestation (the VM may have a new
# key), at most this often per host, so a host presenting a wrong key is not attested per request.
KEY_CHANGE_MIN_INTERVAL = 30.0


@dataclass
class _Entry:
    host: HostAttestation
    at: float  # clock() when it was made
    key: bytes | None  # SPKI SHA-256 of the connection that served the evidence


class AttestationService:
    def __init__(self, settings: AttestationSettings | None = None, *, verifier: EvidenceVerifier | None = None,
                 clock: Callable[[], float] = time.monotonic, measurement_log: MeasurementLog | None = None) -> None:
        self.settings = settings or AttestationSettings()
        self.verifier = verifier or EvidenceVerifier(pccs_url=self.settings.secretvm_pccs_url)
        # Where each verified measurement set is remembered (given by the hub, which knows the data dir).
        self.measurement_log = measurement_log
        # Told of each attestation made (origin, status): the hub's observer counts them.
        self.on_attested: Callable[[str, str], None] | None = None
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self._inflight: dict[str, asyncio.Task[HostAttestation]] = {}
        self._closed = False  # shutting down: nothing new is started

    def observe(self, origin: str, certificate_der: bytes | None = None) -> None:
        """Start attesting `origin` in the background if it needs it; returns at once."""
        origin = origin_of(origin)
        if origin.startswith("https://") and not self._closed and self._stale(origin, certificate_der):
            self._start(origin)

    async def attest(self, origin: str, *, force: bool = False) -> HostAttestation:
        """The host's attestation, made now if missing, stale or `force`d ("Check again")."""
        origin = origin_of(origin)
        if origin.startswith("http://"):
            return HostAttestation(origin=origin, status=unverified(origin, PLAIN_HTTP_REASON))
        if force or self._stale(origin, None) or origin in self._inflight:
            return await asyncio.shield(self._start(origin))
        return self._entries[origin].host

    async def answer_status(self, origin: str, certificate_der: bytes | None, *, demo: bool = False,
                            wait: float = 90.0) -> AttestationStatus:
        """The status of one answer, from the certificate of the connection that streamed it."""
        if demo:
            return unverified(origin, DEMO_REASON)
        origin = origin_of(origin)
        if origin.startswith("http://"):
            return unverified(origin, PLAIN_HTTP_REASON)
        if self._closed:
            return unverified(origin, "the app shut down before the host was attested")
        self.observe(origin, certificate_der)
        task = self._inflight.get(origin)
        if task is not None:
            try:
                async with asyncio.timeout(wait):
                    await asyncio.shield(task)
            except TimeoutError:
                return unverified(origin, f"attestation of {origin} still running after {wait:g} s")
        entry = self._entries.get(origin)
        if entry is None:  # the attestation was cancelled (shutting down)
            return unverified(origin, f"{origin} has not been attested")
        host = entry.host
        if host.verdict is None or host.evidence is None:
            return host.status
        return status_for_connection(origin, host.verdict, certificate_der,
                                     attestation_id=host.evidence.attestation_id())

    def bound_key(self, origin: str) -> str | None:
        """The key (hex SHA-256, report_data[0:32]) a connection to `origin` must present, if the
        host's attestation verified; None otherwise."""
        entry = self._entries.get(origin_of(origin))
        if entry is None or entry.host.verdict is None or entry.host.status.status != "verified":
            return None
        return entry.host.verdict.report_data[:64] if evidence_verified(entry.host.verdict) else None

    def gate(self) -> KeyGate:
        """The check every model connection passes at its handshake, over this service's attestations."""
        return KeyGate(self.bound_key, on_other_key=self.observe, attest=self.attest)

    def host(self, origin: str) -> HostAttestation | None:
        entry = self._entries.get(origin_of(origin))
        return entry.host if entry else None

    def hosts(self) -> list[HostAttestation]:
        return [entry.host for entry in self._entries.values()]

    def is_checking(self, origin: str) -> bool:
        return origin_of(origin) in self._inflight

    async def aclose(self) -> None:
        self._closed = True
        for task in list(self._inflight.values()):
            task.cancel()
        for task in list(self._inflight.values()):
            with contextlib.suppress(BaseException):
                await task

    def _stale(self, origin: str, certificate_der: bytes | None) -> bool:
        entry = self._entries.get(origin)
        if entry is None:
            return True
        age = self._clock() - entry.at
        ttl = self.settings.attestation_ttl
        if entry.host.status.status == "unverified":
            ttl = min(ttl, RETRY_UNVERIFIED)
        if age >= ttl:
            return True
        if certificate_der is None or age < KEY_CHANGE_MIN_INTERVAL:
            return False
        try:
            return spki_sha256(certificate_der) != entry.key
        except ValueError:
            return False

    def _start(self, origin: str) -> asyncio.Task[HostAttestation]:
        task = self._inflight.get(origin)
        if task is None:
            # A fresh context: started from inside an answer, the task would otherwise inherit the
            # answer's certificate log, and the evidence downloads' certificates would land in it
            # as if they were the connection that streamed the answer.
            task = asyncio.get_running_loop().create_task(self._run(origin), name=f"attest {origin}",
                                                          context=contextvars.Context())
            self._inflight[origin] = task
            task.add_done_callback(lambda _t: self._inflight.pop(origin, None))
        return task

    async def _run(self, origin: str) -> HostAttestation:
        started = self._clock()
        host, key = await self._attest_now(origin)
        # Before the entry lands: whoever sees this attestation also sees whether it changed.
        await self._remember(host)
        self._entries[origin] = _Entry(host=host, at=started, key=key)
        log.info("attestation of %s: %s (%s)", origin, host.status.status, host.status.reason)
        if self.on_attested is not None:
            self.on_attested(origin, host.status.status)
        return host

    async def _remember(self, host: HostAttestation) -> None:
        if self.measurement_log is None:
            return
        try:
            await asyncio.to_thread(self.measurement_log.record, host)
        except Exception as exc:  # noqa: BLE001 - a log that cannot be read is no reason to lose the attestation
            log.warning("the verification log did not take the attestation of %s: %r", host.origin, exc)

    async def _attest_now(self, origin: str) -> tuple[HostAttestation, bytes | None]:
        try:
            evidence = await fetch_evidence(origin, verify=tls_context(self.settings.secret_ai_ca_bundle),
                                            timeout=FETCH_TIMEOUT)
        except (PlainHttp, NoEvidence) as exc:
            return HostAttestation(origin=origin, status=unverified(origin, str(exc))), None
        except Exception as exc:  # noqa: BLE001 - whatever went wrong, the host is "could not check"
            log.warning("fetching evidence from %s failed: %r", origin, exc)
            return HostAttestation(origin=origin, status=unverified(origin, f"fetching evidence failed: {exc}")), None
        try:
            evidence, verdict = await self.verifier.verify(evidence)
        except Exception as exc:  # noqa: BLE001
            log.exception("verifying the evidence of %s failed", origin)
            status = unverified(origin, f"verifying the evidence failed: {exc!r}", check_name="cpu_quote")
            return HostAttestation(origin=origin, evidence=evidence, status=status), None
        certificate = evidence.certificate_der()
        status = status_for_connection(origin, verdict, certificate, attestation_id=evidence.attestation_id())
        key = spki_sha256(certificate) if certificate else None
        return HostAttestation(origin=origin, evidence=evidence, verdict=verdict, status=status), key
