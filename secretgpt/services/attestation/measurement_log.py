"""The verification log: an append-only JSON Lines file of each host's verified measurement sets.

A line is appended when a host's attestation verifies with a set other than the host's last
logged one (a TTL refresh of the same VM adds nothing), carrying what changed against that one;
and when a person has seen a change ("acknowledged"). A host's change stays flagged, across
restarts, until it is acknowledged or the host's set changes again.

The file is given to it (the data dir is not this layer's to know). Reading is bounded (the
newest `MAX_READ_BYTES`); a line that does not parse (a crash mid-write leaves a truncated last
line) is skipped, and the next append starts on a line of its own, so nothing before it is lost.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError

from .measurements import Change, MeasuredSet, changes_between, measured_set
from .models import HostAttestation

log = logging.getLogger(__name__)

FILE_MODE = 0o600
# A line is ~1 KB and one is added only when a VM's measurements change: this is years of them.
MAX_READ_BYTES = 4 * 1024 * 1024
MAX_LINE_BYTES = 64 * 1024
LOG_FORMAT = 1


class LogEntry(BaseModel):
    v: int = LOG_FORMAT
    kind: Literal["verified", "acknowledged"]
    at: datetime  # when it was logged (UTC)
    origin: str
    set_id: str  # names the measurement set (an acknowledgement: the set whose change was seen)
    measurements: MeasuredSet | None = None
    changes: list[Change] = Field(default_factory=list)  # against the host's previous logged set
    fetched_at: datetime | None = None  # when the evidence was fetched
    attestation_id: str | None = None
    template: str | None = None  # SecretVM template and version, as resolved (shown, not compared)
    version: str | None = None


class PendingChange(BaseModel):
    """A host's current set differs from the one before it, and nobody has acknowledged it yet."""

    at: datetime  # when the changed set was first verified
    changes: list[Change]


def _now() -> datetime:
    return datetime.now(timezone.utc)


class MeasurementLog:
    def __init__(self, path: Path | Callable[[], Path], *, clock: Callable[[], datetime] = _now) -> None:
        self._where = path  # a callable: found on first use (the data dir may not exist yet)
        self._path: Path | None = None
        self._clock = clock
        self._lock = threading.Lock()
        self._last: dict[str, LogEntry] | None = None  # per origin, its newest verified line
        self._seen: set[str] = set()  # origins whose newest verified line's change was acknowledged

    @property
    def path(self) -> Path:
        if self._path is None:
            self._path = self._where() if callable(self._where) else self._where
        return self._path

    def record(self, host: HostAttestation) -> LogEntry | None:
        """Log `host`'s set if it verified and differs from its last logged one; the appended line
        (None: nothing new). Blocking file I/O: call it in a thread."""
        measured = measured_set(host)
        if measured is None:
            return None
        with self._lock:
            last = self._index().get(host.origin)
            set_id = measured.set_id()
            if last is not None and last.set_id == set_id:
                return None
            changes = changes_between(last.measurements, measured) if last is not None and last.measurements else []
            entry = LogEntry(kind="verified", at=self._clock(), origin=host.origin, set_id=set_id,
                             measurements=measured, changes=changes, **_about(host))
            self._index()[host.origin] = entry  # flagged this run even if the disk refuses the line
            self._seen.discard(host.origin)
            self._append(entry)
            return entry

    def pending(self, origin: str) -> PendingChange | None:
        """The unacknowledged change of `origin`'s newest logged set, if any."""
        index = self._last
        if index is None:
            with self._lock:
                index = self._index()
        # Once loaded, read without the lock: the page asks every 2 s, and an append holds the
        # lock through its fsync.
        last = index.get(origin)
        if last is None or not last.changes or origin in self._seen:
            return None
        return PendingChange(at=last.at, changes=last.changes)

    def acknowledge(self, origin: str) -> LogEntry | None:
        """A person has seen `origin`'s change: it is no longer flagged. None: nothing was flagged."""
        with self._lock:
            last = self._index().get(origin)
            if last is None or not last.changes or origin in self._seen:
                return None
            entry = LogEntry(kind="acknowledged", at=self._clock(), origin=origin, set_id=last.set_id)
            self._seen.add(origin)
            self._append(entry)
            return entry

    def entries(self, origin: str | None = None, limit: int | None = None) -> list[LogEntry]:
        """Newest first (of the newest MAX_READ_BYTES), of one host or all."""
        with self._lock:  # not halfway through an append
            found = [e for e in reversed(self._read()) if origin is None or e.origin == origin]
        return found if limit is None else found[:limit]

    def export(self, origin: str | None = None) -> str:
        """As JSON Lines, oldest first, as in the file (lines that do not parse are left out)."""
        return "".join(e.model_dump_json() + "\n" for e in reversed(self.entries(origin)))

    def _index(self) -> dict[str, LogEntry]:
        if self._last is None:
            index: dict[str, LogEntry] = {}  # published whole: `pending` reads it without the lock
            for entry in self._read():  # in order: an acknowledgement counts for the line before it
                last = index.get(entry.origin)
                if entry.kind == "verified":
                    index[entry.origin] = entry
                    self._seen.discard(entry.origin)
                elif last is not None and last.set_id == entry.set_id:
                    self._seen.add(entry.origin)
            self._last = index
        return self._last

    def _read(self) -> list[LogEntry]:
        try:
            with self.path.open("rb") as fh:
                start = max(0, os.fstat(fh.fileno()).st_size - MAX_READ_BYTES)
                fh.seek(start)
                data = fh.read(MAX_READ_BYTES)
        except FileNotFoundError:
            return []
        lines = data.split(b"\n")
        if start > 0:
            lines = lines[1:]  # begun mid-line
        entries, skipped = [], 0
        for line in lines:
            if not line.strip():
                continue
            try:
                if len(line) > MAX_LINE_BYTES:
                    raise ValueError("line too long")
                entries.append(LogEntry.model_validate_json(line))
            except (ValueError, ValidationError):
                skipped += 1
        if skipped:
            log.warning("verification log %s: %d unreadable line(s) skipped", self.path, skipped)
        return entries

    def _append(self, entry: LogEntry) -> None:
        line = entry.model_dump_json().encode() + b"\n"
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, FILE_MODE)
        except OSError as exc:
            log.warning("verification log %s: cannot open it (%s); this line is lost", self.path, exc)
            return
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                line = b"\n" + line  # a crash left the last line unfinished: end it, so this one parses
            while line:
                line = line[os.write(fd, line):]
            os.fsync(fd)
        except OSError as exc:
            log.warning("verification log %s: writing failed (%s)", self.path, exc)
        finally:
            os.close(fd)


def _about(host: HostAttestation) -> dict[str, object]:
    evidence = host.evidence
    about: dict[str, object] = {"fetched_at": evidence.captured_at if evidence else None,
                                "attestation_id": evidence.attestation_id() if evidence else None}
    for check in host.status.checks:
        for key in ("template", "version"):
            if check.values.get(key) and key not in about:
                about[key] = str(check.values[key])
    return about
