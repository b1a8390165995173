"""Rows behind answer proofs: each attestation's evidence kept once, and an answer's provenance
read back with it."""

from __future__ import annotations

from datetime import datetime

from pydantic import ValidationError
from sqlalchemy import Insert, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from ..records import AnswerProvenance, StreamRecord
from .schema import evidence as E
from .schema import messages as M
from ..records import AnswerProof, StoredMessage


async def keep_evidence(conn: AsyncConnection, record: StreamRecord) -> None:
    """Store the evidence an answer was judged on, unless that attestation is stored already."""
    attestation_id = record.attestation.attestation_id if record.attestation else None
    if record.evidence is None or attestation_id is None:
        return
    if (await conn.execute(select(E.c.id).where(E.c.id == attestation_id))).first() is not None:
        return
    captured = datetime.fromisoformat(str(record.evidence["captured_at"]))
    await conn.execute(_insert_once(conn.dialect.name).values(
        id=attestation_id, origin=str(record.evidence["origin"]), captured_at=captured, evidence=record.evidence))


def _insert_once(dialect: str) -> Insert:
    """An INSERT of evidence that does nothing if that attestation is there: answers served under
    one attestation often end together, and on PostgreSQL their saves run at once (each in its
    own conversation), so both may have found it missing."""
    if dialect == "postgresql":
        return postgresql.insert(E).on_conflict_do_nothing(index_elements=[E.c.id])
    if dialect == "sqlite":
        return sqlite.insert(E).on_conflict_do_nothing(index_elements=[E.c.id])
    return insert(E)  # elsewhere, the check above (and a retry of a save that lost the race)


async def proof_of(conn: AsyncConnection, conversation_id: str, message: StoredMessage) -> AnswerProof:
    stored = (await conn.execute(select(M.c.proof).where(M.c.conversation_id == conversation_id,
                                                         M.c.id == message.id))).scalar()
    try:
        provenance = AnswerProvenance.model_validate(stored) if stored else None
    except ValidationError:
        provenance = None
    attestation_id = (message.metadata.get("attestation") or {}).get("attestation_id")
    evidence = None
    if attestation_id:
        evidence = (await conn.execute(select(E.c.evidence).where(E.c.id == attestation_id))).scalar()
    return AnswerProof(message=message, provenance=provenance, evidence=evidence)
