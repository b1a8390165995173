"""Page tests: the real app (main.py) against the loopback model server.

NiceGUI's app is one per process: a page test whose app never shuts down would leave it started,
and every later page test would error ("NiceGUI has already been started"). So each page test has
hard limits of its own, below pytest-timeout's: its body, then its app's shutdown. Past either,
the test fails alone, naming what was still running, and NiceGUI is reset for the next one.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from nicegui import core
from nicegui.testing import User
from nicegui.testing.general_fixtures import get_path_to_main_file
from nicegui.testing.user_simulation import user_simulation

from secretgpt.services.loopback_model import Reply
from tests.support.scripted_model import ScriptedModel

API_KEY = "ui-test-key"
BODY_LIMIT = 90.0  # seconds; the slowest page test takes a few
TEARDOWN_LIMIT = 30.0  # the app's shutdown; it waits at most SHUTDOWN_WAIT (20 s) for answers
ITEM_LIMIT = 180  # pytest-timeout's, for the whole page test: above both, so ours fire first


def running_tasks() -> str:
    """The app's tasks still running (NiceGUI's own housekeeping timers and loops left out)."""
    names = {t.get_name() for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()}
    ours = [n for n in names if not n.startswith(("<", "outbox loop", "refresh bindings"))]
    return ", ".join(sorted(ours)) or "none of the app's own"


def bounded(test: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    @functools.wraps(test)
    async def run(*args: Any, **kwargs: Any) -> Any:
        try:
            async with asyncio.timeout(BODY_LIMIT):
                return await test(*args, **kwargs)
        except TimeoutError:
            pytest.fail(f"the page test took over {BODY_LIMIT:g} s; still running: {running_tasks()}")

    return run


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if isinstance(item, pytest.Function) and {"user", "create_user"} & set(item.fixturenames) \
                and inspect.iscoroutinefunction(item.obj):
            item.obj = bounded(item.obj)
            item.add_marker(pytest.mark.timeout(ITEM_LIMIT))


@pytest.fixture
async def user(caplog: pytest.LogCaptureFixture, request: pytest.FixtureRequest) -> AsyncIterator[User]:
    """NiceGUI's own `user` fixture (nicegui.testing.user_plugin), with the app's shutdown bounded."""
    simulation = user_simulation(main_file=get_path_to_main_file(request))
    simulated = await simulation.__aenter__()
    yield simulated
    try:
        async with asyncio.timeout(TEARDOWN_LIMIT):
            await simulation.__aexit__(None, None, None)
    except TimeoutError:
        still = running_tasks()
        # The simulation's own clean-up ran as the shutdown was cancelled (NiceGUI's globals are
        # reset), but NiceGUI skips its stop when its lifespan fails: mark the app stopped.
        await core.app.stop()
        pytest.fail(f"the app did not shut down within {TEARDOWN_LIMIT:g} s; still running: {still}")
    if [record for record in caplog.get_records("call") if record.levelname == "ERROR"]:
        pytest.fail("There were unexpected ERROR logs.", pytrace=False)


@pytest.fixture(autouse=True)
def plain_http_hosts_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The page tests' model hosts are plain-http loopback servers, which `require` (the default)
    refuses before anything is sent; the tests of that refusal set it back."""
    monkeypatch.setenv("ATTESTATION_POLICY", "warn")


@pytest.fixture(autouse=True)  # autouse: the env must be set before `user` runs main.py
async def model(tmp_path, monkeypatch) -> AsyncIterator[ScriptedModel]:
    scripted = await ScriptedModel(Reply.of("Hello **there**. A plain answer.", "Considering the greeting."),
                                   api_key=API_KEY, models=["test-model"]).start()
    monkeypatch.setenv("SECRETGPT_DATA_DIR", str(tmp_path / "data"))
    # "Load image" reaches public addresses only, as by default, unless a test allows its server.
    monkeypatch.delenv("SECRETGPT_IMAGE_FETCH_ALLOW_LOOPBACK", raising=False)
    # NiceGUI's simulated user sends `Host: test`; the app answers only to the hosts it knows (and
    # would then ask for the access token, which these page tests are not about).
    monkeypatch.setenv("SECRETGPT_ALLOWED_HOSTS", "test")
    monkeypatch.setenv("SECRETGPT_REQUIRE_LOGIN", "false")
    monkeypatch.setenv("SECRET_AI_URL", scripted.server.url)
    monkeypatch.setenv("SECRET_AI_MODEL", "test-model")
    monkeypatch.setenv("SECRET_AI_API_KEY", API_KEY)
    monkeypatch.setenv("TYPING_SPEED", "instant")
    monkeypatch.setenv("STREAMING_UPDATE_HZ", "20")
    yield scripted
    await scripted.stop()



@pytest.fixture(autouse=True)
def browser_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the simulated browser answers when the page asks: a desktop window in light mode.
    (Patched into every `User` rather than asking for `user` here, which would start the app
    before the tests' own fixtures have set its environment.)"""
    created = User.__init__

    def with_window(self: User, *args: object, **kwargs: object) -> None:
        created(self, *args, **kwargs)
        self.javascript_rules[re.compile(r"window\.innerWidth")] = lambda _: 1280
        self.javascript_rules[re.compile(r".*prefers-color-scheme")] = lambda _: False

    monkeypatch.setattr(User, "__init__", with_window)
