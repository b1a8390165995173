"""The network and storage rules, as a client sees them: `python main.py` in a subprocess, driven
over raw HTTP, websocket handshakes and a real (tiny) tmpfs where the machine lets us mount one.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import re
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from secretgpt.services.loopback_model import Reply
from tests.support.app_process import MAIN, AppProcess, app_env
from tests.support.sse import event_stream
from tests.test_app_process import MODEL, MODEL_KEY, Launch, ScriptedModel, launch, model, words  # noqa: F401

DEMO_MODEL = "secretgpt-demo"


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppProcess]:
    """One app (its offline demo model) for the tests that only look at requests and responses."""
    root = tmp_path_factory.mktemp("shared")
    app = AppProcess(root / "data", root / "work", model_url="", model=DEMO_MODEL, model_api_key="", env={
        "SECRETGPT_ALLOWED_HOSTS": "chat.example.com", "SECRETGPT_REQUIRE_LOGIN": "false",
        "MAX_IMPORT_MB": "2", "DEMO_TOKENS_PER_SECOND": "5000"})
    asyncio.run(app.start())
    yield app
    app.cleanup()


def assert_secured(response: httpx.Response) -> None:
    csp = response.headers.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in csp and "img-src 'self' data:" in csp and "connect-src 'self'" in csp, (
        response.request.url, csp)
    assert response.headers.get("referrer-policy") == "no-referrer"
    assert response.headers.get("x-content-type-options") == "nosniff"


async def raw_exchange(port: int, head: str, body_chunks: int = 0, chunk: bytes = b"") -> tuple[str, int]:
    """Send a request head (and then chunked body pieces until the server answers); return the
    server's status line and how many body bytes went out before it did."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    sent = 0
    try:
        writer.write(head.replace("\n", "\r\n").encode() + b"\r\n")
        await writer.drain()
        for _ in range(body_chunks):
            with contextlib.suppress(TimeoutError):
                line = await asyncio.wait_for(reader.readline(), 0.001)
                return line.decode().strip(), sent
            try:
                writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                await writer.drain()
            except ConnectionError:
                break
            sent += len(chunk)
        line = await asyncio.wait_for(reader.readline(), 30)
        return line.decode().strip(), sent
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


def websocket_head(host: str, origin: str | None = None) -> str:
    lines = ["GET /_nicegui_ws/socket.io/?EIO=4&transport=websocket HTTP/1.1", f"Host: {host}",
             "Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
             "Sec-WebSocket-Version: 13"]
    return "\n".join(lines + ([f"Origin: {origin}"] if origin else [])) + "\n"


# --- only our own host and origin ----------------------------------------------------------------------


async def test_a_foreign_host_gets_400_on_the_page_the_api_and_the_socket(shared: AppProcess) -> None:
    app = shared
    polling = "/_nicegui_ws/socket.io/?EIO=4&transport=polling"
    async with app.client() as client:
        for host in ("evil.example", f"evil.example:{app.port}", f"127.0.0.1.evil.example:{app.port}"):
            for path in ("/", "/api/v1/models", polling, "/_nicegui/x/static/nicegui.js"):
                response = await client.get(path, headers={"Host": host})
                assert response.status_code == 400, (host, path, response.status_code)
                assert response.json()["detail"]["kind"] == "bad_host"
                assert "SECRETGPT_ALLOWED_HOSTS" in response.json()["detail"]["message"]
                assert_secured(response)
            status, _ = await raw_exchange(app.port, websocket_head(host))
            assert status.startswith("HTTP/1.1 400"), (host, status)
        for host in (f"127.0.0.1:{app.port}", f"localhost:{app.port}", "chat.example.com", "chat.example.com:443"):
            assert (await client.get("/", headers={"Host": host})).status_code == 200, host
            assert (await client.get("/api/v1/models", headers={"Host": host})).status_code == 200, host
            assert (await client.get(polling, headers={"Host": host})).status_code == 200, host
            status, _ = await raw_exchange(app.port, websocket_head(host))
            assert status.startswith("HTTP/1.1 101"), (host, status)


