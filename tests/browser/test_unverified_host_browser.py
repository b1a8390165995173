"""The refusal and the consent in a real browser, under ATTESTATION_POLICY=require (the default):
a prompt for a plain-http host is not sent, the page says why with "Send anyway", the text stays
in the box; Send anyway sends it, and the answer's badge says unverified."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from playwright.async_api import Page, expect

from .conftest import ScriptedModel, openai_host, running_app

pytestmark = pytest.mark.asyncio(loop_scope="package")


@pytest_asyncio.fixture(loop_scope="package")
async def own_model() -> AsyncIterator[ScriptedModel]:
    scripted = await openai_host().start()  # its own: the test reads the server's request log
    yield scripted
    await scripted.stop()


async def test_a_prompt_for_an_unverified_host_waits_for_consent(browser, own_model: ScriptedModel,
                                                                 tmp_path_factory: pytest.TempPathFactory) -> None:
    async with running_app(own_model, tmp_path_factory, ATTESTATION_POLICY="require") as url:
        context = await browser.new_context(viewport={"width": 1100, "height": 900})
        page: Page = await context.new_page()
        await page.goto(url)
        box = page.get_by_label("Message")
        await box.fill("My confidential question")
        await page.keyboard.press("Enter")
        notice = page.locator(".sg-unverified-host")
        await expect(notice).to_be_visible(timeout=15_000)
        await expect(notice).to_contain_text("Not sent")
        await expect(notice).to_contain_text("plain http")
        await expect(box).to_have_value("My confidential question")
        assert own_model.server.bytes_received == 0

        await notice.get_by_role("button", name="Send anyway to this unverified host").click()
        answer = page.locator(".sg-message").last
        await expect(answer.locator(".sg-answer")).to_contain_text("A default answer.", timeout=15_000)
        await expect(notice).to_be_hidden()
        await expect(answer.locator(".sg-attestation-badge")).to_contain_text("Unverified", timeout=15_000)
        assert own_model.requests[-1]["messages"][-1]["content"] == "My confidential question"
        await context.close()
