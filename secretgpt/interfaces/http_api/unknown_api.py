"""Every other `/api/` path: a JSON 404 (or 405 for a known path and the wrong method) in the API's
error shape. Without it the app's page would answer, with HTML, a program that made a typo."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.routing import APIRoute
from starlette.routing import Match

from .requests import ApiRoute, api_error

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def unknown_api(require_token: Any, known: Sequence[APIRouter]) -> APIRouter:
    """Mount after the `known` routers: it takes whatever they did not."""
    api = APIRouter(dependencies=[Depends(require_token)], route_class=ApiRoute)

    async def unknown(request: Request) -> None:
        allowed = _methods_for(request, known)
        if allowed:
            refusal = api_error(405, f"{request.method} is not allowed on {request.url.path}; it takes "
                                     f"{', '.join(allowed)}.", "method_not_allowed")
            refusal.headers = {"Allow": ", ".join(allowed)}
            raise refusal
        raise api_error(404, f"No API route {request.method} {request.url.path} (the routes are in the README, "
                             "HTTP API).", "not_found")

    for path in ("/api", "/api/{path:path}"):
        api.add_api_route(path, unknown, methods=METHODS, include_in_schema=False)
    return api


def _methods_for(request: Request, known: Sequence[APIRouter]) -> list[str]:
    """The methods the known routes take on this path (none: the path is unknown)."""
    methods: set[str] = set()
    for router in known:
        for route in router.routes:
            # Starlette's own answer: PARTIAL is "this path, another method".
            if isinstance(route, APIRoute) and route.matches(request.scope)[0] is Match.PARTIAL:
                methods |= route.methods
    return sorted(methods, key=METHODS.index)
