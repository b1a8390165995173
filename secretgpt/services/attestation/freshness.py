"""How fresh a host's evidence is, said plainly: when it was fetched, and that SecretVM evidence
carries no nonce of ours, so it shows what the VM booted with, not that it was made for a request."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from .models import EVIDENCE, Evidence

NO_NONCE_NOTE = ("SecretVM evidence has no nonce: the VM produced it when it booted, so it shows what the VM "
                 "booted with, not that it was produced for this request. What ties it to this connection is "
                 "the TLS key it binds.")


class Freshness(BaseModel):
    fetched_at: datetime | None  # when this app fetched the evidence from the host
    nonce: bool = False  # no challenge of ours is in the evidence
    note: str = NO_NONCE_NOTE


def freshness_of(evidence: Evidence | None) -> Freshness | None:
    """None when nothing was fetched (the demo model, plain http, no evidence served)."""
    return Freshness(fetched_at=evidence.captured_at) if evidence is not None else None


def fetched_at_of(checks: Iterable[Mapping[str, Any]]) -> datetime | None:
    """When the evidence was fetched, from the checks as an answer keeps them (the evidence check's
    `captured_at`); None if they do not say."""
    for check in checks:
        captured = (check.get("values") or {}).get("captured_at") if check.get("name") == EVIDENCE else None
        if captured:
            try:
                return datetime.fromisoformat(str(captured))
            except ValueError:
                return None
    return None
