"""`AnswerWitness`: which connection streamed an answer, and under which attestation it arrived.

Around the task that reads the model it records the certificate of every response
(`record_peer_certificates`, the hook both model paths install); on the first chunk it asks the
attestation service to attest the host in the background (never in the way of the first token);
when the answer ends it asks for this connection's status (`verified`, `unbound`, `unverified`,
`failed`) and keeps what the answer's proof needs.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from collections.abc import Iterator

from ..records import Admission, AnswerAttestation, AnswerProvenance, ChatTurn
from ..services.attestation import AttestationService, CertificateLog, origin_of, record_peer_certificates
from ..services.attestation.pinning import KeyGate
from ..services.attestation.status import DEMO_REASON, unverified
from .tally import Tally

log = logging.getLogger(__name__)

# How long the end of an answer waits for its host's attestation (started on its first chunk).
ANSWER_WAIT = 30.0
NOT_CAPTURED = "no connection to the model host streamed this answer, so nothing can be bound to it"


class AnswerWitness:
    def __init__(self, attestation: AttestationService, url: str, *, demo: bool,
                 admission: Admission | None = None) -> None:
        self._attestation = attestation
        self.origin = origin_of(url)
        self.demo = demo
        # How the prompt was let go (None: not decided by the hub, e.g. tests of the stream alone).
        self.admission = admission
        self._seen = CertificateLog()

    @contextlib.contextmanager
    def watching(self) -> Iterator[None]:
        """Wrap the model read (in the task that reads): the hook records into this answer's log,
        and its connections' keys are checked unless the prompt was let go without the check."""
        unchecked = self.admission is not None and not self.admission.key_checked
        with record_peer_certificates() as seen, KeyGate.unchecked() if unchecked else contextlib.nullcontext():
            self._seen = seen
            yield

    @property
    def certificate(self) -> bytes | None:
        last = self._seen.last
        return last.der if last is not None else None

    def first_chunk(self) -> None:
        if not self.demo:
            self._attestation.observe(self.origin, self.certificate)

    async def conclude(self) -> tuple[AnswerAttestation, dict | None]:
        """This answer's status, and the host's raw evidence it was judged on (None: none)."""
        if self.demo:
            return _answer(unverified(self.origin, DEMO_REASON)), None
        if self.origin.startswith("https://") and self.certificate is None:
            return _answer(unverified(self.origin, NOT_CAPTURED, check_name="tls_key")), None
        try:
            async with asyncio.timeout(ANSWER_WAIT + 5):
                status = await self._attestation.answer_status(self.origin, self.certificate, wait=ANSWER_WAIT)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # our own task is being cancelled, not just the attestation
            status = unverified(self.origin, "the attestation was cancelled (the app is shutting down)")
        except TimeoutError:
            status = unverified(self.origin, f"attestation still running after {ANSWER_WAIT:g} s")
        except Exception as exc:  # the answer is saved and ends whatever the attestation does
            log.warning("attestation of %s for an answer failed: %s", self.origin, type(exc).__name__)
            status = unverified(self.origin, f"the attestation could not be completed ({type(exc).__name__})")
        host = self._attestation.host(self.origin)
        evidence = None
        if host is not None and host.evidence is not None and status.attestation_id == host.evidence.attestation_id():
            evidence = host.evidence.model_dump(mode="json")
        return _answer(status), evidence

    def provenance(self, tally: Tally, turns: list[ChatTurn]) -> AnswerProvenance:
        der, chain = self.certificate, tally.chain
        return AnswerProvenance(origin=self.origin, certificate=base64.b64encode(der).decode() if der else None,
                                chain=list(chain.chunks), chain_head=chain.head, turns=[t.as_kept() for t in turns],
                                continued_text_bytes=tally.continued_text_bytes,
                                continued_reasoning_bytes=tally.continued_reasoning_bytes,
                                admission=self.admission)


def _answer(status: object) -> AnswerAttestation:
    return AnswerAttestation.model_validate(status.model_dump(mode="json"))  # type: ignore[attr-defined]
