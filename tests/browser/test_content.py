"""In a real browser: Copy (answers and code blocks) says "Copied" and fills the clipboard, math is
drawn as MathML, a wrong import file is named, and the demo's Continue continues."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Page, expect

from secretgpt.services.loopback_model import Reply
from tests.support.app_process import AppProcess

from .conftest import API_KEY, ScriptedModel, openai_host

pytestmark = pytest.mark.asyncio(loop_scope="package")

CODE = "def greet(name):\n    return f\"<hello> {name}\"\n"
ANSWER = f"Here is code:\n\n```python\n{CODE}```\n\nAnd math: $e^{{i\\pi}} + 1 = 0$, then\n\n$$\\frac{{a}}{{b}}$$\n"


@contextlib.asynccontextmanager
async def app_process(root: Path, model_url: str, demo: bool = False, **env: str) -> AsyncIterator[AppProcess]:
    app = AppProcess(root / "data", root / "work", model_url=model_url,
                     model="secretgpt-demo" if demo else "browser-model",
                     model_api_key=API_KEY, env={"TYPING_SPEED": "fast", **env})
    if demo:  # no key: the embedded offline demo model
        for key in ("SECRET_AI_API_KEY", "SECRET_AI_URL", "SECRET_AI_MODEL"):
            app.env.pop(key)
    try:
        yield await app.start()
    finally:
        if app.running:
            with contextlib.suppress(AssertionError):
                await app.terminate(10)
        app.cleanup()


@pytest_asyncio.fixture(loop_scope="package", scope="module")
async def own_model() -> AsyncIterator[ScriptedModel]:
    """A model server of this module's own: other modules check the shared one's request log."""
    scripted = await openai_host().start()
    yield scripted
    await scripted.stop()


@pytest_asyncio.fixture(loop_scope="package", scope="module")
async def content_app(own_model: ScriptedModel,
                      tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[AppProcess]:
    async with app_process(tmp_path_factory.mktemp("content"), own_model.url) as app:
        yield app


@pytest_asyncio.fixture(loop_scope="package")
async def clipboard_page(browser, content_app: AppProcess) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 1100, "height": 900})
    await context.grant_permissions(["clipboard-read", "clipboard-write"], origin=content_app.url)
    page = await context.new_page()
    await page.goto(content_app.url)
    yield page
    await context.close()


def server_errors(app: AppProcess) -> list[str]:
    log = app.log_path.read_text(encoding="utf-8", errors="replace")
    return [line for line in log.splitlines() if "Traceback" in line or "Error" in line or " ERROR " in line]


async def clipboard_becomes(page: Page, expected: str, timeout: float = 5.0) -> None:
    """The clipboard is written by the page after the server's answer: wait for it."""
    text = None
    for _ in range(int(timeout / 0.1)):
        text = await page.evaluate("navigator.clipboard.readText()")
        if text == expected:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"the clipboard holds {text!r}, not {expected!r}")


async def test_copy_of_a_code_block_and_of_an_answer_say_copied(clipboard_page: Page, own_model: ScriptedModel,
                                                                content_app: AppProcess) -> None:
    page = clipboard_page
    own_model.replies.append(Reply.of(ANSWER, tokens_per_second=200))
    await page.get_by_label("Message").fill("Show code and math")
    await page.keyboard.press("Enter")
    message = page.locator(".sg-message").last
    await expect(message.locator(".sg-status")).to_have_text("Completed", timeout=15_000)
    code = message.locator(".sg-code")
    await expect(code.locator(".sg-code-lang")).to_have_text("python")

    await page.evaluate("navigator.clipboard.writeText('before')")
    await code.get_by_role("button", name="Copy code").click()
    await expect(page.get_by_text("Copied")).to_be_visible()
    await clipboard_becomes(page, CODE)

    await page.evaluate("navigator.clipboard.writeText('before')")
    await expect(message.get_by_role("button", name="Copy", exact=True)).to_be_visible()  # once stored
    await message.get_by_role("button", name="Copy", exact=True).click()
    await clipboard_becomes(page, ANSWER)
    assert server_errors(content_app) == []

    # Math is drawn by the browser as MathML (DOMPurify keeps it): inline and display.
    formulas = message.locator(".sg-answer math")
    await expect(formulas).to_have_count(2)
    assert await formulas.nth(1).get_attribute("display") == "block"
    assert await message.locator(".sg-answer mfrac").count() == 1


async def test_a_wrong_import_file_is_named_with_what_is_expected(clipboard_page: Page, tmp_path: Path) -> None:
    page = clipboard_page
    await page.get_by_role("button", name="Import").click()
    dialog = page.locator(".q-dialog")
    await expect(dialog).to_contain_text("Choose a JSON file exported from SecretGPT")
    wrong = tmp_path / "holiday.json"
    wrong.write_text('{"photos": []}', encoding="utf-8")
    await dialog.locator("input[type=file]").set_input_files(wrong)
    await expect(dialog).to_contain_text("“holiday.json” cannot be imported. This is not a SecretGPT export: "
                                         "it has no \"format\" field.")
    await expect(dialog.get_by_role("button", name="Import")).to_be_hidden()
    notes = tmp_path / "notes.md"
    notes.write_text("# My notes\n\n_Exported from SecretGPT 0.1.0 · started …_\n\n## User\n\nhi\n", encoding="utf-8")
    await dialog.locator("input[type=file]").set_input_files(notes)
    await expect(dialog).to_contain_text("This is a Markdown export: it is for reading and cannot be imported back")


async def test_the_demo_continue_continues_and_its_code_calls_this_app(browser, own_model: ScriptedModel,
                                                                       tmp_path_factory: pytest.TempPathFactory) -> None:
    async with app_process(tmp_path_factory.mktemp("demo"), own_model.url, demo=True,
                           DEMO_TOKENS_PER_SECOND="40") as app:
        context = await browser.new_context(viewport={"width": 1100, "height": 900})
        page = await context.new_page()
        await page.goto(app.url)
        await page.get_by_label("Message").fill("What can you do?")
        await page.keyboard.press("Enter")
        answer = page.locator(".sg-message").last
        await expect(answer.locator(".sg-answer")).to_contain_text("With a Secret AI key", timeout=20_000)
        await page.get_by_role("button", name="Stop").click()
        await expect(answer.locator(".sg-status")).to_have_text("Stopped", timeout=10_000)
        await answer.get_by_role("button", name="Continue").click()
        await expect(page.locator(".sg-message").last.locator(".sg-status")).to_have_text("Completed",
                                                                                          timeout=30_000)
        text = await page.locator(".sg-message").last.locator(".sg-answer").inner_text()
        # The script once, whole, in order: continued, not restarted and glued on.
        assert text.count("This is the offline demo model") == 1
        assert text.index("With a Secret AI key") < text.index("Catches up") < text.index("print(line)")
        assert f"{app.url}/api/v1/chat/stream" in text and "8080" not in text
        await context.close()
