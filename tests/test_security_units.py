"""The pure pieces behind the network rules: host and origin checks, the CSP and its script
hashes, body caps, settings for exposure, the private data dir, and the import nesting limit
(sign-in's own: tests/test_sign_ins.py)."""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from pathlib import Path

import pytest

from secretgpt.config import ConfigError, load_settings
from secretgpt.config.private_dir import make_private
from secretgpt.interfaces.security import (
    IMPORT_PATH,
    HostPolicy,
    body_limits,
    content_security_policy,
    host_name,
    inline_script_hashes,
)
from secretgpt.records import InvalidImport
from secretgpt.storage.export import MAX_IMPORT_DEPTH, parse_import


# --- hosts and origins ---------------------------------------------------------------------------


@pytest.mark.parametrize(("header", "name"), [
    ("127.0.0.1:8080", "127.0.0.1"), ("LOCALHOST", "localhost"), ("[::1]:8080", "::1"), ("[::1]", "::1"),
    ("chat.example.com:443", "chat.example.com"), ("evil.example", "evil.example"), ("::1", "::1"),
])
def test_host_name_drops_the_port(header: str, name: str) -> None:
    assert host_name(header) == name


def test_loopback_hosts_are_allowed_on_any_port_and_nothing_else() -> None:
    policy = HostPolicy()
    for host in ("127.0.0.1", "127.0.0.1:8080", "localhost:1", "[::1]:8080"):
        assert policy.allows_host(host), host
    for host in ("evil.example", "evil.example:8080", "127.0.0.1.evil.example", "localhost.evil.example",
                 "10.0.0.5:8080", "", None):
        assert not policy.allows_host(host), host


def test_allowed_hosts_and_a_specific_listen_address_are_our_own(tmp_path: Path) -> None:
    settings = load_settings(_env_file=None, data_dir=tmp_path, host="192.168.1.20",
                             allowed_hosts=" Chat.Example.com , 10.0.0.7")
    policy = HostPolicy.from_settings(settings)
    for host in ("chat.example.com", "CHAT.example.com:443", "10.0.0.7:8080", "192.168.1.20:8080", "localhost"):
        assert policy.allows_host(host), host
    assert not policy.allows_host("other.example.com")
    # A wildcard address is not a name anyone reaches the app by.
    wildcard = HostPolicy.from_settings(load_settings(_env_file=None, data_dir=tmp_path, host="0.0.0.0"))
    assert not wildcard.allows_host("0.0.0.0:8080") and wildcard.allows_host("127.0.0.1:8080")


def test_origins_are_checked_by_scheme_and_host_name() -> None:
    policy = HostPolicy(["chat.example.com"])
    for origin in ("http://127.0.0.1:8080", "http://localhost:3000", "https://chat.example.com",
                   "http://[::1]:8080"):
        assert policy.allows_origin(origin), origin
    for origin in ("http://evil.example", "https://chat.example.com.evil.example", "null", "", None,
                   "file://", "ftp://127.0.0.1", "http://[bad"):
        assert not policy.allows_origin(origin), origin


@pytest.mark.parametrize("value", ["https://chat.example.com", "chat.example.com/path", "a b", "host:8080x"])
def test_allowed_hosts_take_names_only(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(_env_file=None, data_dir=tmp_path, allowed_hosts=value)
    assert "SECRETGPT_ALLOWED_HOSTS" in str(caught.value)


# --- sign-in defaults ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("host", "allowed", "require", "required"), [
    ("127.0.0.1", "", None, False), ("localhost", "", None, False), ("::1", "", None, False),
    ("127.0.0.2", "", None, False), ("0.0.0.0", "", None, True), ("::", "", None, True),
    ("192.168.1.20", "", None, True), ("myhost.lan", "", None, True),
    # Behind a reverse proxy on this machine: loopback, but reached by others through the allowed name.
    ("127.0.0.1", "chat.example.com", None, True),
    ("0.0.0.0", "", False, False), ("127.0.0.1", "chat.example.com", False, False), ("127.0.0.1", "", True, True),
])
def test_sign_in_is_required_when_others_can_reach_the_page_unless_overridden(
        tmp_path: Path, host: str, allowed: str, require: bool | None, required: bool) -> None:
    settings = load_settings(_env_file=None, data_dir=tmp_path, host=host, allowed_hosts=allowed,
                             require_login=require)
    assert settings.login_required is required


