"""Sign-in as browsers and attackers see it over HTTP, against `python main.py` in a subprocess:
a planted cookie, wrong tokens from the owner's address, the cookie behind an https proxy, and
the page socket of a session that is not signed in.

Each client comes from an address of its own: the app trusts X-Forwarded-For from loopback (a
reverse proxy on this machine), so the throttle counts them apart.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from secretgpt.interfaces.web_ui.login import TOKEN_PATH
from tests.support.app_process import AppProcess
from tests.test_security_process import DEMO_MODEL, raw_exchange, websocket_head

TOKEN = "process-test-access-token"


@pytest.fixture(scope="module")
def exposed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppProcess]:
    root: Path = tmp_path_factory.mktemp("exposed")
    app = AppProcess(root / "data", root / "work", model_url="", model=DEMO_MODEL, model_api_key="", env={
        "SECRETGPT_REQUIRE_LOGIN": "true", "SECRETGPT_API_TOKEN": TOKEN})
    asyncio.run(app.start())
    yield app
    app.cleanup()


def browser(app: AppProcess, address: str, headers: dict[str, str] | None = None, **kwargs: Any) -> httpx.AsyncClient:
    """A browser at `address`, as the reverse proxy on this machine passes it on."""
    return httpx.AsyncClient(base_url=app.url, timeout=60, headers={"X-Forwarded-For": address, **(headers or {})},
                             **kwargs)


async def sign_in(client: httpx.AsyncClient, token: str = TOKEN) -> httpx.Response:
    return await client.post(TOKEN_PATH, data={"token": token})


async def is_signed_in(client: httpx.AsyncClient) -> bool:
    response = await client.get("/")
    assert response.status_code in (200, 303), response.status_code
    return response.status_code == 200


def client_id(page: httpx.Response) -> str:
    """The NiceGUI client a page's socket serves (in the page's start-up script)."""
    found = re.search(r"'client_id': '([0-9a-f-]{36})'", page.text)
    assert found is not None, page.text[:200]
    return found.group(1)


def socket_poll(client: str) -> str:
    return f"/_nicegui_ws/socket.io/?client_id={client}&EIO=4&transport=polling"


async def test_a_cookie_planted_before_sign_in_is_not_signed_in_after_it(exposed: AppProcess) -> None:
    async with browser(exposed, "198.51.100.1") as attacker:
        assert (await attacker.get("/login")).status_code == 200
        planted = attacker.cookies["session"]
        async with browser(exposed, "198.51.100.2") as victim:
            victim.cookies.set("session", planted, domain="127.0.0.1")  # where the response's would go
            response = await sign_in(victim)
            assert response.status_code == 303 and response.headers["location"] == "/"
            assert victim.cookies["session"] != planted, "the sign-in gave the victim a new session"
            assert await is_signed_in(victim)
        assert not await is_signed_in(attacker)
        assert (await attacker.get("/login")).status_code == 200, "the attacker's page is still the sign-in"


async def test_the_right_token_signs_in_while_wrong_ones_from_its_address_are_held_back(
        exposed: AppProcess) -> None:
    address = "198.51.100.3"
    async with browser(exposed, address) as guesser:
        for _ in range(5):
            response = await sign_in(guesser, "a guess")
            assert response.headers["location"] == "/login?failed=wrong"
        started = time.monotonic()
        response = await sign_in(guesser, "another guess")
        assert response.headers["location"] == "/login?failed=slowed"
        assert time.monotonic() - started >= 1.0, "past five, a wrong token's answer is held"
        assert "answered more slowly" in (await guesser.get(response.headers["location"])).text
        assert not await is_signed_in(guesser)
    async with browser(exposed, address) as owner:
        started = time.monotonic()
        response = await sign_in(owner)
        # Not held: the next wrong token from this address would wait 2 s.
        assert time.monotonic() - started < 2.0
        assert response.status_code == 303 and response.headers["location"] == "/"
        assert await is_signed_in(owner)


async def test_the_session_cookie_is_secure_behind_an_https_proxy(exposed: AppProcess) -> None:
    async with browser(exposed, "198.51.100.4") as plain:
        cookie = (await plain.get("/login")).headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie, cookie
    async with browser(exposed, "198.51.100.4", headers={"X-Forwarded-Proto": "https"}) as proxied:
        for response in (await proxied.get("/login"), await sign_in(proxied)):
            cookie = response.headers["set-cookie"].lower()
            flags = {part.strip() for part in cookie.split(";")}
            assert {"secure", "httponly", "samesite=lax"} <= flags, (response.request.url, cookie)


async def test_a_page_socket_serves_only_a_signed_in_session(exposed: AppProcess) -> None:
    async with browser(exposed, "198.51.100.5") as owner, browser(exposed, "198.51.100.6") as stranger:
        assert (await sign_in(owner)).status_code == 303
        chat = client_id(await owner.get("/"))
        assert (await owner.get(socket_poll(chat))).status_code == 200
        # Someone who has not signed in (or a signed-out cookie) cannot drive the chat page's client:
        # not by polling, not over a websocket, not with an upload.
        refused = await stranger.get(socket_poll(chat))
        assert refused.status_code == 403 and refused.json()["detail"]["kind"] == "sign_in_required"
        head = websocket_head(f"127.0.0.1:{exposed.port}").replace("transport=websocket",
                                                                  f"transport=websocket&client_id={chat}")
        status, _ = await raw_exchange(exposed.port, head)
        assert status.startswith("HTTP/1.1 403"), status
        upload = await stranger.post(f"/_nicegui/client/{chat}/upload/1", files={"file": ("a.json", b"{}")})
        assert upload.status_code == 403 and upload.json()["detail"]["kind"] == "sign_in_required"
        # The sign-in page's own socket works before signing in.
        login = client_id(await stranger.get("/login"))
        assert (await stranger.get(socket_poll(login))).status_code == 200