async def test_socketio_answers_only_our_own_origins(shared: AppProcess) -> None:
    app = shared
    polling = "/_nicegui_ws/socket.io/?EIO=4&transport=polling"
    async with httpx.AsyncClient(base_url=app.url, timeout=30) as client:
        for origin in ("http://evil.example", "https://chat.example.com.evil.example", "null"):
            response = await client.get(polling, headers={"Origin": origin})
            assert response.status_code == 400, origin
            assert "access-control-allow-origin" not in response.headers
            status, _ = await raw_exchange(app.port, websocket_head(f"127.0.0.1:{app.port}", origin))
            # engine.io refuses the upgrade before accepting it, which uvicorn answers with 403
            assert status.startswith(("HTTP/1.1 400", "HTTP/1.1 403")), (origin, status)
        for origin in (app.url, "https://chat.example.com"):
            response = await client.get(polling, headers={"Origin": origin})
            assert response.status_code == 200, origin
            assert response.headers["access-control-allow-origin"] == origin
            status, _ = await raw_exchange(app.port, websocket_head(f"127.0.0.1:{app.port}", origin))
            assert status.startswith("HTTP/1.1 101"), (origin, status)


# --- headers -----------------------------------------------------------------------------------------------


async def test_every_response_carries_the_security_headers(shared: AppProcess) -> None:
    app = shared
    async with app.client() as client:
        page = await client.get("/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert_secured(page)
        scripts = page.headers["content-security-policy"].split("script-src ", 1)[1].split(";")[0]
        assert "'unsafe-inline'" not in scripts and "'sha256-" in scripts
        static = re.search(r'src="(/_nicegui/[^"]+/static/nicegui\.js)"', page.text)
        assert static is not None
        responses = [page, await client.get(static.group(1)), await client.get("/api/v1/models"),
                     await client.get("/api/v1/conversations/nope"), await client.get("/no-such-page"),
                     await client.post("/api/v1/chat", json={"message": ""})]
        async with client.stream("POST", "/api/v1/chat/stream", json={"message": "hi"}) as sse:
            assert sse.headers["content-type"].startswith("text/event-stream")
            responses.append(sse)
            await sse.aread()
    assert [r.status_code for r in responses] == [200, 200, 200, 404, 404, 422, 200]
    for response in responses:
        assert_secured(response)


# --- bounded input ---------------------------------------------------------------------------------------


async def test_bodies_over_the_cap_are_refused_before_they_are_read(shared: AppProcess) -> None:
    app = shared  # MAX_IMPORT_MB=2
    token = app.api_token
    # Announced too large: refused from the header alone; not one body byte is sent.
    head = (f"POST /api/v1/conversations/import HTTP/1.1\nHost: 127.0.0.1:{app.port}\n"
            f"Authorization: Bearer {token}\nContent-Type: application/json\nContent-Length: 200000000\n")
    status, sent = await raw_exchange(app.port, head)
    assert status.startswith("HTTP/1.1 413") and sent == 0, status
    # Streamed without a length: refused once past the cap (~1.3 MB for chat), not after 64 MB.
    head = (f"POST /api/v1/chat/stream HTTP/1.1\nHost: 127.0.0.1:{app.port}\nAuthorization: Bearer {token}\n"
            "Content-Type: application/json\nTransfer-Encoding: chunked\n")
    status, sent = await raw_exchange(app.port, head, body_chunks=1024, chunk=b"[" * 65536)
    assert status.startswith("HTTP/1.1 413"), status
    assert sent < 16 * 1024 * 1024, f"the server read {sent:,} bytes before refusing"
    async with app.client() as client:
        response = await client.post("/api/v1/conversations/import", content=b" " * 2_100_000)
        assert response.status_code == 413
        detail = response.json()["detail"]
        assert detail["kind"] == "too_large" and "2,000,000 bytes" in detail["message"]
        assert_secured(response)
        # Within the cap the import reads the body as before (and says what is wrong with it).
        response = await client.post("/api/v1/conversations/import", content=b" " * 1_900_000 + b"{}")
        assert response.status_code == 422 and response.json()["detail"]["kind"] == "invalid_import"


async def test_nested_json_is_422_not_a_500(shared: AppProcess) -> None:
    app = shared
    deep = "[" * 100_000 + "]" * 100_000
    async with app.client() as client:
        response = await client.post("/api/v1/conversations/import", content=deep)
        assert response.status_code == 422, response.text
        assert response.json()["detail"]["kind"] == "invalid_import"
        assert "nested more than" in response.json()["detail"]["message"]
        export = '{"format": "secretgpt.conversation", "version": 1, "conversation": ' + deep + "}"
        assert (await client.post("/api/v1/conversations/import", content=export)).status_code == 422
        for path in ("/api/v1/chat/stream", "/api/v1/chat", "/api/v1/chat/stream/pause"):
            response = await client.post(path, content='{"message": ' + deep + "}")
            assert response.status_code == 422, (path, response.text)
            assert response.json()["detail"]["kind"] == "bad_request"
        assert (await client.get("/api/v1/models")).status_code == 200, "the server is fine afterwards"


async def test_api_requests_create_no_browser_session(shared: AppProcess) -> None:
    app = shared
    async with app.client() as client:
        for path in ("/api/v1/models", "/api/v1/conversations", "/api/v1/chat/streams", "/api/v1/nothing-here"):
            for _ in range(5):
                response = await client.get(path)
                assert "set-cookie" not in response.headers, (path, response.headers.get("set-cookie"))
        page = await client.get("/")
        assert "session=" in page.headers.get("set-cookie", ""), "the page does get its browser session"


# --- private data dir ---------------------------------------------------------------------------------------


async def test_data_files_are_private_even_under_umask_022(tmp_path: Path, model: ScriptedModel) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    old_db = data / "secretgpt.db-journal"  # left by an older version, readable by all
    old_db.write_text("")
    old_db.chmod(0o644)
    app = AppProcess(data, tmp_path / "work", model_url=model.server.url, model=MODEL, model_api_key=MODEL_KEY)
    previous = os.umask(0o022)
    try:
        await app.start()
    finally:
        os.umask(previous)
    try:
        async with app.client() as client, httpx.AsyncClient(base_url=app.url, timeout=30) as browser:
            assert (await client.post("/api/v1/chat", json={"message": "hi"})).status_code == 200
            assert (await browser.get("/")).status_code == 200  # a browser session and its storage
        names = {p.relative_to(data).as_posix() for p in data.rglob("*")}
        assert {"secretgpt.db", "secretgpt.db-wal", "secretgpt.db-shm", "api_token", "storage_secret",
                "nicegui"} <= names, names
        assert any(n.startswith("nicegui/storage-") for n in names), names
        for path in [data, *data.rglob("*")]:
            mode = stat.S_IMODE(path.stat().st_mode)
            assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))
        assert not (tmp_path / "work" / ".nicegui").exists(), "NiceGUI's storage belongs in the data dir"
    finally:
        app.cleanup()


