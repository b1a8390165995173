"""`AttestationDesk`: what the interfaces may ask about attestation and proofs — the state of each
model host (how fresh its evidence is, whether its measurements changed), "Check again", the
verification log, this installation's key, signing an answer's proof, checking a proof.

It sits beside `ChatHub` (which reaches it as `hub.attestation`) and owns the attestation service
and the installation key; the interfaces never touch either directly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from ..proofs import (
    AdmissionRecord,
    Answer,
    AttestationRecord,
    Connection,
    HashChain,
    InstallationKey,
    SignedProof,
    Turn,
    build_proof,
)
from ..proofs.verify import ProofReport, verify_proof
from ..records import Admission, StreamStatus
from ..services.attestation import AttestationService, AttestationStatus, Evidence, origin_of
from ..services.attestation.freshness import Freshness, freshness_of
from ..services.attestation.measurement_log import Change, LogEntry, MeasurementLog, PendingChange
from ..services.attestation.status import DEMO_REASON, PLAIN_HTTP_REASON, unverified
from ..services.secret_ai import Catalog, ModelInfo
from ..records import AnswerProof
from .admission import Admissions, Via
from .errors import NoProof

NOT_YET = "not checked yet"
LOG_FILE = "attestation-log.jsonl"  # in the data dir: each host's verified measurement sets
ENDINGS = {StreamStatus.COMPLETED: "completed", StreamStatus.STOPPED: "stopped",
           StreamStatus.INTERRUPTED: "interrupted"}


class HostReport(BaseModel):
    """One model host's state, as `GET /api/v1/attestation` and the header badge show it."""

    origin: str
    models: list[str] = Field(default_factory=list)
    status: str
    reason: str
    checking: bool = False
    demo: bool = False
    checked_at: datetime | None = None
    attestation_id: str | None = None
    checks: list[dict[str, Any]] = Field(default_factory=list)
    freshness: Freshness | None = None  # None: no evidence was fetched
    # Not empty: the verified measurements are not those last verified ("changed since you last used it").
    changes: list[Change] = Field(default_factory=list)
    changed_at: datetime | None = None  # when the changed set was first verified

    @classmethod
    def of(cls, origin: str, models: list[str], status: AttestationStatus, *, checking: bool = False,
           demo: bool = False, evidence: Evidence | None = None, change: PendingChange | None = None) -> HostReport:
        return cls(origin=origin, models=models, status=status.status, reason=status.reason, checking=checking,
                   demo=demo, checked_at=status.checked_at, attestation_id=status.attestation_id,
                   checks=[c.model_dump(mode="json") for c in status.checks], freshness=freshness_of(evidence),
                   changes=change.changes if change else [], changed_at=change.at if change else None)


