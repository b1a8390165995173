"""What every request and response passes through: our own Host only, bounded bodies, and the
security headers (CSP, frame-ancestors, Referrer-Policy, nosniff).

A pure ASGI middleware rather than Starlette's BaseHTTPMiddleware: it must see websocket
handshakes (socket.io), and must pass Server-Sent Events through without buffering them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..config import Settings

LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
WILDCARD_ADDRESSES = frozenset({"0.0.0.0", "::", ""})
IMPORT_PATH = "/api/v1/conversations/import"
FILES_PATH = "/api/v1/files"
# NiceGUI's ui.upload posts here (the page's "Import" button).
UPLOAD_PATH = re.compile(r"/_nicegui/client/[^/]+/upload/[^/]+")
MULTIPART_SLACK = 64 * 1024
# Asked by Prometheus and orchestrators by whatever name reaches the instance (its container's,
# its pod's address): not held to the host names. Rebinding gains nothing there: the probes say
# nothing, and /metrics wants the API token. No browser session is needed for them either.
OPERATOR_PATHS = frozenset({"/metrics", "/healthz", "/readyz"})

Headers = list[tuple[bytes, bytes]]


class HostPolicy:
    """The host names this app answers to: loopback, the address it listens on (unless a
    wildcard), and SECRETGPT_ALLOWED_HOSTS. Any port. Anything else may be DNS rebinding."""

    def __init__(self, extra: Iterable[str] = ()) -> None:
        self.names = LOOPBACK_NAMES | {name.strip("[]").lower() for name in extra if name}

    @classmethod
    def from_settings(cls, settings: Settings) -> HostPolicy:
        extra = [name for name in settings.allowed_hosts.split(",") if name]
        if settings.host not in WILDCARD_ADDRESSES:
            extra.append(settings.host)
        return cls(extra)

    def allows_host(self, header: str | None) -> bool:
        return header is not None and host_name(header) in self.names

    def allows_origin(self, origin: str | None) -> bool:
        """For socket.io: a browser page of one of our hosts, over http or https."""
        if not origin:
            return False
        try:
            parts = urlsplit(origin)
            return parts.scheme in ("http", "https") and (parts.hostname or "") in self.names
        except ValueError:
            return False


def host_name(header: str) -> str:
    """The name in a Host header, without the port: `[::1]:8080` -> `::1`, `a.b:80` -> `a.b`."""
    value = header.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        return value[1:end] if end > 0 else value
    name, sep, port = value.rpartition(":")
    return name if sep and port.isdigit() and ":" not in name else value


def content_security_policy(script_hashes: Sequence[str] = ()) -> str:
    """Only the app itself for scripts, images (plus data:), connections and frames.

    'unsafe-eval': NiceGUI evaluates JavaScript props, event handlers and `run_javascript` with
    eval/new Function, and Vue compiles component templates in the browser. Inline scripts are
    admitted by hash (NiceGUI's page template has four, one with per-page content), never by
    'unsafe-inline'. Styles need 'unsafe-inline': Tailwind's browser build and NiceGUI's addStyle
    insert <style> elements at run time, without a nonce.
    """
    scripts = " ".join(["'self'", "'unsafe-eval'", *(f"'sha256-{h}'" for h in script_hashes)])
    return "; ".join([
        "default-src 'self'",
        f"script-src {scripts}",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "frame-src 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
    ])


_INLINE_SCRIPT = re.compile(rb"<script\b([^>]*)>(.*?)</script\s*>", re.IGNORECASE | re.DOTALL)
_SRC_ATTRIBUTE = re.compile(rb"\bsrc\s*=", re.IGNORECASE)


def inline_script_hashes(html: bytes) -> list[str]:
    """sha256 (base64) of each inline <script>'s text, as the browser hashes it.

    NiceGUI escapes `<` in the page's element data, so script text never contains a tag."""
    hashes: list[str] = []
    for match in _INLINE_SCRIPT.finditer(html):
        if _SRC_ATTRIBUTE.search(match.group(1)):
            continue
        text = match.group(2).replace(b"\r\n", b"\n").replace(b"\r", b"\n")  # the HTML parser's newlines
        digest = base64.b64encode(hashlib.sha256(text).digest()).decode()
        if digest not in hashes:
            hashes.append(digest)
    return hashes


def security_headers(csp: str) -> Headers:
    return [(b"content-security-policy", csp.encode()), (b"referrer-policy", b"no-referrer"),
            (b"x-content-type-options", b"nosniff")]


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int, size: int | None = None) -> None:
        told = f"is {size:,} bytes" if size is not None else "is longer than that"
        super().__init__(413, detail={
            "message": f"The request body {told}; this route accepts at most {limit:,} bytes.",
            "kind": "too_large"})