# --- sign-in when exposed -----------------------------------------------------------------------------------


async def test_off_loopback_the_page_needs_the_token_and_the_api_is_unchanged(launch: Launch) -> None:
    app = await launch(SECRETGPT_HOST="0.0.0.0").start()
    async with httpx.AsyncClient(base_url=app.url, timeout=30) as browser, app.client() as api:
        response = await browser.get("/")
        assert response.status_code == 303 and response.headers["location"] == "/login"
        login = await browser.get("/login")
        assert login.status_code == 200 and "Access token" in login.text
        assert (await api.get("/api/v1/models")).status_code == 200
        assert (await browser.get("/api/v1/models")).status_code == 401
    assert re.search(r"WARNING: listening on 0\.0\.0\.0.*Sign-in is required", app.log_tail())


# --- storage that cannot be used -------------------------------------------------------------------------------


def start_and_fail(tmp_path: Path, **env: str) -> tuple[int, list[str]]:
    result = subprocess.run([sys.executable, str(MAIN)], cwd=tmp_path, capture_output=True, text=True, timeout=90,
                            env=app_env({"SECRETGPT_PORT": "1", **env}))
    return result.returncode, [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]


@pytest.mark.parametrize(("setting", "value", "cause"), [
    ("SECRETGPT_DATABASE_URL", "nosuchdb://somewhere/x", "nosuchdb"),
    ("SECRETGPT_DATABASE_URL", "postgresql+asyncpg://user:hunter2@127.0.0.1:1/db", "asyncpg"),
    ("SECRETGPT_DATA_DIR", "{tmp}/a-file", "File exists"),
])
def test_storage_that_cannot_open_stops_start_up_with_one_line(tmp_path: Path, setting: str, value: str,
                                                               cause: str) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    env = {"SECRETGPT_DATA_DIR": str(tmp_path / "data"), setting: value.format(tmp=tmp_path)}
    code, lines = start_and_fail(tmp_path, **env)
    assert code == 1 and len(lines) == 1, (code, lines)
    assert setting in lines[0] and cause in lines[0], lines
    assert "hunter2" not in lines[0]


