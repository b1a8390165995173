"""The app: the HTTP API and the chat page, mounted on NiceGUI's FastAPI `app`."""

from __future__ import annotations

import logging
import os
import signal

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from nicegui import app, core, ui

from ...config import Settings
from ...hub.runtime import Runtime
from ...storage.failures import failure_reason
from .api import create_api, token_guard
from .conversations_api import create_conversations_api
from .login import register_login
from .security import HostPolicy, SecurityMiddleware, body_limits
from .sessions import install_sessions

log = logging.getLogger(__name__)


def build(settings: Settings) -> Runtime:
    """Wire the runtime into NiceGUI's app. Call once per process, before `ui.run`."""
    runtime = Runtime(settings)
    app.include_router(create_api(runtime.router, runtime.api_token, settings.sse_keepalive_interval))
    app.include_router(create_conversations_api(runtime.router, token_guard(runtime.api_token)))
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.on_startup(lambda: _start(runtime))
    app.on_shutdown(runtime.stop)
    app.state.runtime = runtime
    _secure(settings, runtime.api_token)

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


def _secure(settings: Settings, api_token: str) -> None:
    """Middlewares run outside-in in the reverse order of adding: the host check and headers
    first, then the browser session, then (when exposed) the sign-in check."""
    hosts = HostPolicy.from_settings(settings)
    # NiceGUI's socket.io answers any Origin by default; python-engineio also accepts a callable.
    core.sio.eio.cors_allowed_origins = lambda origin, _environ=None: hosts.allows_origin(origin)
    if settings.login_required:
        register_login(api_token)
    install_sessions(settings.resolved_storage_secret())
    app.add_middleware(SecurityMiddleware, hosts=hosts, body_limit=body_limits(settings))


async def _start(runtime: Runtime) -> None:
    try:
        await runtime.start()
    except Exception as exc:
        # main.py checked storage just before; if it fails anyway, do not serve without it.
        log.critical("SecretGPT cannot open its conversation storage (%s); stopping. Check SECRETGPT_DATA_DIR / "
                     "SECRETGPT_DATABASE_URL.", failure_reason(exc))
        os.kill(os.getpid(), signal.SIGTERM)


def run(settings: Settings) -> None:
    runtime = build(settings)
    url = f"http://{settings.host}:{settings.port}"
    mode = "offline demo model (no SECRET_AI_API_KEY)" if settings.demo_mode else "Secret AI"
    print(f"SecretGPT is running on {url}  [{mode}]", flush=True)
    print(f"API token: {runtime.api_token}", flush=True)
    if not settings.on_loopback:
        print(f"WARNING: listening on {settings.host}, not only on this machine. "
              f"Sign-in {'is required' if settings.login_required else 'is OFF (SECRETGPT_REQUIRE_LOGIN=false)'}; "
              "the token and your chats cross the network unencrypted unless a TLS reverse proxy is in front "
              "(README: Running it for others).", flush=True)
    elif settings.login_required:
        print("The page asks for the access token (SECRETGPT_ALLOWED_HOSTS or SECRETGPT_REQUIRE_LOGIN is set).",
              flush=True)
    ui.run(
        host=settings.host,
        port=settings.port,
        title="SecretGPT",
        favicon="🔒",
        # No storage_secret: install_sessions() has set up the browser sessions (without the API).
        reload=False,
        show=False,
        show_welcome_message=False,
        # uvicorn runs the shutdown handlers (which interrupt and save streaming answers) only once
        # every response has ended: without a limit, one open SSE stream holds a SIGTERM for as
        # long as its answer takes (minutes if paused).
        timeout_graceful_shutdown=5,
    )
