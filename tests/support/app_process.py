"""`python main.py` as a real subprocess, for tests and benchmarks that need whole processes
(restart, kill -9, a real browser, CPU and memory figures).

The model server is the project's loopback server, in the caller's event loop or thread; the app
reaches it over TCP like it would reach Secret AI. Nothing of the app runs in the caller's process.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

from secretgpt.config import Settings

ROOT = Path(__file__).resolve().parents[2]
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
    `.env` in the repository must not leak in); the data dir is what callers share across restarts.
    `command` replaces `main.py` (a benchmark runs it under a profiler).
    """

    def __init__(self, data_dir: Path, workdir: Path, *, model_url: str, model: str, model_api_key: str,
                 port: int | None = None, env: Mapping[str, str] | None = None,
                 command: Sequence[str] | None = None) -> None:
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
            "PYTHONUNBUFFERED": "1",
            # Most tests' model hosts are plain-http loopback servers, which `require` (the
            # default) refuses; tests of the refusal set it back.
            "ATTESTATION_POLICY": "warn",
            **(env or {}),
        })
        self.command = list(command) if command is not None else [str(MAIN)]
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / f"app-{self.port}-{time.time_ns()}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

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
            self.proc = subprocess.Popen([sys.executable, *self.command], cwd=self.workdir, env=self.env,
                                         stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
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

    async def terminate(self, timeout: float = 30.0, sig: signal.Signals = signal.SIGTERM) -> int:
        """SIGTERM, as a service manager would stop it (or `sig`); returns the exit code."""
        assert self.proc is not None
        self.proc.send_signal(sig)
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
        """At teardown: make sure nothing outlives the caller."""
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
        return "\n".join(line if len(line) <= 400 else line[:400] + " …" for line in text.splitlines()[-lines:])
