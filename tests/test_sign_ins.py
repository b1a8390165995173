"""Sign-in's pure pieces: the throttle (wrong tokens only), the server's list of signed-in
sessions and whose conversations they show, the token check, and the session cookie's flags."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from secretgpt.interfaces.sessions import BrowserSessionMiddleware, renew_session
from secretgpt.interfaces.web_ui.sign_ins import LoginThrottle, SignIns, login_marker, tokens_match

# --- the throttle -------------------------------------------------------------------------------------


def test_past_five_wrong_tokens_each_further_one_is_held_longer_until_the_window_passes() -> None:
    now = [1000.0]
    throttle = LoginThrottle(attempts=5, window=900.0, max_delay=30.0, clock=lambda: now[0])
    assert [throttle.failed("10.0.0.1") for _ in range(5)] == [0, 0, 0, 0, 0]
    assert [throttle.failed("10.0.0.1") for _ in range(7)] == [1, 2, 4, 8, 16, 30, 30]
    assert throttle.failed("10.0.0.2") == 0, "another address is not held back"
    now[0] += 901  # the window has passed: those failures are forgotten
    assert throttle.failed("10.0.0.1") == 0


def test_a_long_run_of_wrong_tokens_stays_at_the_longest_delay() -> None:
    throttle = LoginThrottle(attempts=1, window=1e9, max_delay=30.0, clock=lambda: 0.0)
    assert max(throttle.failed("10.0.0.1") for _ in range(5_000)) == 30


# --- the token and the marker -------------------------------------------------------------------------------


def test_tokens_match_only_exactly() -> None:
    assert tokens_match("s3cret-token", "s3cret-token")
    for given in ("s3cret-toke", "s3cret-token ", "", "S3CRET-TOKEN", "s3cret-token-and-more"):
        assert not tokens_match(given, "s3cret-token"), given


def test_the_login_marker_is_not_the_token_and_changes_with_it() -> None:
    assert login_marker("token-a") != login_marker("token-b")
    assert "token-a" not in login_marker("token-a")


# --- who is signed in, and whose conversations they see ------------------------------------------------------


def test_a_sign_in_lists_only_the_new_session_and_keeps_the_browsers_conversations() -> None:
    storage: dict = {}
    sign_ins = SignIns(storage, login_marker("token"))
    assert not sign_ins.signed_in("before") and sign_ins.owner_of("before") == "web:before"
    sign_ins.sign_in("before", "after")
    assert sign_ins.signed_in("after") and not sign_ins.signed_in("before"), "the old cookie's session is not"
    assert sign_ins.owner_of("after") == "web:before", "the conversations this browser made before"
    # A planted cookie's holder does not get them either, should sign-in be turned off later.
    assert sign_ins.owner_of("before") not in ("web:before", "web:after")
    sign_ins.sign_in("after", "again")  # signing in again (a new token, say) keeps them too
    assert sign_ins.owner_of("again") == "web:before" and not sign_ins.signed_in("after")
    assert not sign_ins.signed_in(""), "no session is not a signed-in one"


def test_signing_out_ends_the_session_and_its_link_to_the_conversations() -> None:
    sign_ins = SignIns({}, login_marker("token"))
    sign_ins.sign_in("before", "after")
    sign_ins.sign_out("after")
    assert not sign_ins.signed_in("after")
    assert sign_ins.owner_of("after") == "web:after", "the next sign-in here starts a list of its own"


def test_a_new_token_signs_every_session_out_but_keeps_their_conversations() -> None:
    storage: dict = {}
    SignIns(storage, login_marker("old token")).sign_in("before", "after")
    renewed = SignIns(storage, login_marker("new token"))
    assert not renewed.signed_in("after")
    assert renewed.owner_of("after") == "web:before"


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
