"""The HTTP API: Server-Sent Events for streams, JSON for the rest. Every route needs the token."""

from __future__ import annotations

from fastapi import FastAPI

from ...hub import ChatHub
from .attestation_api import attestation_api
from .conversations_api import conversations_api
from .operations_api import Exposition, operations_api
from .files_api import files_api
from .requests import owner_for_token, token_guard
from .streams_api import streams_api
from .unknown_api import unknown_api

__all__ = ["mount_api", "mount_operations", "owner_for_token"]


def mount_api(app: FastAPI, hub: ChatHub, *, api_token: str, keepalive: float) -> None:
    """The streams, conversations and attestation routes under /api/v1 (each checks the bearer token);
    any other /api/ path is a JSON 404."""
    require_token = token_guard(api_token)
    known = [streams_api(hub, require_token, keepalive), conversations_api(hub, require_token),
             attestation_api(hub, require_token), files_api(hub, require_token)]
    for router in known:
        app.include_router(router)
    app.include_router(unknown_api(require_token, known))


def mount_operations(app: FastAPI, hub: ChatHub, *, api_token: str, metrics: Exposition) -> None:
    """`/metrics` (bearer token), `/healthz` and `/readyz` (open), at the root: where Prometheus and
    orchestrators look."""
    app.include_router(operations_api(hub, token_guard(api_token), metrics))
