"""Start-up's storage check (storage/preflight.py) with PostgreSQL: a server that cannot be reached
or refuses the password stops `python main.py` with one line naming SECRETGPT_DATABASE_URL and
exit status 1, never showing the password; a good URL, with or without `+asyncpg`, passes."""

from __future__ import annotations

from pathlib import Path

import pytest

from secretgpt.storage.preflight import check_storage
from tests.support.app_process import free_port
from tests.support.servers import PostgresServer
from tests.test_security_process import start_and_fail

PASSWORD = "not-the-password-7719"


def refused(tmp_path: Path, url: str) -> str:
    code, lines = start_and_fail(tmp_path, SECRETGPT_DATA_DIR=str(tmp_path / "data"), SECRETGPT_DATABASE_URL=url)
    assert code == 1 and len(lines) == 1, (code, lines)
    assert "SECRETGPT_DATABASE_URL" in lines[0] and PASSWORD not in lines[0], lines
    return lines[0]


def test_a_closed_port_stops_start_up_with_one_line(tmp_path: Path) -> None:
    line = refused(tmp_path, f"postgresql+asyncpg://secretgpt:{PASSWORD}@127.0.0.1:{free_port()}/secretgpt")
    assert "cannot open its conversation database" in line and "Connect call failed" in line, line


def test_a_wrong_password_stops_start_up_with_one_line(tmp_path: Path, postgres: PostgresServer,
                                                       postgres_url: str) -> None:
    line = refused(tmp_path, postgres_url.replace("secretgpt:secretgpt@", f"secretgpt:{PASSWORD}@"))
    assert 'password authentication failed for user "secretgpt"' in line, line


@pytest.mark.parametrize("scheme", ["postgresql+asyncpg", "postgresql", "postgres"])
def test_a_good_url_passes_with_or_without_the_driver(tmp_path: Path, postgres_url: str, scheme: str) -> None:
    check_storage(tmp_path / "data", postgres_url.replace("postgresql+asyncpg://", f"{scheme}://"))
