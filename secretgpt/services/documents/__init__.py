"""Attachments read on this machine: `FileReader.read(name, data)` says what a file is (its name
checked against its bytes), extracts its text or checks its image in a child process with time and
memory limits, and returns the `ExtractedFile` the hub stores. Nothing here sends a byte anywhere."""

from __future__ import annotations

import asyncio
import hashlib
import secrets

from ...records import Attachment, ExtractedFile, FileTooLarge, UnreadableFile, size_words, well_formed
from .bounded import OverLimit, Refused, read_bounded
from .kinds import kind_of

__all__ = ["FileReader", "clean_name"]

READ_SECONDS = 60.0  # a 20 MB text-dense PDF takes about 20 s on a busy core (benchmarks/attachment_extraction.py)
READ_MEMORY = 1024 * 2**20  # address space of the child: pypdf on a 20 MB PDF stays well below
MAX_NAME_CHARS = 200


def clean_name(name: str | None) -> str:
    """The file's own name (no folders), one line, well formed and not too long."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch if ch.isprintable() else " " for ch in well_formed(base)).strip()
    if len(base) > MAX_NAME_CHARS:
        stem, dot, extension = base.rpartition(".")
        base = (stem[: MAX_NAME_CHARS - len(extension) - 2] + "…" + dot + extension) if dot else base[:MAX_NAME_CHARS]
    return base or "file"


class FileReader:
    def __init__(self, max_bytes: int, *, seconds: float = READ_SECONDS, memory: int = READ_MEMORY,
                 concurrent: int = 2) -> None:
        self.max_bytes = max_bytes  # MAX_UPLOAD_MB
        self.seconds = seconds
        self.memory = memory
        # Each read takes a core for up to `seconds`: at most this many at once, the rest wait.
        self._slots = asyncio.Semaphore(concurrent)

    def check_size(self, size: int) -> None:
        if size > self.max_bytes:
            raise FileTooLarge(f"The file is {size_words(size)}; attachments may be at most "
                               f"{size_words(self.max_bytes)} (MAX_UPLOAD_MB).")

    async def read(self, name: str | None, data: bytes) -> ExtractedFile:
        """Raises FileTooLarge, UnreadableFile (not what its name says, or it cannot be read)."""
        name = clean_name(name)
        self.check_size(len(data))
        kind = kind_of(name, data)
        async with self._slots:
            try:
                got = await read_bounded(kind.reader, name, data, seconds=self.seconds, memory=self.memory)
            except (Refused, OverLimit) as exc:
                raise UnreadableFile(str(exc)) from None
        text = well_formed(got.text) if got.text is not None else None
        attachment = Attachment(
            file_id=secrets.token_hex(16), name=name, kind="image" if kind.reader == "image" else "text",
            media_type=kind.media_type, size=len(data), sha256=hashlib.sha256(data).hexdigest(),
            chars=len(text) if text is not None else None, pages=got.pages, thumbnail=got.thumbnail)
        return ExtractedFile(attachment=attachment, text=text, data=data if kind.reader == "image" else None)
