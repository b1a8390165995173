"""Two `python main.py` instances of one deployment, as a team runs them: the same PostgreSQL,
Redis, API token and session secret; their own data dir and port. Started at once."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from .app_process import AppProcess

TOKEN = "team-api-token"


@contextlib.asynccontextmanager
async def team(root: Path, *, model_url: str, model: str, model_api_key: str, redis_url: str, database_url: str,
               **env: str) -> AsyncIterator[tuple[AppProcess, AppProcess]]:
    shared = {"SECRETGPT_DATABASE_URL": database_url, "SECRETGPT_REDIS_URL": redis_url, "SECRETGPT_API_TOKEN": TOKEN,
              "SECRETGPT_STORAGE_SECRET": "team-session-secret",
              "NICEGUI_REDIS_KEY_PREFIX": f"{root.name}:nicegui:", **env}
    apps = [AppProcess(root / name / "data", root / name / "work", model_url=model_url, model=model,
                       model_api_key=model_api_key, env=shared) for name in ("a", "b")]
    try:
        await asyncio.gather(*(app.start() for app in apps))
        yield apps[0], apps[1]
    finally:
        for app in apps:
            if app.running:
                await app.terminate(15)
            app.cleanup()
