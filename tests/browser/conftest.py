"""Real-browser tests: `python main.py` in a subprocess, Debian chromium driven by Playwright."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import sys
from collections import deque
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from secretgpt.services.ollama_loopback import OllamaLoopbackServer, Reply

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
API_KEY = "browser-test-key"

if not Path(CHROMIUM).exists():
    if os.environ.get("CI"):
        raise RuntimeError("CI must install Debian chromium (apt-get install chromium) for the browser tests")
    pytest.skip("Debian chromium is not installed (apt-get install chromium)", allow_module_level=True)


class ScriptedModel:
    """An OpenAI-only host, as Secret AI's are today (vLLM behind LiteLLM: `/api/*` answers 404);
    the app finds that out itself (SECRET_AI_PROTOCOL=auto)."""

    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.default = Reply.of("A default answer.", "Default reasoning.")
        self.server = OllamaLoopbackServer(
            lambda request: self.replies.popleft() if self.replies else self.default,
            api_key=API_KEY, models=["browser-model"], protocols={"openai"})


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest_asyncio.fixture(loop_scope="package", scope="package")
async def model() -> AsyncIterator[ScriptedModel]:
    scripted = ScriptedModel()
    await scripted.server.start()
    yield scripted
    await scripted.server.stop()


@contextlib.asynccontextmanager
async def running_app(env: dict[str, str], tmp_path_factory: pytest.TempPathFactory,
                      ready_path: str = "/") -> AsyncIterator[str]:
    """`python main.py` with `env` added (its own port and data dir); yields its URL once
    `ready_path` answers 200."""
    port = _free_port()
    # Without pytest's variables: NiceGUI would take the app for its own screen-test server.
    env = {**{k: v for k, v in os.environ.items() if "PYTEST" not in k}, "SECRETGPT_PORT": str(port),
           "SECRETGPT_DATA_DIR": str(tmp_path_factory.mktemp("data")), **env}
    log = open(tmp_path_factory.mktemp("log") / "app.log", "w")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "main.py"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(200):
                try:
                    if (await client.get(url + ready_path)).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if proc.poll() is not None:
                    raise RuntimeError(f"the app exited: see {log.name}")
                await asyncio.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest_asyncio.fixture(loop_scope="package", scope="package")
async def app_url(model: ScriptedModel, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    async with running_app({"SECRET_AI_URL": model.server.url, "SECRET_AI_MODEL": "browser-model",
                            "SECRET_AI_API_KEY": API_KEY, "TYPING_SPEED": "fast"}, tmp_path_factory) as url:
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
