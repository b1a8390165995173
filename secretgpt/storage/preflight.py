"""Before the server starts: can we write the data dir and open the database?

A server that starts without its storage answers 500/503 for ever; better to say once, in one
line naming the setting to fix, and not start at all.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
from pathlib import Path

from sqlalchemy.engine import make_url

from ..config.private_dir import make_private
from .failures import failure_reason
from .sql import SqlConversationStore, database_url

PROBE_BYTES = 64 * 1024  # a full disk often still has room for an empty file, not for data


class StorageUnavailable(RuntimeError):
    """Storage cannot be used; the message is one line naming the setting to fix."""


def check_storage(data_dir: Path, url_override: str | None) -> None:
    """Make the data dir private and writable, and open (migrate) the database, or raise
    StorageUnavailable. Works with or without a running event loop."""
    check_data_dir(data_dir)
    url = database_url(data_dir, url_override)
    setting = "SECRETGPT_DATABASE_URL" if url_override else "SECRETGPT_DATA_DIR"
    # In a thread of its own: NiceGUI's test runner calls this from inside its event loop.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, check_database(url, setting)).result()


def check_data_dir(path: Path) -> None:
    probe = path / f".write-check-{os.getpid()}"
    try:
        make_private(path)
        with open(probe, "wb") as fh:
            fh.write(b"\0" * PROBE_BYTES)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        raise StorageUnavailable(f"SecretGPT cannot write its data dir {path} ({exc.strerror or exc}). "
                                 "Free some space, fix its permissions or set SECRETGPT_DATA_DIR.") from None
    finally:
        with contextlib.suppress(OSError):
            probe.unlink(missing_ok=True)


async def check_database(url: str, setting: str) -> None:
    try:
        store = await SqlConversationStore.open(url)
    except Exception as exc:  # any driver, any failure: the message says which setting to look at
        shown = _shown_url(url)
        raise StorageUnavailable(f"SecretGPT cannot open its conversation database {shown} ({failure_reason(exc)}). "
                                 f"Check {setting}.") from None
    await store.close()


def _shown_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(an unreadable URL)"
