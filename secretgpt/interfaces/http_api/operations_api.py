"""What an operator's tools ask of each instance: `GET /metrics` (Prometheus's text format, behind
the API token), `GET /healthz` (the process answers) and `GET /readyz` (it can answer a prompt:
database, Redis if configured, a model). The two probes need no token and say nothing else."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response

from ...hub import ChatHub
from .requests import ApiRoute

# The exposition and its Content-Type (the metrics package's `HubMetrics.render`).
Exposition = Callable[[], tuple[bytes, str]]
NO_STORE = {"Cache-Control": "no-store"}


def operations_api(hub: ChatHub, require_token: Any, metrics: Exposition) -> APIRouter:
    api = APIRouter(route_class=ApiRoute, include_in_schema=False)

    @api.get("/metrics", dependencies=[Depends(require_token)])
    async def scrape() -> Response:
        body, content_type = metrics()
        return Response(body, media_type=content_type, headers=NO_STORE)

    @api.get("/healthz")
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok"}, headers=NO_STORE)

    @api.get("/readyz")
    async def readyz() -> JSONResponse:
        readiness = await hub.readiness()
        if readiness.ready:
            return JSONResponse({"status": "ready"}, headers=NO_STORE)
        return JSONResponse({"status": "not ready", "missing": readiness.missing, "reason": readiness.reason},
                            status_code=503, headers=NO_STORE)

    return api
