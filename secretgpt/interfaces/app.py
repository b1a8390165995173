"""The app: NiceGUI's FastAPI `app` with the security middlewares, the HTTP API and the chat page.

The runtime (storage, the model service, the `ChatHub`) starts inside the app's lifespan, before
the server accepts a request; the API and the page are mounted on the hub it built.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from nicegui import app, core, ui
from nicegui.server import Server

from ..config import Settings
from .runtime import Runtime
from .api_first import ApiHolder, serve_api_first
from .http_api import mount_api, mount_operations
from .listening import port_problem, when_listening
from .logs import announce_in_log, uvicorn_options
from .request_heads import HeadTimeoutProtocol
from .security import HostPolicy, SecurityMiddleware, body_limits
from .sessions import install_sessions
from .web_ui.favicon import FAVICON_SVG
from .web_ui.login import register_login
from .web_ui.markdown_render import warm_up as markdown_warm_up
from .web_ui.page import register_page

log = logging.getLogger(__name__)

_API = ApiHolder()  # the API's own app, served before the page's middlewares (api_first.py)
# NiceGUI's own lifespan (its startup and shutdown handlers); ours runs inside it.
_NICEGUI_LIFESPAN = app.router.lifespan_context


def build(settings: Settings) -> Runtime:
    """Wire the runtime into NiceGUI's app. Call once per process, before `ui.run`."""
    runtime = Runtime(settings)
    app.state.runtime = runtime
    app.router.lifespan_context = _lifespan
    _secure(settings, runtime.api_token)
    return runtime


@asynccontextmanager
async def _lifespan(fastapi_app: FastAPI) -> AsyncIterator[None]:
    async with _NICEGUI_LIFESPAN(fastapi_app):
        runtime: Runtime = fastapi_app.state.runtime
        settings = runtime.settings
        hub = await runtime.start()  # raises, having said why, when storage cannot be opened
        api = FastAPI(title="SecretGPT API", docs_url=None, redoc_url=None, openapi_url="/api/v1/openapi.json")
        mount_api(api, hub, api_token=runtime.api_token, keepalive=settings.sse_keepalive_interval)
        # The API's own middleware is the page's first one: the host check, headers and body caps.
        _API.app = SecurityMiddleware(api, hosts=HostPolicy.from_settings(settings), body_limit=body_limits(settings))
        # The operator's endpoints stay on the root app (not under /api/): probes and scrapers.
        mount_operations(fastapi_app, hub, api_token=runtime.api_token, metrics=runtime.metrics.render)
        register_page(hub, settings)
        # Before the first answer rather than during it (markdown_render.warm_up), and before the
        # freeze below so that what it builds is frozen too.
        await asyncio.to_thread(markdown_warm_up)
        # What exists by now (modules, routes, schemas: some 260 000 objects) lives as long as the
        # process. Out of the cyclic collector's sight, a full collection — which any big import
        # or answer triggers, in whatever thread allocates — walks only what came after, instead
        # of holding the GIL (and so every request) for 0.2 s each time.
        gc.freeze()
        announcer = asyncio.create_task(when_listening(_listening, lambda: _announce(settings, runtime.api_token)))
        try:
            yield
        finally:
            announcer.cancel()
            await runtime.stop()


def _listening() -> bool:
    """Whether uvicorn has bound its socket (NiceGUI keeps the one server it runs)."""
    server = getattr(Server, "instance", None)
    return bool(server is not None and server.started)


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
    serve_api_first(app, _API)


def _announce(settings: Settings, api_token: str) -> None:
    url = f"http://{settings.host}:{settings.port}"
    mode = "offline demo model (no SECRET_AI_API_KEY)" if settings.demo_mode else "Secret AI"
    if settings.log_format == "json":  # a log pipeline reads stdout: one object a line, no token
        announce_in_log(settings, mode)
        return
    print(f"SecretGPT is running on {url}  [{mode}]", flush=True)
    print(f"API token: {api_token}", flush=True)
    if not settings.on_loopback:
        print(f"WARNING: listening on {settings.host}, not only on this machine. "
              f"Sign-in {'is required' if settings.login_required else 'is OFF (SECRETGPT_REQUIRE_LOGIN=false)'}; "
              "the token and your chats cross the network unencrypted unless a TLS reverse proxy is in front "
              "(README: Running it for others).", flush=True)
    elif settings.login_required:
        print("The page asks for the access token (SECRETGPT_ALLOWED_HOSTS or SECRETGPT_REQUIRE_LOGIN is set).",
              flush=True)


def run(settings: Settings) -> None:
    """Serve until stopped. Exits with 1 and one sentence, printing neither address nor token, when
    the port cannot be had (checked first; lost to another program after the check, too)."""
    problem = port_problem(settings.host, settings.port)
    if problem is not None:
        print(problem, file=sys.stderr, flush=True)
        sys.exit(1)
    build(settings)
    try:
        ui.run(
            host=settings.host,
            port=settings.port,
            title="SecretGPT",
            favicon=FAVICON_SVG,
            # No storage_secret: install_sessions() has set up the browser sessions (without the API).
            reload=False,
            show=False,
            show_welcome_message=False,
            # uvicorn runs the shutdown (which interrupts and saves streaming answers) only once every
            # response has ended: without a limit, one open response could hold a SIGTERM for long.
            timeout_graceful_shutdown=5,
            # uvicorn's own protocol waits for ever for a request's headers (slowloris).
            http=HeadTimeoutProtocol,
            **uvicorn_options(settings.log_format),
        )
    except SystemExit as exc:
        if _listening() or exc.code in (None, 0):
            raise
        # uvicorn could not bind after all (it has logged the errno): say what to change.
        print(port_problem(settings.host, settings.port)
              or f"SecretGPT could not listen on {settings.host} port {settings.port}; check SECRETGPT_HOST and "
                 "SECRETGPT_PORT (or --host, --port).", file=sys.stderr, flush=True)
        raise SystemExit(1) from None