def test_require_login_reads_true_false_and_blank(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for value, expected in (("true", True), ("false", False), ("", None)):
        monkeypatch.setenv("SECRETGPT_REQUIRE_LOGIN", value)
        assert load_settings(_env_file=None, data_dir=tmp_path).require_login is expected


# --- CSP -------------------------------------------------------------------------------------------------


def test_csp_admits_only_the_app_for_images_connections_and_frames() -> None:
    policy = dict(part.split(" ", 1) for part in content_security_policy(["abc="]).split("; "))
    assert policy["img-src"] == "'self' data:"
    assert policy["connect-src"] == "'self'" and policy["frame-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'" and policy["object-src"] == "'none'"
    assert policy["script-src"] == "'self' 'unsafe-eval' 'sha256-abc='"
    assert "'unsafe-inline'" not in policy["script-src"]


def test_inline_scripts_are_hashed_as_the_browser_hashes_them() -> None:
    first, second = 'import * as Vue from "vue";\n', '\r\n  const x = "&lt;b&gt;";\r\n'
    html = (f'<html><script type="importmap">{first}</script>'
            f'<SCRIPT defer src="/_nicegui/x.js"></SCRIPT><script type="module">{second}</script >'
            f'<script src=/a.js>ignored()</script></html>').encode()

    def digest(text: str) -> str:
        return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()

    assert inline_script_hashes(html) == [digest(first), digest(second.replace("\r\n", "\n"))]


# --- body caps --------------------------------------------------------------------------------------------


def test_imports_get_the_larger_cap(tmp_path: Path) -> None:
    limit = body_limits(load_settings(_env_file=None, data_dir=tmp_path, max_message_chars=1000, max_import_mb=2))
    assert limit(IMPORT_PATH) == 2_000_000
    assert limit("/_nicegui/client/abc/upload/123") > 2_000_000
    assert limit("/api/v1/chat/stream") == limit("/") == 12 * 1000 + 64 * 1024


def test_attachments_are_capped_at_max_upload_mb_with_room_for_multipart(tmp_path: Path) -> None:
    settings = load_settings(_env_file=None, data_dir=tmp_path, max_import_mb=2, max_upload_mb=5)
    limit = body_limits(settings)
    assert limit("/api/v1/files") == 5_000_000 + 64 * 1024
    # The page's uploads (an import or an attachment: the path does not say) get the larger.
    assert limit("/_nicegui/client/abc/upload/123") == 5_000_000 + 64 * 1024
    assert body_limits(load_settings(_env_file=None, data_dir=tmp_path, max_import_mb=30, max_upload_mb=5))(
        "/_nicegui/client/abc/upload/123") == 30_000_000 + 64 * 1024


# --- private data dir -------------------------------------------------------------------------------------


def test_data_dir_is_created_private_and_old_files_are_tightened(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "nicegui").mkdir(parents=True, mode=0o755)
    data.chmod(0o755)
    (data / "nicegui").chmod(0o755)
    for name in ("secretgpt.db", "secretgpt.db-wal", "nicegui/storage-user-x.json"):
        (data / name).write_text("x")
        (data / name).chmod(0o644)
    make_private(data)
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert stat.S_IMODE((data / "nicegui").stat().st_mode) == 0o700
    for name in ("secretgpt.db", "secretgpt.db-wal", "nicegui/storage-user-x.json"):
        assert stat.S_IMODE((data / name).stat().st_mode) == 0o600, name
    fresh = tmp_path / "new" / "dir"
    old = os.umask(0o022)
    try:
        make_private(fresh)
    finally:
        os.umask(old)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o700


def test_tilde_in_the_data_dir_is_the_home_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("SECRETGPT_DATA_DIR", "~/.secretgpt")
    assert load_settings(_env_file=None).data_dir == tmp_path / ".secretgpt"


# --- import nesting -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [MAX_IMPORT_DEPTH + 1, 1_000, 100_000])
def test_deeply_nested_imports_are_refused_with_a_reason(depth: int) -> None:
    document = '{"format": "secretgpt.conversation", "version": 1, "x": ' + "[" * depth + "]" * depth + "}"
    with pytest.raises(InvalidImport, match="nested more than"):
        parse_import(document)
    with pytest.raises(InvalidImport, match="nested more than"):
        parse_import("[" * depth + "]" * depth)


def test_nesting_up_to_the_limit_is_judged_on_its_content() -> None:
    inner = "[" * (MAX_IMPORT_DEPTH - 1) + "]" * (MAX_IMPORT_DEPTH - 1)
    with pytest.raises(InvalidImport, match="has no \"format\" field"):
        parse_import('{"x": ' + inner + "}")


# --- the middleware on its own -------------------------------------------------------------------------------


async def test_the_middleware_secures_error_responses_too() -> None:
    import httpx
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.requests import Request
    from starlette.responses import HTMLResponse
    from starlette.routing import Route

    from secretgpt.interfaces.security import SecurityMiddleware

    async def page(_: Request) -> HTMLResponse:
        return HTMLResponse("<html><script>start()</script><script src='/x.js'></script></html>")

    async def broken(_: Request) -> HTMLResponse:
        raise RuntimeError("a bug")

    # As in the app: a user middleware, inside Starlette's own error handling.
    app = Starlette(routes=[Route("/", page), Route("/broken", broken)], middleware=[
        Middleware(SecurityMiddleware, hosts=HostPolicy(), body_limit=lambda path: 10)])
    transport = httpx.ASGITransport(app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8080") as client:
        response = await client.get("/")
        expected = base64.b64encode(hashlib.sha256(b"start()").digest()).decode()
        assert f"'sha256-{expected}'" in response.headers["content-security-policy"]
        assert response.text.startswith("<html><script>start()")  # the body is passed on untouched
        broken_response = await client.get("/broken")
        assert broken_response.status_code == 500 and broken_response.json()["detail"]["kind"] == "internal"
        assert "frame-ancestors 'none'" in broken_response.headers["content-security-policy"]
        too_big = await client.post("/", content=b"x" * 11)
        assert too_big.status_code == 413 and too_big.json()["detail"]["kind"] == "too_large"
        assert (await client.get("/", headers={"Host": "evil.example"})).status_code == 400
