"""`Admissions`: may this prompt go to its model host? Decided before anything is stored or sent.

Under ATTESTATION_POLICY=require a prompt goes only to a host whose attestation verified (it is
attested first if it has not been, or its attestation is older than ATTESTATION_TTL), and then
only over connections whose key is the attested one (`KeyGate`, at each handshake). A host that
is not verified gets nothing unless a person chose to send anyway: per request (the API's
`allow_unverified`), or for that host until its state changes or the app restarts (the page's
button). Under `warn` everything goes, and is judged after. The demo model is local: it goes.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import Literal

from ..records import Admission, Consent
from ..services.attestation import AttestationService, AttestationStatus, origin_of
from ..services.attestation.status import unverified
from .errors import HostNotVerified
from ..records import ModelInfo

# A host's first attestation before its first prompt: evidence, collateral, checks. It normally
# takes well under a second; a host that does not answer in time is "could not be checked".
ATTEST_WAIT = 30.0
Via = Literal["page", "api"]


def _state(status: AttestationStatus) -> tuple[str, str | None, str]:
    """What a consent is given to: a host in this state (another state needs another consent)."""
    return status.status, status.attestation_id, status.reason


class Admissions:
    def __init__(self, service: AttestationService, policy: Literal["require", "warn"]) -> None:
        self._service = service
        self.policy = policy
        self._consents: dict[tuple[str, str], tuple[tuple[str, str | None, str], Consent]] = {}

    async def admit(self, info: ModelInfo, *, owner: str, allow_unverified: bool = False,
                    via: Via = "api") -> Admission:
        """How this prompt may go; raises HostNotVerified when it may not."""
        if info.demo:
            return Admission(policy=self.policy, key_checked=False, demo=True)
        origin = origin_of(info.url)
        if self.policy == "warn":
            self._service.observe(origin)
            return Admission(policy="warn", key_checked=False)
        status = await self.host_status(origin)
        if status.status == "verified" and self._service.bound_key(origin) is not None:
            return Admission(policy="require", key_checked=True)
        consent = self._consent(owner, origin, status)
        if consent is None and allow_unverified:
            consent = Consent(given_at=datetime.now(timezone.utc), via=via, host_status=status.status,
                              reason=status.reason)
        if consent is None:
            raise HostNotVerified(origin, status)
        return Admission(policy="require", key_checked=False, consent=consent)

    async def host_status(self, origin: str) -> AttestationStatus:
        """The host's state now, attesting it first if it needs it (never attested, or stale)."""
        try:
            async with asyncio.timeout(ATTEST_WAIT):
                host = await self._service.attest(origin)
        except TimeoutError:
            return unverified(origin, f"its attestation did not finish within {ATTEST_WAIT:g} s")
        return host.status

    def consent(self, owner: str, origin: str, seen: AttestationStatus) -> None:
        """A person chose to send to this host in the state they were shown (the page's "Send
        anyway"); if it is in another state by their next prompt, they are asked again."""
        self._consents[(owner, origin_of(origin))] = (_state(seen), Consent(
            given_at=datetime.now(timezone.utc), via="page", host_status=seen.status, reason=seen.reason))

    def _consent(self, owner: str, origin: str, status: AttestationStatus) -> Consent | None:
        given = self._consents.get((owner, origin))
        if given is None:
            return None
        state, consent = given
        if state != _state(status):  # the host changed since: asked again
            del self._consents[(owner, origin)]
            return None
        return consent