def body_limits(settings: Settings) -> Callable[[str], int]:
    """Imports may be large (MAX_IMPORT_MB), attachments too (MAX_UPLOAD_MB, in a multipart body);
    the page's uploads are one of the two (an import or an attachment: the path does not say
    which, each upload element checks its own); anything else carries at most one message: 12
    bytes per character (JSON's \\uXXXX escapes of a surrogate pair) plus room for the other fields."""
    default = 12 * settings.max_message_chars + 64 * 1024
    imports = settings.max_import_bytes
    uploads = settings.max_upload_bytes + MULTIPART_SLACK

    def limit(path: str) -> int:
        if path == IMPORT_PATH:
            return imports
        if path == FILES_PATH:
            return uploads
        if UPLOAD_PATH.fullmatch(path):
            return max(imports + MULTIPART_SLACK, uploads)
        return default

    return limit


class SecurityMiddleware:
    def __init__(self, app: ASGIApp, *, hosts: HostPolicy, body_limit: Callable[[str], int]) -> None:
        self.app = app
        self.hosts = hosts
        self.body_limit = body_limit
        self.plain_csp = content_security_policy()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        host = _header(scope, b"host")
        if not self.hosts.allows_host(host) and scope["path"] not in OPERATOR_PATHS:
            await _reject_host(scope, send, host)
            return
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        limit = self.body_limit(scope["path"])
        declared = _header(scope, b"content-length")
        response = _SecuredResponse(send, self.plain_csp)
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await response.error(413, BodyTooLarge(limit, int(declared)).detail)
            return
        try:
            await self.app(scope, _bounded(receive, limit), response.send)
        except BodyTooLarge as exc:  # raised while reading, and not turned into a response inside
            if response.started:
                raise
            await response.error(413, exc.detail)
        except Exception:
            # Starlette's own 500 page is made outside every middleware, without our headers.
            if not response.started:
                await response.error(500, {"message": "Internal server error.", "kind": "internal"})
            raise  # still logged as before


def _bounded(receive: Receive, limit: int) -> Receive:
    """Count the body as it arrives; past `limit`, stop before it is buffered any further."""
    received = 0

    async def bounded() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLarge(limit)
        return message

    return bounded


class _SecuredResponse:
    """Adds the headers to the response; an HTML page is held until its end, to hash its scripts."""

    def __init__(self, send: Send, plain_csp: str) -> None:
        self._send = send
        self._plain_csp = plain_csp
        self._start: Message | None = None
        self._body: list[bytes] = []
        self.started = False

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
            headers = list(message.get("headers", []))
            if _is_html(headers):
                self._start = {**message, "headers": headers}
                return
            await self._send({**message, "headers": _with_security(headers, self._plain_csp)})
            return
        if message["type"] == "http.response.body" and self._start is not None:
            self._body.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = b"".join(self._body)
            csp = content_security_policy(inline_script_hashes(body))
            await self._send({**self._start, "headers": _with_security(self._start["headers"], csp)})
            self._start, self._body = None, []
            await self._send({"type": "http.response.body", "body": body})
            return
        await self._send(message)

    async def error(self, status: int, detail: Any) -> None:
        await self.send(_json_start(status))
        await self.send({"type": "http.response.body", "body": _json_body(detail)})


def _is_html(headers: Headers) -> bool:
    content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
    encoded = any(k.lower() == b"content-encoding" for k, _ in headers)
    return content_type.lower().startswith(b"text/html") and not encoded


def _with_security(headers: Headers, csp: str) -> Headers:
    ours = security_headers(csp)
    names = {name for name, _ in ours}
    return [(k, v) for k, v in headers if k.lower() not in names] + ours


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _json_body(detail: Any) -> bytes:
    return json.dumps({"detail": detail}, ensure_ascii=False).encode()


def _json_start(status: int, kind: str = "http.response.start") -> Message:
    return {"type": kind, "status": status, "headers": [(b"content-type", b"application/json")]}


async def _reject_host(scope: Scope, send: Send, host: str | None) -> None:
    shown = (host or "")[:100]
    detail = {"message": f"This server does not answer to the host {shown!r}. If that is how people reach it, "
                         "add the name to SECRETGPT_ALLOWED_HOSTS.", "kind": "bad_host"}
    body = _json_body(detail)
    if scope["type"] == "http":
        response = _SecuredResponse(send, content_security_policy())
        await response.error(400, detail)
    elif "websocket.http.response" in scope.get("extensions", {}):
        await send(_json_start(400, "websocket.http.response.start"))
        await send({"type": "websocket.http.response.body", "body": body})
    else:
        await send({"type": "websocket.close", "code": 1008})
