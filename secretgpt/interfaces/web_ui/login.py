"""Sign-in for the page when the app is reachable from other machines.

The access token is the API token printed at start-up. The sign-in page's form posts it to
`/login/token` as a plain HTTP request, not over the page's websocket: only an HTTP response can give
the browser a new session cookie, and a right token always gets a new session (a cookie planted
before the sign-in stays a session that is not signed in). Who is signed in is kept on the server
(`SignIns`). The API is unchanged: it takes the same token as a bearer token on every request.
"""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs

from fastapi import Request
from fastapi.responses import JSONResponse, RedirectResponse
from nicegui import Client, app, ui
from starlette.types import ASGIApp, Receive, Scope, Send

from ..security import OPERATOR_PATHS
from ..sessions import renew_session, session_id
from .sign_ins import LoginThrottle, SignIns, login_marker, tokens_match

LOGIN_PATH = "/login"
# Not a POST route on LOGIN_PATH: NiceGUI's ui.page drops every route of its path.
TOKEN_PATH = "/login/token"
# Reachable without signing in: the sign-in page, NiceGUI's assets, and the API (which has its
# bearer token). A page's socket and uploads too, but only the sign-in page's (LoginRequired).
OPEN_PATHS = (LOGIN_PATH, TOKEN_PATH, "/favicon.ico")
OPEN_PREFIXES = ("/_nicegui/", "/api/")
SOCKET_PREFIX = "/_nicegui_ws/"
CLIENT_PREFIX = "/_nicegui/client/"  # a page's uploads
WRONG_TOKEN = ("That is not the access token. Use the API token printed when SecretGPT started "
               "(or the value of SECRETGPT_API_TOKEN).")
SLOWED = ("That is not the access token. After several wrong tokens from your address each further one is "
          "answered more slowly; the right token still signs in at once.")
FAILURES = {"wrong": WRONG_TOKEN, "slowed": SLOWED}


class LoginRequired:
    """Sends a browser that has not signed in to the sign-in page. A request for one page's
    client (its socket, its uploads) is served only for the sign-in page: one for any other
    page's client (left open in a browser that has signed out since, or reached with a copy of
    its cookie) is refused, so signing out ends the pages too. Must run inside the session
    middleware."""

    def __init__(self, app: ASGIApp, *, sign_ins: SignIns) -> None:
        self.app = app
        self.sign_ins = sign_ins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or self.sign_ins.signed_in(session_id(scope)):
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        client = _client_named(scope)
        if client is not None:
            if _serves_an_open_page(client):
                await self.app(scope, receive, send)
            else:
                await _refuse(scope, receive, send)
        elif (scope["type"] == "websocket" or path in OPEN_PATHS or path in OPERATOR_PATHS
              or path.startswith(OPEN_PREFIXES)):
            await self.app(scope, receive, send)
        else:
            await RedirectResponse(LOGIN_PATH, status_code=303)(scope, receive, send)


def _client_named(scope: Scope) -> str | None:
    """The NiceGUI client a request is for: NiceGUI's socket names it in its query on every
    request, an upload in its path. None: a request for no client in particular."""
    path = scope.get("path", "")
    if path.startswith(SOCKET_PREFIX):
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        return query.get("client_id", [""])[0]
    if path.startswith(CLIENT_PREFIX):
        return path[len(CLIENT_PREFIX):].split("/", 1)[0]
    return None


def _serves_an_open_page(client_id: str) -> bool:
    """A client NiceGUI does not know it refuses itself (for a socket, the browser then reloads
    the page, which is sent to sign-in)."""
    client = Client.instances.get(client_id)
    return client is None or client.page.path in OPEN_PATHS


async def _refuse(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008})  # before accept: uvicorn answers 403
        return
    detail = {"message": "Sign in first: this page's session is not signed in.", "kind": "sign_in_required"}
    await JSONResponse({"detail": detail}, status_code=403)(scope, receive, send)


def _address(request: Request) -> str:
    # Behind a proxy on this machine, uvicorn has taken it from X-Forwarded-For.
    return request.client.host if request.client else "unknown"


def register_login(api_token: str, throttle: LoginThrottle | None = None) -> None:
    """The sign-in page, its form's route and the middleware that requires it. Call before
    `ui.run`, before the session middlewares are installed (they must run outside this one)."""
    sign_ins = SignIns(app.storage.general, login_marker(api_token))
    throttle = throttle or LoginThrottle()
    app.add_middleware(LoginRequired, sign_ins=sign_ins)

    async def sign_in(request: Request) -> RedirectResponse:
        form = await request.form(max_files=0, max_fields=8)
        given = form.get("token")
        if tokens_match(given.strip() if isinstance(given, str) else "", api_token):
            previous = session_id(request.scope)
            sign_ins.sign_in(previous, renew_session(request.session))
            return RedirectResponse("/", status_code=303)
        delay = throttle.failed(_address(request))
        if delay:
            await asyncio.sleep(delay)
        return RedirectResponse(f"{LOGIN_PATH}?failed={'slowed' if delay else 'wrong'}", status_code=303)

    app.add_api_route(TOKEN_PATH, sign_in, methods=["POST"], include_in_schema=False)

    @ui.page(LOGIN_PATH, title="SecretGPT — sign in")
    def login_page(request: Request) -> RedirectResponse | None:
        if sign_ins.signed_in(session_id(request.scope)):
            return RedirectResponse("/", status_code=303)
        sign_in_form(FAILURES.get(request.query_params.get("failed", ""), ""))
        return None


def sign_in_form(failure: str) -> None:
    with ui.card().classes("absolute-center w-[28rem] max-w-[92vw] gap-3 p-6"):
        with ui.row().classes("items-center gap-2 no-wrap"):
            ui.icon("lock").classes("text-xl")  # not 🔒: a box without an emoji font
            ui.label("SecretGPT").classes("text-xl font-medium")
        ui.label("This SecretGPT can be reached from other machines, so it asks for its access token: "
                 "the API token printed when it started.").classes("text-sm text-grey-8")
        with ui.element("form").props(f"method=post action={TOKEN_PATH}").classes("column w-full gap-3"):
            ui.input("Access token", password=True, password_toggle_button=True) \
                .props("outlined autofocus name=token autocomplete=current-password aria-label='Access token'") \
                .classes("w-full").mark("token")
            ui.label(failure).classes("text-negative text-sm sg-login-error").props("role=alert")
            ui.button("Sign in", icon="login").props("type=submit").classes("self-end").mark("sign-in")
