"""`python main.py` on a port another program holds: it exits non-zero with one sentence naming the
port and the setting, and prints neither the "running" line nor the API token — also when the port
is taken after its check, just before the server binds (the race)."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.app_process import MAIN, ROOT, app_env, free_port

TOKEN = "port-test-token-that-must-not-be-printed"

# The race, made certain: the port is held all along, but the first check (before anything is
# printed) is told it is free, as it would have been a moment before another program took it.
LOSES_THE_RACE = f"""
import runpy, sys
sys.path.insert(0, {str(ROOT)!r})
import secretgpt.interfaces.listening as listening
checked = []
real = listening.port_problem
def free_at_first(host, port):
    checked.append(port)
    return None if len(checked) == 1 else real(host, port)
listening.port_problem = free_at_first
sys.argv = [{str(MAIN)!r}]
runpy.run_path({str(MAIN)!r}, run_name="__main__")
"""


@pytest.fixture
def held_port() -> Iterator[int]:
    port = free_port()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        yield port


def start_on(port: int, tmp_path: Path, *command: str) -> tuple[int, str, str]:
    env = app_env({"SECRETGPT_HOST": "127.0.0.1", "SECRETGPT_PORT": str(port), "SECRETGPT_API_TOKEN": TOKEN,
                   "SECRETGPT_DATA_DIR": str(tmp_path / "data"), "PYTHONUNBUFFERED": "1"})
    result = subprocess.run([sys.executable, *(command or [str(MAIN)])], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=90, stdin=subprocess.DEVNULL)
    return result.returncode, result.stdout, result.stderr


def assert_refused(port: int, code: int, stdout: str, stderr: str) -> str:
    output = stdout + stderr
    assert code != 0, output
    assert "is running" not in output and TOKEN not in output, output
    sentence = next((line for line in stderr.splitlines() if "SECRETGPT_PORT" in line), None)
    assert sentence is not None, output
    assert f"Port {port}" in sentence and "already in use" in sentence and "--port" in sentence
    return sentence


def test_a_taken_port_stops_start_up_with_one_sentence(held_port: int, tmp_path: Path) -> None:
    code, stdout, stderr = start_on(held_port, tmp_path)
    sentence = assert_refused(held_port, code, stdout, stderr)
    assert code == 1
    assert [line for line in (stdout + stderr).splitlines() if line.strip()] == [sentence]


def test_a_port_taken_after_the_check_is_refused_the_same_way(held_port: int, tmp_path: Path) -> None:
    code, stdout, stderr = start_on(held_port, tmp_path, "-c", LOSES_THE_RACE)
    assert_refused(held_port, code, stdout, stderr)
    assert code == 1
