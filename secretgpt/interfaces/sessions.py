"""NiceGUI's browser sessions (`app.storage.browser` / `app.storage.user`), for the page only.

`ui.run(storage_secret=...)` would install NiceGUI's RequestTrackingMiddleware, which gives every
request without a cookie a new session id and an in-memory user storage: every `/api/` call
would add one. We install the same two middlewares ourselves, with the API left out.

The session id is NiceGUI's browser id: it keys `app.storage.user`, and the page's conversations
belong to it (or to the browser it signed in from: `web_ui/sign_ins.py`).
"""

from __future__ import annotations

import uuid
from collections.abc import MutableMapping
from typing import Any

from nicegui import app
from nicegui.storage import RequestTrackingMiddleware, Storage
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

API_PREFIX = "/api/"
SECURE_SCHEMES = frozenset({"https", "wss"})


class BrowserSessionMiddleware:
    """Starlette's session cookie (HttpOnly, SameSite=Lax), also `Secure` when the request came
    over https: directly, or through a trusted proxy's `X-Forwarded-Proto` (uvicorn's proxy
    headers, trusted from loopback by default, set the scope's scheme). Not always `Secure`: a
    browser drops such a cookie sent over plain http, and loopback use is plain http.

    Not a `SessionMiddleware` subclass: NiceGUI appends its own request tracking (for every path)
    when it finds `SessionMiddleware` among the middlewares."""

    def __init__(self, app: ASGIApp, *, secret_key: str) -> None:
        self.plain = SessionMiddleware(app, secret_key=secret_key)
        self.secure = SessionMiddleware(app, secret_key=secret_key, https_only=True)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        sessions = self.secure if scope.get("scheme") in SECURE_SCHEMES else self.plain
        await sessions(scope, receive, send)


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


def session_id(scope: Scope) -> str:
    """The browser id of a request or websocket handshake ('' without a session)."""
    return str(scope.get("session", {}).get("id", ""))


def renew_session(session: MutableMapping[str, Any]) -> str:
    """Give this browser a new session id (sent with the response's cookie), keeping nothing of
    the old session: whoever else holds the old cookie holds a session that stays as it was."""
    session.clear()
    session["id"] = str(uuid.uuid4())  # as NiceGUI makes them
    return str(session["id"])


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
