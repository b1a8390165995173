"""The proof bundle: what was sent, what arrived and how it ended, over which connection, under
which attestation; signed by this installation's key.

The signature covers the canonical JSON of `proof` (keys sorted, no whitespace, UTF-8), exactly
as it stands in the file, so a verifier needs no knowledge of these models to check it.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_serializer, model_validator

from ..services.attestation.models import AttestationStatus, Evidence
from .chain import ChunkKind, HashChain, replay, split
from .keys import InstallationKey

# /2 adds `admission`. A /1 verifier (extra fields forbidden) would call a /2 proof malformed; with
# its own number it says "a format this version cannot read" instead. /3 is /2 whose turns name the
# files sent with them (`attachments`, by hash): made only for such answers, so every other proof
# stays readable by a /2 verifier. This version reads all three.
FORMAT = "secretgpt-proof/2"
WITH_ATTACHMENTS = "secretgpt-proof/3"
FORMATS = ("secretgpt-proof/1", FORMAT, WITH_ATTACHMENTS)
Ending = Literal["completed", "stopped", "interrupted", "error"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AttachmentDigest(_Strict):
    """A file sent with a turn: its text is in the turn's content; an image went beside it, exactly
    these bytes (SHA-256 of the file as uploaded)."""

    name: str
    kind: Literal["text", "image"]
    media_type: str
    size: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class Turn(_Strict):
    role: str
    content: str
    attachments: list[AttachmentDigest] = Field(default_factory=list)

    @model_serializer(mode="wrap")
    def _without_empty_attachments(self, handler: Any) -> Any:
        # A turn without files is written as /1 and /2 wrote it.
        dumped = handler(self)
        if isinstance(dumped, dict) and not dumped.get("attachments"):
            dumped.pop("attachments", None)
        return dumped


class Answer(_Strict):
    text: str
    reasoning: str = ""
    # stopped: the person pressed Stop and `text` is what had arrived (a committed prefix);
    # interrupted: the connection broke; error: the model reported one (`error` says what).
    ended: Ending
    error: str | None = None
    # Continue: the first this many UTF-8 bytes of `text` / `reasoning` were carried over from an
    # earlier answer (another connection, attestation or an imported file), not received over
    # this answer's connection; the hash chain covers them all the same.
    continued_text_bytes: int = Field(0, ge=0)
    continued_reasoning_bytes: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _carried_over_fits(self) -> Answer:
        if self.continued_text_bytes > len(self.text.encode("utf-8")):
            raise ValueError("more text carried over from an earlier answer than the answer has")
        if self.continued_reasoning_bytes > len(self.reasoning.encode("utf-8")):
            raise ValueError("more reasoning carried over from an earlier answer than the answer has")
        return self


class ChainRecord(_Strict):
    algorithm: Literal["sha256-chain-v1"] = "sha256-chain-v1"
    chunks: list[tuple[ChunkKind, int]]  # (c = text | r = reasoning, UTF-8 length), as received
    head: str


class Connection(_Strict):
    origin: str
    certificate: str | None = None  # base64 DER: the leaf certificate of the connection that streamed it


class AttestationRecord(_Strict):
    status: AttestationStatus  # this answer's status when it ended, with its checks
    evidence: Evidence | None = None  # what the host served (and the collateral we fetched)


class ConsentRecord(_Strict):
    """A person chose to send to a host that was not verified (ATTESTATION_POLICY=require)."""

    given_at: datetime
    via: Literal["page", "api"]  # the page's "Send anyway", or the API's allow_unverified
    host_status: Literal["verified", "unbound", "unverified", "failed"]  # the host's state when it was given
    reason: str


class AdmissionRecord(_Strict):
    """How the prompt was let go to its host, as the installation decided before sending."""

    policy: Literal["require", "warn"]
    key_checked: bool  # each connection's TLS key was checked against the verified attestation at the handshake
    consent: ConsentRecord | None = None
    demo: bool = False  # the offline demo model: local, nothing to attest


class Signer(_Strict):
    algorithm: Literal["ed25519"] = "ed25519"
    public_key: str  # base64 of the raw 32 bytes
    fingerprint: str  # SHA-256 of the raw public key, hex (shown in Settings)


class ProofBody(_Strict):
    format: Literal["secretgpt-proof/1", "secretgpt-proof/2", "secretgpt-proof/3"] = FORMAT
    conversation_id: str | None = None
    message_id: str | None = None
    model: str
    host: str
    started_at: datetime
    finished_at: datetime
    generation: dict[str, Any] = Field(default_factory=dict)  # temperature, top_p, max tokens, seed, system prompt
    turns: list[Turn]
    answer: Answer
    chain: ChainRecord
    connection: Connection
    attestation: AttestationRecord
    # /2: how the prompt was let go (null: the answer was stored before that was recorded); /1: absent.
    admission: AdmissionRecord | None = None
    signer: Signer

    @model_validator(mode="after")
    def _admission_fits_format(self) -> ProofBody:
        if self.format != "secretgpt-proof/1" and "admission" not in self.model_fields_set:
            raise ValueError(f"a {self.format} proof says how its prompt was let go (admission), even if null")
        if self.format == "secretgpt-proof/1" and self.admission is not None:
            raise ValueError(f"a {self.format} proof has no admission")
        if (self.format == WITH_ATTACHMENTS) != any(t.attachments for t in self.turns):
            raise ValueError(f"a proof whose turns name files is of format {WITH_ATTACHMENTS}, and only such a one")
        return self


class SignedProof(_Strict):
    proof: ProofBody
    signature: str  # base64 Ed25519 signature of canonical(proof)

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), ensure_ascii=False, indent=1)


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def build_proof(*, key: InstallationKey, turns: list[Turn], answer: Answer, chain: HashChain, model: str,
                connection: Connection, attestation: AttestationRecord, started_at: datetime,
                finished_at: datetime, generation: dict[str, Any] | None = None,
                admission: AdmissionRecord | None = None, conversation_id: str | None = None,
                message_id: str | None = None) -> SignedProof:
    """Seam for the hub: everything it knows when an answer ends. Raises ValueError when the
    chain does not cover exactly the answer's text and reasoning (a bug upstream, caught here
    rather than in someone's verifier)."""
    if replay(split(answer.text, answer.reasoning, chain.chunks)) != chain.head:
        raise ValueError("the hash chain does not match the answer's text and reasoning")
    body = ProofBody(
        format=WITH_ATTACHMENTS if any(t.attachments for t in turns) else FORMAT, conversation_id=conversation_id, message_id=message_id, model=model, host=connection.origin,
        started_at=started_at, finished_at=finished_at, generation=generation or {}, turns=turns, answer=answer,
        chain=ChainRecord(chunks=list(chain.chunks), head=chain.head), connection=connection,
        attestation=attestation, admission=admission,
        signer=Signer(public_key=key.public_key_b64, fingerprint=key.fingerprint),
    )
    signature = key.sign(canonical(body.model_dump(mode="json")))
    return SignedProof(proof=body, signature=base64.b64encode(signature).decode())
