"""One browser, two instances of one deployment (PostgreSQL, Redis): an answer read by A is shown
by B when the page is reloaded there (as a load balancer may send it), keeps streaming, and B's
Stop closes A's model connection; the browser's settings came along (NiceGUI's storage on Redis)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Page, expect

from secretgpt.services.loopback_model import Reply
from tests.support.scripted_model import ScriptedModel
from tests.support.servers import RedisServer
from tests.support.team import team

from .conftest import API_KEY, openai_host

pytestmark = pytest.mark.asyncio(loop_scope="package")
WORDS = " ".join(f"word{i}" for i in range(600))


@pytest_asyncio.fixture(loop_scope="package")
async def own_model() -> AsyncIterator[ScriptedModel]:
    scripted = await openai_host().start()
    yield scripted
    await scripted.stop()


async def test_a_reload_on_the_other_instance_resumes_the_answer_and_stops_it(
        browser, own_model: ScriptedModel, redis: RedisServer, postgres_url: str, tmp_path: Path) -> None:
    own_model.replies.append(Reply.of(WORDS, tokens_per_second=25))
    async with team(tmp_path, model_url=own_model.url, model="browser-model", model_api_key=API_KEY,
                    redis_url=redis.url, database_url=postgres_url, TYPING_SPEED="instant") as (a, b):
        context = await browser.new_context(viewport={"width": 1100, "height": 900})
        page: Page = await context.new_page()
        await page.goto(a.url)
        await page.get_by_label("Message").fill("Count for a long time")
        await page.keyboard.press("Enter")
        answer = page.locator(".sg-message .sg-answer").last
        await expect(answer).to_contain_text("word10", timeout=20_000)

        await page.goto(b.url)  # the same browser (cookie), the other instance
        answer = page.locator(".sg-message .sg-answer").last
        await expect(page.get_by_text("Count for a long time").first).to_be_visible(timeout=20_000)
        await expect(answer).to_contain_text("word60", timeout=20_000)  # still streaming, from A
        connection = own_model.server.connections[-1]
        await page.get_by_role("button", name="Stop").click()
        await asyncio.wait_for(connection.closed.wait(), 5)
        assert not connection.finished
        await expect(page.locator(".sg-message .sg-status").last).to_have_text("Stopped", timeout=10_000)
        await context.close()
