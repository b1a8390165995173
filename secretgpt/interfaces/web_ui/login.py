"""Sign-in for the page when the app is reachable from other machines.

The access token is the API token printed at start-up. A browser that has given it once stays
signed in (NiceGUI's `app.storage.user`, kept per browser session cookie). The API is unchanged:
it takes the same token as a bearer token on every request.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from collections import deque
from collections.abc import Callable

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import app, ui
from starlette.types import ASGIApp, Receive, Scope, Send

LOGIN_PATH = "/login"
# Reachable without signing in: the sign-in page, NiceGUI's assets and socket (a socket serves
# only a page that was itself allowed), and the API (which has its bearer token).
OPEN_PATHS = (LOGIN_PATH, "/favicon.ico")
OPEN_PREFIXES = ("/_nicegui/", "/_nicegui_ws/", "/api/")
WRONG_TOKEN = ("That is not the access token. Use the API token printed when SecretGPT started "
               "(or the value of SECRETGPT_API_TOKEN).")


def login_marker(token: str) -> str:
    """What a signed-in browser's storage holds: not the token itself, and a new token signs
    every browser out."""
    return hashlib.sha256(b"secretgpt-login\0" + token.encode()).hexdigest()


class LoginThrottle:
    """At most `attempts` wrong tokens per client address within `window` seconds."""

    def __init__(self, attempts: int = 5, window: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.attempts = attempts
        self.window = window
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}

    def wait(self, client: str) -> float:
        """Seconds until `client` may try again (0: now)."""
        failures = self._recent(client)
        if len(failures) < self.attempts:
            return 0.0
        return max(0.0, failures[0] + self.window - self._clock())

    def failed(self, client: str) -> None:
        if len(self._failures) > 10_000:  # many addresses: forget the ones whose window has passed
            cutoff = self._clock() - self.window
            self._failures = {c: f for c, f in self._failures.items() if f and f[-1] > cutoff}
        self._recent(client).append(self._clock())

    def succeeded(self, client: str) -> None:
        self._failures.pop(client, None)

    def _recent(self, client: str) -> deque[float]:
        failures = self._failures.setdefault(client, deque())
        cutoff = self._clock() - self.window
        while failures and failures[0] <= cutoff:
            failures.popleft()
        return failures


def signed_in(marker: str) -> bool:
    return hmac.compare_digest(str(app.storage.user.get("login", "")), marker)


class LoginRequired:
    """Sends a browser that has not signed in to the sign-in page. Must run inside NiceGUI's
    request tracking, which makes `app.storage.user` available."""

    def __init__(self, app: ASGIApp, *, marker: str) -> None:
        self.app = app
        self.marker = marker

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path in OPEN_PATHS or path.startswith(OPEN_PREFIXES) or signed_in(self.marker):
            await self.app(scope, receive, send)
            return
        await RedirectResponse(LOGIN_PATH, status_code=303)(scope, receive, send)


def register_login(api_token: str, throttle: LoginThrottle | None = None) -> None:
    """The sign-in page and the middleware that requires it. Call before `ui.run`, before the
    session middlewares are installed (they must run outside this one)."""
    marker = login_marker(api_token)
    throttle = throttle or LoginThrottle()
    app.add_middleware(LoginRequired, marker=marker)

    @ui.page(LOGIN_PATH, title="SecretGPT — sign in")
    def login_page(request: Request) -> RedirectResponse | None:
        if signed_in(marker):
            return RedirectResponse("/", status_code=303)
        client = request.client.host if request.client else "unknown"

        def attempt() -> None:
            wait = throttle.wait(client)
            if wait > 0:
                message.text = f"Too many wrong tokens. Try again in {math.ceil(wait)} s."
                return
            if hmac.compare_digest((token.value or "").strip().encode(), api_token.encode()):
                throttle.succeeded(client)
                app.storage.user["login"] = marker
                ui.navigate.to("/")
                return
            throttle.failed(client)
            token.value = ""
            message.text = WRONG_TOKEN

        with ui.card().classes("absolute-center w-[28rem] max-w-[92vw] gap-3 p-6"):
            with ui.row().classes("items-center gap-2 no-wrap"):
                ui.icon("lock").classes("text-xl")  # not 🔒: a box without an emoji font
                ui.label("SecretGPT").classes("text-xl font-medium")
            ui.label("This SecretGPT can be reached from other machines, so it asks for its access token: "
                     "the API token printed when it started.").classes("text-sm text-grey-8")
            token = ui.input("Access token", password=True, password_toggle_button=True) \
                .props("outlined autofocus aria-label='Access token'").classes("w-full").mark("token")
            token.on("keydown.enter", attempt)
            message = ui.label("").classes("text-negative text-sm sg-login-error").props("role=alert")
            ui.button("Sign in", icon="login", on_click=attempt).classes("self-end").mark("sign-in")
        return None