@contextlib.contextmanager
def tmpfs(path: Path, size: str, *options: str) -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", ",".join([f"size={size}", *options]), "tmpfs",
                              str(path)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip()}); tests/test_storage_failure.py covers "
                    "the same path with a patched write")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(directory: Path) -> Path:
    """Fill the file system until not one more byte fits."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 20, 1 << 12, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
    finally:
        os.close(fd)
    return filler


@pytest.mark.parametrize("state", ["full", "read-only"])
def test_a_full_or_read_only_data_dir_stops_start_up_with_one_line(tmp_path: Path, state: str) -> None:
    with tmpfs(tmp_path / "mnt", "1m", *(["ro"] if state == "read-only" else [])) as mount:
        if state == "full":
            (mount / "data").mkdir()
            fill(mount)
        code, lines = start_and_fail(tmp_path, SECRETGPT_DATA_DIR=str(mount / "data"))
    assert code == 1 and len(lines) == 1, (code, lines)
    cause = "No space left on device" if state == "full" else "Read-only file system"
    assert "SECRETGPT_DATA_DIR" in lines[0] and cause in lines[0], lines


async def test_a_disk_that_fills_mid_answer_ends_it_with_a_storage_error_and_a_later_save(
        tmp_path: Path, model: ScriptedModel) -> None:
    reply = Reply.of(words(150), tokens_per_second=60)
    model.replies.append(reply)
    with tmpfs(tmp_path / "mnt", "16m") as mount:
        app = AppProcess(mount / "data", tmp_path / "work", model_url=model.server.url, model=MODEL,
                         model_api_key=MODEL_KEY)
        try:
            await app.start()
            async with app.client() as client:
                async with event_stream(client, {"message": "Count, while the disk fills."}) as sse:
                    await sse.wait_for(lambda: sse.count("text") >= 20, 30, "20 words")
                    filler = await asyncio.to_thread(fill, mount)
                    await sse.ended(60)
                final = sse.frames[-1].data
                assert final["type"] == "error" and final["kind"] == "storage", final
                assert "could not be saved" in final["message"] and "full" in final["message"]
                assert sse.text() == reply.text, "the whole answer still reached the client"
                filler.unlink()  # space again: the background retry saves the answer as it ended
                conversation_id = sse.frames[0].data["conversation_id"]
                deadline = time.monotonic() + 30
                while True:
                    stored = (await client.get(f"/api/v1/conversations/{conversation_id}")).json()["messages"][-1]
                    if stored["status"] == "completed" or time.monotonic() > deadline:
                        break
                    await asyncio.sleep(0.25)
                assert (stored["status"], stored["content"]) == ("completed", reply.text)
            assert "the answer was saved after all" in app.log_path.read_text()
            assert words(3) not in app.log_path.read_text(), "message text leaked into the log"
        finally:
            app.cleanup()

