"""Whether an instance can answer a prompt now: its database answers, its Redis (when it has one)
answers, and there is a model to ask. What an orchestrator's readiness probe asks (`GET /readyz`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from dataclasses import dataclass

from ..records import Catalog
from .bus import StreamBus
from .ports import ConversationStore

log = logging.getLogger(__name__)

# A probe that hangs is a probe that fails: a database or Redis slower than this is not ready.
PING_WITHIN = 3.0


@dataclass(frozen=True)
class Readiness:
    missing: str | None = None  # "database", "redis" or "model"; None: ready
    reason: str = ""  # one short phrase, no address, credential or server message

    @property
    def ready(self) -> bool:
        return self.missing is None


async def readiness(store: ConversationStore, bus: StreamBus, catalog: Catalog) -> Readiness:
    if not await _answers(store.ping(), "database"):
        return Readiness("database", "the database does not answer")
    if not await _answers(bus.ping(), "redis"):
        return Readiness("redis", "Redis does not answer")
    if not catalog.models:
        return Readiness("model", "no model is available yet")
    return Readiness()


async def _answers(ping: Awaitable[None], what: str) -> bool:
    try:
        async with asyncio.timeout(PING_WITHIN):
            await ping
    except Exception as exc:  # noqa: BLE001 - whatever it is, it is not ready; the log says what
        log.warning("readiness: %s unavailable (%s)", what, type(exc).__name__)
        return False
    return True
