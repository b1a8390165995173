"""Real-browser tests: `python main.py` in a subprocess, Debian chromium driven by Playwright."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from secretgpt.services.loopback_model import Reply
from tests.support.app_process import AppProcess
from tests.support.scripted_model import ScriptedModel

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
API_KEY = "browser-test-key"

if not Path(CHROMIUM).exists():
    if os.environ.get("CI"):
        raise RuntimeError("CI must install Debian chromium (apt-get install chromium) for the browser tests")
    pytest.skip("Debian chromium is not installed (apt-get install chromium)", allow_module_level=True)


def openai_host() -> ScriptedModel:
    """An OpenAI-only host, as Secret AI's are today (vLLM behind LiteLLM: `/api/*` answers 404);
    the app finds that out itself (SECRET_AI_PROTOCOL=auto)."""
    return ScriptedModel(Reply.of("A default answer.", "Default reasoning."), api_key=API_KEY,
                         models=["browser-model"], protocols={"openai"})


@pytest_asyncio.fixture(loop_scope="package", scope="package")
async def model() -> AsyncIterator[ScriptedModel]:
    scripted = await openai_host().start()
    yield scripted
    await scripted.stop()


@contextlib.asynccontextmanager
async def running_app(model: ScriptedModel, tmp_path_factory: pytest.TempPathFactory,
                      **env: str) -> AsyncIterator[str]:
    """`python main.py` on `model` with `env` added (its own port and data dir); yields its URL once
    it is ready."""
    root = tmp_path_factory.mktemp("app")
    app = AppProcess(root / "data", root / "work", model_url=model.url, model="browser-model",
                     model_api_key=API_KEY, env=env)
    try:
        await app.start()
        yield app.url
    finally:
        if app.running:
            with contextlib.suppress(AssertionError):  # killed instead after 10 s
                await app.terminate(10)
        app.cleanup()


@pytest_asyncio.fixture(loop_scope="package", scope="package")
async def app_url(model: ScriptedModel, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    # "Load image" may reach the tests' leak server on 127.0.0.1 (by default it reaches public
    # addresses only: tests/ui/test_hostile_output.py checks that).
    async with running_app(model, tmp_path_factory, TYPING_SPEED="fast",
                           SECRETGPT_IMAGE_FETCH_ALLOW_LOOPBACK="127.0.0.1") as url:
        yield url


@pytest_asyncio.fixture(loop_scope="package", scope="package")
async def browser() -> AsyncIterator[object]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        instance = await pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        yield instance
        await instance.close()


@pytest_asyncio.fixture(loop_scope="package")
async def page(browser, app_url: str) -> AsyncIterator[object]:
    context = await browser.new_context(viewport={"width": 1100, "height": 900})  # a fresh browser session
    page = await context.new_page()
    await page.goto(app_url)
    yield page
    await context.close()
