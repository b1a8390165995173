"""Run the reading of one file in a child process with a time and a memory limit, so a hostile
PDF (deep nesting, a huge object, a decompression bomb) can neither hang the server nor blow up
its memory: past the limit the child is killed and the file refused.

A fresh interpreter per file (`python -I extract.py`), not a fork of the server (whose event loop
and threads make forking unsafe) nor multiprocessing's spawn (which would import the app's main
module in every child). It limits its own address space (RLIMIT_AS) and CPU time (RLIMIT_CPU)
before it parses a byte; the wall-clock limit is ours: past it the child is killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from pathlib import Path

from .extract import Extracted

SCRIPT = Path(__file__).with_name("extract.py")
MAX_RESULT_BYTES = 64 * 2**20  # the child's JSON line: MAX_TEXT_CHARS escaped, with room


class Refused(Exception):
    """The file cannot be read; the message is for the person who sent it."""


class OverLimit(Exception):
    """The child ran out of time or memory, or died: the sentence says which."""


async def read_bounded(reader: str, name: str, data: bytes, *, seconds: float, memory: int) -> Extracted:
    """Raises Refused or OverLimit."""
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-I", str(SCRIPT), str(memory), str(int(seconds) + 1),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        limit=MAX_RESULT_BYTES)
    try:
        async with asyncio.timeout(seconds):
            assert child.stdin is not None and child.stdout is not None
            child.stdin.write(json.dumps({"reader": reader, "name": name}).encode() + b"\n")
            child.stdin.write(data)
            with contextlib.suppress(ConnectionError):
                await child.stdin.drain()
            child.stdin.close()
            line = await child.stdout.readline()
            code = await child.wait()
    except TimeoutError:
        raise OverLimit(f"{name} took longer than {seconds:g} s to read, so reading it was stopped.") from None
    except ValueError:  # a line longer than MAX_RESULT_BYTES
        raise OverLimit(f"{name} holds more text than can be attached.") from None
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
    mib = memory // 2**20
    if not line:
        if code == -signal.SIGXCPU:
            raise OverLimit(f"{name} took longer than {seconds:g} s to read, so reading it was stopped.")
        raise OverLimit(f"{name} needed more than {mib:,} MiB to read (or its reader failed), so it was refused.")
    outcome = json.loads(line)
    if outcome["status"] == "ok":
        outcome.pop("status")
        return Extracted(**outcome)
    if outcome["status"] == "memory":
        raise OverLimit(f"{name} needed more than {mib:,} MiB to read, so it was refused.")
    raise Refused(outcome["message"])
