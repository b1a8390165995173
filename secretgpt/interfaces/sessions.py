"""NiceGUI's browser sessions (`app.storage.browser` / `app.storage.user`), for the page only.

`ui.run(storage_secret=...)` would install NiceGUI's RequestTrackingMiddleware, which gives every
request without a cookie a new session id and an in-memory user storage: every `/api/` call
would add one. We install the same two middlewares ourselves, with the API left out.
"""

from __future__ import annotations

from nicegui import app
from nicegui.storage import RequestTrackingMiddleware, Storage
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

API_PREFIX = "/api/"


class BrowserSessionMiddleware(SessionMiddleware):
    """Starlette's session middleware under a name of its own: NiceGUI appends its own request
    tracking (for every path) when it finds `SessionMiddleware` itself among the middlewares."""


class PageRequestTracking:
    """NiceGUI's request tracking for everything but the API, which authenticates by token."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.tracked = RequestTrackingMiddleware(app)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(API_PREFIX):
            await self.app(scope, receive, send)
        else:
            await self.tracked(scope, receive, send)


def install_sessions(secret: str) -> None:
    """Call before `ui.run`, which must then get no storage_secret. Middlewares added after this
    one run before it (outside it)."""
    app.add_middleware(PageRequestTracking)
    app.add_middleware(BrowserSessionMiddleware, secret_key=secret)

    def remember_secret() -> None:
        # ui.run resets it to the storage_secret it was given (none); NiceGUI prunes stale user
        # storage only when it is set, and checks right after the startup handlers.
        Storage.secret = secret

    app.on_startup(remember_secret)
