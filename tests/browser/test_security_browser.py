"""What only a browser can show about the security rules: the page works under its CSP with no
violation, the CSP really blocks what it should, and an exposed app asks for the token first."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import BrowserContext, Page, expect

from secretgpt.services.loopback_model import Reply

from .conftest import ScriptedModel, running_app

pytestmark = pytest.mark.asyncio(loop_scope="package")

# Every CSP violation and console error of the page, from its very first script.
WATCH = """
window.__violations = [];
document.addEventListener('securitypolicyviolation',
    e => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));
"""


class Watched:
    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))

    async def violations(self) -> list[str]:
        return await self.page.evaluate("window.__violations")


async def watched_page(browser: Any, **kwargs: Any) -> tuple[BrowserContext, Watched]:
    context = await browser.new_context(**kwargs)
    await context.add_init_script(WATCH)
    return context, Watched(await context.new_page())


async def until(condition: Any, timeout: float = 10.0) -> None:
    """Poll an async condition (Playwright for Python has no expect.poll)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.05)


async def ask(page: Page, text: str) -> None:
    await page.get_by_label("Message").fill(text)
    await page.keyboard.press("Enter")


@pytest_asyncio.fixture(loop_scope="package")
async def leak_server() -> AsyncIterator[tuple[int, list[bytes]]]:
    """A loopback server that records every request that reaches it."""
    hits: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        hits.append(await reader.readline())
        writer.write(b"HTTP/1.1 204 No Content\r\nAccess-Control-Allow-Origin: *\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1], hits
    server.close()


async def test_the_page_works_under_its_csp_and_the_csp_blocks_what_it_should(
        browser: Any, app_url: str, model: ScriptedModel, leak_server: tuple[int, list[bytes]]) -> None:
    model.replies.append(Reply.of("A table:\n\n| a | b |\n| --- | --- |\n| 1 | 2 |\n\n```python\nprint('hi')\n```\n",
                                  "Reasoning first.", tokens_per_second=200))
    context, watched = await watched_page(browser, viewport={"width": 1100, "height": 900})
    page = watched.page
    try:
        await page.goto(app_url)
        await ask(page, "Show me a table")
        await expect(page.locator(".sg-status").last).to_have_text("Completed", timeout=15_000)
        await page.get_by_role("button", name="Settings", exact=True).click()  # drawers, switches, selects
        await expect(page.get_by_text("Streaming").first).to_be_visible()
        assert await page.get_by_role("button", name="Sign out").count() == 0, "no sign-in, no sign-out"
        await page.reload()
        await expect(page.locator(".sg-status").last).to_have_text("Completed", timeout=15_000)
        assert await watched.violations() == []
        assert watched.errors == []

        # The CSP is enforced, not just sent: an injected inline script does not run, and neither
        # an image nor a fetch reaches another origin.
        port, hits = leak_server
        await page.evaluate("""port => {
            const s = document.createElement('script');
            s.textContent = 'window.__ran = true';
            document.head.append(s);
            const img = document.createElement('img');
            img.src = `http://127.0.0.1:${port}/leak?q=secret`;
            document.body.append(img);
            fetch(`http://127.0.0.1:${port}/fetch`).catch(() => {});
        }""", leak_server[0])
        expected = ("script-src", "img-src", "connect-src")

        async def all_blocked() -> bool:
            seen = await watched.violations()
            return all(any(v.startswith(directive) for v in seen) for directive in expected)

        await until(all_blocked)
        assert any(v.startswith("img-src") and f":{port}/leak" in v for v in await watched.violations())
        assert await page.evaluate("window.__ran") is None
        assert hits == []
    finally:
        await context.close()


async def test_the_page_cannot_be_framed(browser: Any, app_url: str) -> None:
    context, watched = await watched_page(browser)
    try:
        await watched.page.set_content(f'<iframe src="{app_url}/" width="600" height="400"></iframe>')
        async def refused() -> bool:
            return any("frame-ancestors" in e for e in watched.errors)

        await until(refused)
        frame = watched.page.frames[-1]
        assert await frame.locator("#app").count() == 0
    finally:
        await context.close()


# --- sign-in when exposed -------------------------------------------------------------------------------

TOKEN = "browser-test-access-token"


@pytest_asyncio.fixture(loop_scope="package", scope="module")
async def exposed_url(model: ScriptedModel, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """The app listening on every interface (so sign-in is required by default)."""
    async with running_app(model, tmp_path_factory, SECRETGPT_HOST="0.0.0.0", SECRETGPT_API_TOKEN=TOKEN,
                           TYPING_SPEED="fast") as url:
        yield url


async def test_an_exposed_page_asks_for_the_token_and_remembers_it(browser: Any, exposed_url: str,
                                                                   model: ScriptedModel) -> None:
    context, watched = await watched_page(browser)
    page = watched.page
    try:
        await page.goto(exposed_url)
        await expect(page).to_have_url(f"{exposed_url}/login")
        assert await page.get_by_label("Message").count() == 0
        token = page.get_by_label("Access token")
        assert await token.get_attribute("type") == "password"
        await token.fill("not-the-token")
        await token.press("Enter")
        await expect(page.get_by_text("That is not the access token")).to_be_visible()
        await expect(page).to_have_url(re.compile(re.escape(f"{exposed_url}/login") + r"(\?.*)?$"))

        await token.fill(TOKEN)
        await page.get_by_role("button", name="Sign in").click()
        await expect(page).to_have_url(f"{exposed_url}/")
        model.replies.append(Reply.of("Signed in and answering.", tokens_per_second=200))
        await ask(page, "Am I in?")
        await expect(page.locator(".sg-status").last).to_have_text("Completed", timeout=15_000)
        await page.reload()  # remembered for this browser
        await expect(page.get_by_label("Message")).to_be_visible()
        await page.goto(f"{exposed_url}/login")  # signed in: the sign-in page sends you on
        await expect(page).to_have_url(f"{exposed_url}/")
        assert await watched.violations() == []
        assert watched.errors == []
    finally:
        await context.close()

    # Another browser has to sign in for itself. Past five wrong tokens from its address each
    # further one is answered more slowly, but the right token still signs in at once.
    other, watched = await watched_page(browser)
    try:
        await watched.page.goto(exposed_url)
        await expect(watched.page).to_have_url(f"{exposed_url}/login")
        token = watched.page.get_by_label("Access token")
        for _ in range(6):
            await token.fill("guess")
            await token.press("Enter")
            await expect(watched.page.get_by_text("That is not the access token")).to_be_visible()
            await expect(token).to_have_value("")
        await expect(watched.page.get_by_text("answered more slowly")).to_be_visible()
        await token.fill(TOKEN)
        await token.press("Enter")
        await expect(watched.page).to_have_url(f"{exposed_url}/")
        await expect(watched.page.get_by_label("Message")).to_be_visible()
    finally:
        await other.close()


async def sign_in(page: Page, url: str) -> None:
    await page.goto(url)
    await expect(page).to_have_url(f"{url}/login")
    await page.get_by_label("Access token").fill(TOKEN)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_label("Message")).to_be_visible()


async def session_cookie(context: BrowserContext) -> str:
    return next(c["value"] for c in await context.cookies() if c["name"] == "session")


async def test_a_cookie_planted_before_sign_in_is_not_signed_in_after_it(browser: Any, exposed_url: str) -> None:
    async with httpx.AsyncClient(base_url=exposed_url) as attacker:
        assert (await attacker.get("/login")).status_code == 200
        planted = attacker.cookies["session"]
        context, watched = await watched_page(browser)
        try:
            await context.add_cookies([{"name": "session", "value": planted, "url": exposed_url}])
            await sign_in(watched.page, exposed_url)
            response = await attacker.get("/")
            assert response.status_code == 303 and response.headers["location"] == "/login", \
                "the planted cookie signed in with the victim"
            assert await session_cookie(context) != planted, "the victim has a session of its own"
        finally:
            await context.close()


async def test_signing_out_ends_the_session_and_every_page_of_it(browser: Any, exposed_url: str) -> None:
    context, watched = await watched_page(browser, viewport={"width": 1100, "height": 900})
    page = watched.page
    try:
        await sign_in(page, exposed_url)
        cookie = await session_cookie(context)
        tab = await context.new_page()  # another tab of the same browser
        await tab.goto(exposed_url)
        await expect(tab.get_by_label("Message")).to_be_visible()
        tab_client = await tab.evaluate("window.clientId")
        await page.get_by_role("button", name="Settings", exact=True).click()
        await page.get_by_role("button", name="Sign out").click()
        await page.get_by_role("dialog").get_by_role("button", name="Sign out").click()
        await expect(page).to_have_url(f"{exposed_url}/login")
        await expect(tab).to_have_url(f"{exposed_url}/login")
        await expect(page.get_by_label("Access token")).to_be_visible()
        assert await watched.violations() == []
        assert watched.errors == []
    finally:
        await context.close()
    # The session is over on the server: a copy of its cookie signs in no more, nor drives its pages.
    async with httpx.AsyncClient(base_url=exposed_url, cookies={"session": cookie}) as copy:
        response = await copy.get("/")
        assert response.status_code == 303 and response.headers["location"] == "/login"
        poll = await copy.get(f"/_nicegui_ws/socket.io/?client_id={tab_client}&EIO=4&transport=polling")
        assert poll.status_code == 403
