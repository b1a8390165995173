"""The container recipe (Dockerfile, compose.yaml, Caddyfile), checked where no Docker engine runs:
every setting compose gives the app is one the app reads, the image installs what the README
installs, and its health check, run here against a served /healthz, passes — and fails when the
app does not answer."""

from __future__ import annotations

import asyncio
import re
import shlex
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi import FastAPI

from secretgpt.hub.chat_hub import ChatHub
from secretgpt.interfaces.http_api import mount_operations
from secretgpt.metrics import HubMetrics
from tests.conftest import API_TOKEN, serve
from tests.support.app_process import SETTINGS_ENV_KEYS, free_port

ROOT = Path(__file__).resolve().parents[1]
# Read by the server under the app (uvicorn), not by Settings.
SERVER_ENV_KEYS = frozenset({"FORWARDED_ALLOW_IPS"})
APPS = ("app1", "app2")


def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))


def dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments), continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text(encoding="utf-8"))
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def instructions(name: str) -> list[str]:
    return [args for instruction, args in dockerfile() if instruction == name]


def env_of(args: str) -> dict[str, str]:
    return dict(pair.split("=", 1) for pair in shlex.split(args))


def test_every_setting_compose_gives_the_app_is_one_it_reads() -> None:
    services = compose()["services"]
    assert set(APPS) <= set(services)
    for app in APPS:
        environment = services[app]["environment"]
        assert environment, app
        unknown = set(environment) - SETTINGS_ENV_KEYS - SERVER_ENV_KEYS
        assert unknown == set(), f"{app}: not a setting: {sorted(unknown)}"
    image_env = {k: v for args in instructions("ENV") for k, v in env_of(args).items()}
    assert {k for k in image_env if k.startswith("SECRETGPT_")} <= SETTINGS_ENV_KEYS
    # The check is not vacuous: a misspelt key is caught.
    assert "SECRETGPT_LOGFORMAT" not in SETTINGS_ENV_KEYS and "SECRETGPT_LOG_FORMAT" in SETTINGS_ENV_KEYS


def test_compose_is_two_instances_on_postgresql_and_redis_behind_caddy() -> None:
    services = compose()["services"]
    one, two = (services[app] for app in APPS)
    for app in (one, two):
        assert app["build"] == "." and "ports" not in app  # reached through Caddy only
        env = app["environment"]
        assert env["SECRETGPT_DATABASE_URL"].startswith("postgresql+asyncpg://") and "@db:5432/" in env[
            "SECRETGPT_DATABASE_URL"]
        assert env["SECRETGPT_REDIS_URL"] == "redis://redis:6379/0"
        assert env["SECRETGPT_DATA_DIR"] == "/data"
    assert one["volumes"] != two["volumes"]  # each instance its own data dir (its own proof key)
    assert services["db"]["image"].startswith("postgres:") and services["redis"]["image"].startswith("redis:")
    caddy = services["caddy"]
    assert caddy["image"].startswith("caddy:") and "./Caddyfile:/etc/caddy/Caddyfile:ro" in caddy["volumes"]
    assert {"80:80", "443:443"} <= set(caddy["ports"])
    caddyfile = (ROOT / "Caddyfile").read_text(encoding="utf-8")
    upstreams = re.search(r"reverse_proxy\s+([^{]+)\{", caddyfile)
    assert upstreams is not None and upstreams.group(1).split() == [f"{app}:8080" for app in APPS]
    assert re.search(r"^\s*lb_policy cookie\s*$", caddyfile, re.MULTILINE)  # sticky sessions
    assert re.search(r"^\s*health_uri /readyz\s*$", caddyfile, re.MULTILINE)


def readme_installs() -> list[str]:
    """The `pip install …` steps of the README's command that runs the app."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    command = next(line for line in readme.splitlines() if line.startswith("python3 -m venv") and "main.py" in line)
    return [found.group(1) for step in command.split("&&") if (found := re.search(r"\bpip (install .+)", step.strip()))]


def test_the_image_installs_what_the_readme_installs() -> None:
    installs = readme_installs()
    assert installs == ["install -r requirements.lock", "install --no-deps ."]
    runs = instructions("RUN")
    for install in installs:
        assert any(f"/app/.venv/bin/pip {install}" in run for run in runs), install
    copied = " ".join(instructions("COPY"))
    for needed in ("requirements.lock", "pyproject.toml", "main.py", "secretgpt"):
        assert needed in copied, needed
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert not {"secretgpt", "main.py", "pyproject.toml", "requirements.lock", "README.md"} & set(ignored)


def test_the_image_is_slim_python_311_non_root_with_its_data_dir_a_volume() -> None:
    (base,) = instructions("FROM")
    assert re.fullmatch(r"python:3\.11-slim(-\w+)?", base)
    assert 'requires-python = ">=3.11,<3.12"' in (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    (user,) = instructions("USER")
    assert user not in ("root", "0")
    image_env = {k: v for args in instructions("ENV") for k, v in env_of(args).items()}
    assert instructions("VOLUME") == [f'["{image_env["SECRETGPT_DATA_DIR"]}"]']
    assert image_env["SECRETGPT_HOST"] == "0.0.0.0"  # reachable from Caddy, in its own network


def healthcheck_command() -> list[str]:
    (check,) = instructions("HEALTHCHECK")
    command = yaml.safe_load(check.split("CMD", 1)[1].strip())  # the exec form is a JSON array
    assert command[0] == "/app/.venv/bin/python" and "/healthz" in command[-1]
    return [sys.executable, *command[1:]]


async def run_healthcheck(port: int) -> int:
    process = await asyncio.create_subprocess_exec(*healthcheck_command(), env={"SECRETGPT_PORT": str(port)},
                                                   stdout=asyncio.subprocess.DEVNULL,
                                                   stderr=asyncio.subprocess.DEVNULL)
    return await process.wait()


@pytest.fixture
def protocol() -> str:
    return "openai"


async def test_the_health_check_passes_on_a_live_app_and_fails_on_none(hub: ChatHub) -> None:
    app = FastAPI()
    mount_operations(app, hub, api_token=API_TOKEN, metrics=HubMetrics().render)
    async with serve(app) as base_url:
        assert await run_healthcheck(int(base_url.rsplit(":", 1)[1])) == 0
    assert await run_healthcheck(free_port()) != 0
