"""The app: the HTTP API and the chat page, mounted on NiceGUI's FastAPI `app`."""

from __future__ import annotations

import logging

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from nicegui import app, ui

from ...config import Settings
from ...hub.runtime import Runtime
from .api import create_api, token_guard
from .conversations_api import create_conversations_api

log = logging.getLogger(__name__)


def build(settings: Settings) -> Runtime:
    """Wire the runtime into NiceGUI's app. Call once per process, before `ui.run`."""
    runtime = Runtime(settings)
    app.include_router(create_api(runtime.router, runtime.api_token, settings.sse_keepalive_interval))
    app.include_router(create_conversations_api(runtime.router, token_guard(runtime.api_token)))
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.on_startup(runtime.start)
    app.on_shutdown(runtime.stop)
    app.state.runtime = runtime

    from .page import register_page

    register_page(runtime)
    return runtime


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        problems.append(f"{where}: {err.get('msg')}")
    message = "Invalid request: " + "; ".join(problems)
    return JSONResponse({"detail": {"message": message, "kind": "bad_request"}}, status_code=422)


def run(settings: Settings) -> None:
    runtime = build(settings)
    url = f"http://{settings.host}:{settings.port}"
    mode = "offline demo model (no SECRET_AI_API_KEY)" if settings.demo_mode else "Secret AI"
    print(f"SecretGPT is running on {url}  [{mode}]", flush=True)
    print(f"API token: {runtime.api_token}", flush=True)
    ui.run(
        host=settings.host,
        port=settings.port,
        title="SecretGPT",
        favicon="🔒",
        storage_secret=settings.resolved_storage_secret(),
        reload=False,
        show=False,
        show_welcome_message=False,
        # uvicorn runs the shutdown handlers (which interrupt and save streaming answers) only once
        # every response has ended: without a limit, one open SSE stream holds a SIGTERM for as
        # long as its answer takes (minutes if paused).
        timeout_graceful_shutdown=5,
    )