class AttestationDesk:
    def __init__(self, service: AttestationService, data_dir: Callable[[], Path],
                 catalog: Callable[[], Catalog], *, policy: Literal["require", "warn"] = "require",
                 on_attested: Callable[[str, str], None] | None = None) -> None:
        self._service = service
        if on_attested is not None:
            service.on_attested = on_attested
        self._data_dir = data_dir
        self._catalog = catalog
        self._key: InstallationKey | None = None
        self._admissions = Admissions(service, policy)
        if service.measurement_log is None:
            service.measurement_log = MeasurementLog(lambda: data_dir() / LOG_FILE)
        self._log = service.measurement_log

    @property
    def policy(self) -> Literal["require", "warn"]:
        return self._admissions.policy

    async def admit(self, info: ModelInfo, *, owner: str, allow_unverified: bool = False,
                    via: Via = "api") -> Admission:
        """May a prompt go to `info`'s host? Raises HostNotVerified (nothing stored, nothing sent)."""
        return await self._admissions.admit(info, owner=owner, allow_unverified=allow_unverified, via=via)

    def consent(self, origin: str, seen: AttestationStatus, *, owner: str) -> None:
        """This person sends to this unverified host, in the state `seen`, until its state changes
        or the app restarts."""
        self._admissions.consent(owner, origin, seen)

    @property
    def attestation_service(self) -> AttestationService:
        """For the hub's streams (their witnesses); the interfaces use the verbs below."""
        return self._service

    def hosts(self) -> list[HostReport]:
        """Every model host of the catalog, in its order; a host not attested yet starts being
        attested (in the background)."""
        by_origin: dict[str, list[str]] = {}
        demo: set[str] = set()
        for info in self._catalog().models:
            origin = origin_of(info.url)
            by_origin.setdefault(origin, []).append(info.name)
            if info.demo:
                demo.add(origin)
        return [self._report(origin, models, origin in demo) for origin, models in by_origin.items()]

    def host_for(self, model: str | None) -> HostReport | None:
        """The host serving `model` (None: the default model), or None when there is no model."""
        info = self._catalog().find(model)
        if info is None:
            return None
        # Only this host: reporting on the whole catalog would start attesting hosts nobody uses
        # (the page asks every 2 s).
        origin = origin_of(info.url)
        models = [m.name for m in self._catalog().models if origin_of(m.url) == origin]
        return self._report(origin, models, info.demo)

    async def check_again(self, origin: str) -> HostReport:
        """Attest the host now, whatever the cache holds ("Check again")."""
        origin = origin_of(origin)
        report = next((h for h in self.hosts() if h.origin == origin), None)
        if report is None:
            raise LookupError(f"{origin} serves none of the models")
        if not report.demo:
            await self._service.attest(origin, force=True)
        return self._report(origin, report.models, report.demo)

    def _report(self, origin: str, models: list[str], demo: bool) -> HostReport:
        if demo:
            return HostReport.of(origin, models, unverified(origin, DEMO_REASON), demo=True)
        if origin.startswith("http://"):
            return HostReport.of(origin, models, unverified(origin, PLAIN_HTTP_REASON))
        self._service.observe(origin)
        host, checking = self._service.host(origin), self._service.is_checking(origin)
        if host is None:
            return HostReport.of(origin, models, unverified(origin, NOT_YET), checking=checking)
        # A change is news only about a host that verified: it is the verified set that changed.
        change = self._log.pending(origin) if host.status.status == "verified" else None
        return HostReport.of(origin, models, host.status, checking=checking, evidence=host.evidence, change=change)

    # --- the verification log -----------------------------------------------------------------

    async def log_entries(self, origin: str | None = None, limit: int | None = None) -> list[LogEntry]:
        """The verification log, newest first (of one host, or all)."""
        return await asyncio.to_thread(self._log.entries, origin_of(origin) if origin else None, limit)

    async def log_export(self, origin: str | None = None) -> str:
        """The verification log as JSON Lines, oldest first, as kept."""
        return await asyncio.to_thread(self._log.export, origin_of(origin) if origin else None)

    async def acknowledge(self, origin: str) -> HostReport:
        """Someone has seen that the host's measurements changed: it is flagged no longer."""
        origin = origin_of(origin)
        report = next((h for h in self.hosts() if h.origin == origin), None)
        if report is None:
            raise LookupError(f"{origin} serves none of the models")
        await asyncio.to_thread(self._log.acknowledge, origin)
        return self._report(origin, report.models, report.demo)

    # --- proofs -------------------------------------------------------------------------------

    @property
    def key(self) -> InstallationKey:
        """This installation's signing key (made on first use in the data dir, mode 0600)."""
        if self._key is None:
            self._key = InstallationKey.load_or_create(self._data_dir())
        return self._key

    @property
    def fingerprint(self) -> str:
        return self.key.fingerprint

    def sign(self, conversation_id: str, found: AnswerProof) -> SignedProof:
        """The signed proof of a stored answer. Raises NoProof."""
        message, provenance = found.message, found.provenance
        if message.role != "assistant":
            raise NoProof(f"Message {message.id} is a question; only answers have proofs.")
        record = message.stream_record(conversation_id, "")
        if provenance is None or record is None or record.attestation is None:
            raise NoProof(f"Answer {message.id} has no proof (it was made before proofs were kept, imported, "
                          "or cut off by a crash).")
        chain = HashChain.recorded(provenance.chain, provenance.chain_head)
        ending = ENDINGS.get(record.status, "error")
        generation = {"system": record.settings.system, **record.settings.options.sent()} if record.settings else {}
        admission = provenance.admission  # None: stored before admissions were recorded (the proof says so)
        return build_proof(
            key=self.key, turns=[Turn(role=t.role, content=t.content,
                                      attachments=[a.model_dump(mode="json") for a in t.attachments])
                                 for t in provenance.turns],
            answer=Answer(text=message.content, reasoning=message.think, ended=ending,  # type: ignore[arg-type]
                          error=record.error if ending == "error" else None,
                          continued_text_bytes=provenance.continued_text_bytes,
                          continued_reasoning_bytes=provenance.continued_reasoning_bytes),
            chain=chain, model=record.model, generation=generation,
            connection=Connection(origin=provenance.origin, certificate=provenance.certificate),
            attestation=AttestationRecord(
                status=AttestationStatus.model_validate(record.attestation.model_dump(mode="json")),
                evidence=Evidence.model_validate(found.evidence) if found.evidence else None),
            admission=AdmissionRecord.model_validate(admission.model_dump(mode="json")) if admission else None,
            started_at=record.started_at, finished_at=record.ended_at or message.updated_at,
            conversation_id=conversation_id, message_id=message.id,
        )

    async def verify(self, data: bytes) -> ProofReport:
        """Check a proof as `python -m secretgpt.proofs verify --keys FILE` does with this
        installation's key as the only one trusted (and this app's verifier): another
        installation's proof, intact or not, is never vouched for here (exit 3 when intact)."""
        return await verify_proof(data, verifier=self._service.verifier, trusted_keys=[self.fingerprint])
