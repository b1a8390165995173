"""Sign-in's pure pieces: the session cookie's flags and a renewed session."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from secretgpt.interfaces.sessions import BrowserSessionMiddleware, renew_session

# --- the session cookie -----------------------------------------------------------------------------------------


async def test_the_session_cookie_is_secure_over_https_only_and_always_httponly_and_lax() -> None:
    async def touch(request: Request) -> PlainTextResponse:
        renew_session(request.session)
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/", touch)],
                    middleware=[Middleware(BrowserSessionMiddleware, secret_key="test-secret")])
    for scheme, secure in (("http", False), ("https", True)):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url=f"{scheme}://127.0.0.1") as client:
            cookie = (await client.get("/")).headers["set-cookie"].lower()
        flags = {part.strip() for part in cookie.split(";")}
        assert {"httponly", "samesite=lax"} <= flags, cookie
        assert ("secure" in flags) is secure, (scheme, cookie)


@pytest.mark.parametrize("old", [{}, {"id": "planted", "other": 1}])
def test_a_renewed_session_keeps_nothing_of_the_old_one(old: dict) -> None:
    session = dict(old)
    new = renew_session(session)
    assert session == {"id": new} and new != old.get("id") and len(new) == 36
