"""The data dir holds the API token, the session secret, conversations and per-browser storage:
only its owner may read it."""

from __future__ import annotations

import os
import stat
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600
# Files and directories the process creates from now on get no group or other permissions; this
# also covers files made by libraries (SQLite's -wal and -shm, NiceGUI's storage files).
PRIVATE_UMASK = 0o077


def make_private(path: Path) -> Path:
    """Create `path` (0700) if needed, and take group/other permissions off what is already in it.

    Tightening what exists matters for data dirs made by earlier versions under umask 022."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    _tighten(path, DIR_MODE)
    for root, dirs, files in os.walk(path):
        for name in dirs:
            _tighten(Path(root, name), DIR_MODE)
        for name in files:
            _tighten(Path(root, name), FILE_MODE)
    return path


def _tighten(path: Path, mode: int) -> None:
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode) or info.st_uid != os.getuid():
        return  # not ours to change (and chmod would follow a link out of the dir)
    if stat.S_IMODE(info.st_mode) & ~mode:
        path.chmod(stat.S_IMODE(info.st_mode) & mode)
