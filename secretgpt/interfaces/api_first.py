"""`ApiFirst`: HTTP requests under /api/ go to the API's own FastAPI app, not through the page's.

NiceGUI's app wraps every request in its page middlewares (a prefix redirect and cache headers,
both Starlette `BaseHTTPMiddleware`s, and gzip); for an event stream each of them moves every
event through an extra in-memory stream and task. The API needs none of them, so it is served
beside the page, below the same outer middlewares (the host check, headers and body caps).
"""

from __future__ import annotations

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
