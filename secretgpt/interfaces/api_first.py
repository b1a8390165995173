"""`ApiFirst`: HTTP requests under /api/ go to the API's own FastAPI app, not through the page's.

NiceGUI's app wraps every request in its page middlewares (a prefix redirect and cache headers,
both Starlette `BaseHTTPMiddleware`s, and gzip); for an event stream each of them moves every
event through an extra in-memory stream and task. `ui.run` adds them last, so they run first,
outside any middleware added before it: `ApiFirst` therefore wraps the whole stack as it is
built, and the API app it serves carries its own outer middleware (the host check, headers and
body caps, as the page's).
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.types import ASGIApp, Receive, Scope, Send

API_PREFIX = "/api/"


class ApiHolder:
    """The API app, once the runtime has built the hub it serves (in the app's lifespan)."""

    app: ASGIApp | None = None


class ApiFirst:
    def __init__(self, app: ASGIApp, holder: ApiHolder) -> None:
        self.app = app
        self._holder = holder

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        api = self._holder.app
        if api is not None and scope["type"] == "http" and scope["path"].startswith(API_PREFIX):
            await api(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def serve_api_first(app: Starlette, holder: ApiHolder) -> None:
    """Put `ApiFirst` outside everything `app` will ever be given, `ui.run`'s middlewares included
    (Starlette builds the stack once, at the first request or lifespan event)."""
    build = app.build_middleware_stack

    def build_with_the_api_first() -> ASGIApp:
        return ApiFirst(build(), holder)

    app.build_middleware_stack = build_with_the_api_first  # type: ignore[method-assign]
