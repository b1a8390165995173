"""`python main.py` as a real subprocess, for tests that need whole processes (restart, kill -9).

The model server is the project's loopback server, in the test's own event loop; the app reaches
it over TCP like it would reach Secret AI. Nothing of the app runs in the test process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from secretgpt.config import Settings

ROOT = Path(__file__).resolve().parents[1]
MAIN = ROOT / "main.py"

# Every environment key Settings reads: a developer's shell must not change what the app sees.
SETTINGS_ENV_KEYS = frozenset(
    str(f.validation_alias.choices[0])  # type: ignore[union-attr]
    for f in Settings.model_fields.values()
    if f.validation_alias is not None
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def app_env(values: Mapping[str, str], base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for an app subprocess: ours without pytest's variables (NiceGUI would take
    the app for its own screen-test server) and without any SecretGPT setting, plus `values`."""
    base = os.environ if base is None else base
    env = {k: v for k, v in base.items() if "PYTEST" not in k and k not in SETTINGS_ENV_KEYS}
    env.update(values)
    return env


class AppProcess:
    """One `python main.py`. `start()` returns once the API answers and the model is discovered.

    It runs in its own working directory (NiceGUI keeps `.nicegui/` there, and a developer's
    `.env` in the repository must not leak in); the data dir is what tests share across restarts.
    """

    def __init__(self, data_dir: Path, workdir: Path, *, model_url: str, model: str, model_api_key: str,
                 port: int | None = None, env: Mapping[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.workdir = workdir
        self.port = port or free_port()
        self.model = model
        self.env = app_env({
            "SECRETGPT_HOST": "127.0.0.1",
            "SECRETGPT_PORT": str(self.port),
            "SECRETGPT_DATA_DIR": str(data_dir),
            "SECRET_AI_URL": model_url,
            "SECRET_AI_MODEL": model,
            "SECRET_AI_API_KEY": model_api_key,
            **(env or {}),
        })
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / f"app-{self.port}-{time.time_ns()}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_token(self) -> str:
        """The token as the app keeps it (`<data_dir>/api_token`), or the one it was given."""
        given = self.env.get("SECRETGPT_API_TOKEN")
        return given if given else (self.data_dir / "api_token").read_text(encoding="utf-8").strip()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def client(self, token: str | None = None, **kwargs: Any) -> httpx.AsyncClient:
        token = self.api_token if token is None else token
        return httpx.AsyncClient(base_url=self.url, headers={"Authorization": f"Bearer {token}"},
                                 timeout=httpx.Timeout(30.0), **kwargs)

    async def start(self, timeout: float = 60.0) -> AppProcess:
        assert not self.running, "already running"
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child keeps it open
        try:
            self.proc = subprocess.Popen([sys.executable, str(MAIN)], cwd=self.workdir, env=self.env,
                                         stdout=log, stderr=subprocess.STDOUT)
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=5.0) as probe:
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"the app exited with {self.proc.returncode} while starting:\n{self.log_tail()}")
                if await self._ready(probe):
                    return self
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the app did not become ready in {timeout:g} s:\n{self.log_tail()}")
                await asyncio.sleep(0.1)

    async def _ready(self, probe: httpx.AsyncClient) -> bool:
        # The token file is written before the server listens; discovery ends after it does.
        try:
            token = self.api_token
        except FileNotFoundError:
            return False
        try:
            response = await probe.get(self.url + "/api/v1/models", headers={"Authorization": f"Bearer {token}"})
        except httpx.HTTPError:
            return False
        return response.status_code == 200 and self.model in [m["name"] for m in response.json()["models"]]

    async def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM, as a service manager would stop it; returns the exit code."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return await self._wait(timeout)

    async def kill(self) -> int:
        """SIGKILL: no shutdown handler runs, nothing is flushed."""
        assert self.proc is not None
        self.proc.kill()
        return await self._wait(10.0)

    async def _wait(self, timeout: float) -> int:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None:
            if time.monotonic() > deadline:
                self.proc.kill()
                self.proc.wait(10)
                raise AssertionError(f"the app did not exit within {timeout:g} s:\n{self.log_tail()}")
            await asyncio.sleep(0.05)
        return self.proc.returncode

    def cleanup(self) -> None:
        """At teardown: make sure nothing outlives the test."""
        if self.running:
            assert self.proc is not None
            self.proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(10)

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


# --- Server-Sent Events as a client sees them --------------------------------------------------


@dataclass
class Frame:
    id: int | None
    data: dict[str, Any]
    at: float  # time.monotonic() when it arrived

    @property
    def type(self) -> str:
        return str(self.data.get("type"))


@dataclass
class EventStream:
    """Reads an SSE response in a background task and remembers how the response ended:
    `ended_cleanly` (the server closed the body properly) or `error` (the connection broke)."""

    response: httpx.Response
    frames: list[Frame] = field(default_factory=list)
    error: BaseException | None = None
    ended_cleanly: bool = False
    ended_at: float | None = None

    def __post_init__(self) -> None:
        self._arrived = asyncio.Event()
        self._done = asyncio.Event()
        self._task = asyncio.create_task(self._pump())

    async def _pump(self) -> None:
        event_id: int | None = None
        data: list[str] = []
        try:
            async for line in self.response.aiter_lines():
                if line == "":
                    if data:
                        self.frames.append(Frame(event_id, json.loads("\n".join(data)), time.monotonic()))
                        self._arrived.set()
                    event_id, data = None, []
                elif line.startswith("id: "):
                    event_id = int(line[4:])
                elif line.startswith("data: "):
                    data.append(line[6:])
            self.ended_cleanly = True
        except httpx.HTTPError as exc:  # includes the peer closing mid-body
            self.error = exc
        finally:
            self.ended_at = time.monotonic()
            self._done.set()
            self._arrived.set()

    def text(self, kind: str = "text", *, before: float | None = None) -> str:
        return "".join(f.data["content"] for f in self.frames
                       if f.type == kind and (before is None or f.at < before))

    def count(self, kind: str = "text") -> int:
        return sum(f.type == kind for f in self.frames)

    def first(self, kind: str) -> Frame | None:
        return next((f for f in self.frames if f.type == kind), None)

    async def wait_for(self, condition: Any, timeout: float, what: str) -> None:
        async with asyncio.timeout(timeout):
            while not condition():
                if self._done.is_set():
                    raise AssertionError(f"the event stream ended before {what} (error: {self.error!r})")
                self._arrived.clear()
                await self._arrived.wait()

    async def ended(self, timeout: float) -> None:
        await asyncio.wait_for(self._done.wait(), timeout)

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(BaseException):
            await self._task


@contextlib.asynccontextmanager
async def event_stream(client: httpx.AsyncClient, body: dict[str, Any]) -> AsyncIterator[EventStream]:
    async with client.stream("POST", "/api/v1/chat/stream", json=body) as response:
        assert response.status_code == 200, (response.status_code, await response.aread())
        reader = EventStream(response)
        try:
            yield reader
        finally:
            await reader.close()
