"""Real Redis and PostgreSQL servers for tests, each started by the tests in a temporary directory
on a free loopback port (Debian's `redis-server` and `postgresql`), and stopped after.

PostgreSQL refuses to run as root: as root, the cluster is made and run as the `postgres` user.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .app_process import free_port

POSTGRES_BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)), None) \
    if Path("/usr/lib/postgresql").is_dir() else None


def redis_available() -> bool:
    return shutil.which("redis-server") is not None


def postgres_available() -> bool:
    return POSTGRES_BIN is not None and (POSTGRES_BIN / "initdb").exists()


def _wait_for_port(port: int, timeout: float, alive: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if alive.poll() is not None:
            raise RuntimeError(f"{what} exited with {alive.returncode} before it listened on {port}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {port} within {timeout:g} s")


@dataclass
class RedisServer:
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


@contextlib.contextmanager
def redis_server() -> Iterator[RedisServer]:
    """A throwaway redis-server: no persistence, loopback only."""
    with tempfile.TemporaryDirectory(prefix="secretgpt-redis-") as directory:
        port = free_port()
        process = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", directory, "--protected-mode", "yes"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _wait_for_port(port, 20, process, "redis-server")
            yield RedisServer(port, process)
        finally:
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(10)
            if process.poll() is None:
                process.kill()


@dataclass
class PostgresServer:
    port: int
    directory: Path

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://secretgpt:secretgpt@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new empty database; its SQLAlchemy URL."""
        _run_as_owner([str(POSTGRES_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "secretgpt",
                       "-O", "secretgpt", name], env={"PGPASSWORD": "secretgpt"})
        return self.url(name)


def _owner() -> pwd.struct_passwd | None:
    """Whom the cluster runs as: ourselves, or `postgres` when we are root."""
    return pwd.getpwnam("postgres") if os.geteuid() == 0 else None


def _run_as_owner(command: list[str], env: dict[str, str] | None = None,
                  background: bool = False) -> subprocess.Popen[bytes] | None:
    owner = _owner()
    full_env = {**os.environ, **(env or {})}
    kwargs: dict = {"env": full_env, "stdout": subprocess.DEVNULL, "stderr": subprocess.PIPE}
    if owner is not None:
        kwargs |= {"user": owner.pw_uid, "group": owner.pw_gid, "extra_groups": [], "cwd": "/"}
    if background:
        return subprocess.Popen(command, **kwargs)
    result = subprocess.run(command, timeout=120, **kwargs)
    if result.returncode != 0:
        raise RuntimeError(f"{command[0]} failed: {result.stderr.decode(errors='replace')[-500:]}")
    return None


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL cluster (initdb in a temp dir), a `secretgpt` superuser with a password."""
    assert POSTGRES_BIN is not None
    directory = Path(tempfile.mkdtemp(prefix="secretgpt-pg-"))
    owner = _owner()
    if owner is not None:
        os.chown(directory, owner.pw_uid, owner.pw_gid)
    data = directory / "data"
    password = directory / "pw"
    password.write_text("secretgpt\n")
    if owner is not None:
        os.chown(password, owner.pw_uid, owner.pw_gid)
    port = free_port()
    _run_as_owner([str(POSTGRES_BIN / "initdb"), "-D", str(data), "-U", "secretgpt", f"--pwfile={password}",
                   "-A", "scram-sha-256", "--no-sync", "-E", "UTF8", "--locale=C"])
    process = _run_as_owner([str(POSTGRES_BIN / "postgres"), "-D", str(data), "-p", str(port),
                             "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={directory}",
                             "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                             "-c", "max_connections=200"], background=True)
    assert process is not None
    try:
        _wait_for_port(port, 60, process, "postgres")
        _wait_until_accepting(port)
        yield PostgresServer(port, directory)
    finally:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(20)
        if process.poll() is None:
            process.kill()
        shutil.rmtree(directory, ignore_errors=True)


def _wait_until_accepting(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        ready = subprocess.run([str(POSTGRES_BIN / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)],
                               capture_output=True, timeout=10)
        if ready.returncode == 0:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"postgres on {port} is not accepting connections")
        time.sleep(0.1)
