"""What a file is: by its name's extension, checked against its first bytes. A file whose bytes are
not what its name says is refused with a sentence that says both."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Literal

from ...records import UnreadableFile

Reader = Literal["pdf", "docx", "text", "image"]

IMAGE_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
IMAGE_EXTENSIONS = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
                    ".webp": "image/webp"}
# Plain text, Markdown, data and source code: read as UTF-8 whatever the extension says.
TEXT_EXTENSIONS = frozenset("""
.txt .text .md .markdown .mdx .rst .csv .tsv .json .jsonl .ndjson .yaml .yml .toml .xml .html .htm .log .ini
.cfg .conf .env .tex .bib .srt .vtt .py .pyi .ipynb .js .mjs .cjs .ts .tsx .jsx .java .kt .kts .scala .groovy
.gradle .c .h .cc .cpp .cxx .hpp .hh .cs .go .rs .rb .php .swift .m .mm .sh .bash .zsh .fish .ps1 .bat .sql .r
.lua .pl .pm .hs .ml .mli .fs .fsx .ex .exs .erl .clj .cljs .dart .vue .svelte .css .scss .sass .less .proto
.graphql .gql .tf .hcl .nix .cmake .mk .dockerfile .patch .diff .sol .zig .jl .v .vhd .asm .s
""".split())
MEDIA_TYPES = {"pdf": "application/pdf",
               "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}


@dataclass(frozen=True)
class Kind:
    reader: Reader
    media_type: str


def image_type(data: bytes) -> str | None:
    """The image format its bytes start with (the ones vision APIs take), or None."""
    for magic, media_type in IMAGE_MAGIC:
        if data.startswith(magic):
            return media_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def looks_like(data: bytes) -> str:
    """A few words on what the bytes are, for the refusal."""
    if data.startswith(b"%PDF-"):
        return "a PDF"
    if data.startswith(b"PK\x03\x04"):
        return "a ZIP archive"
    if (media_type := image_type(data)) is not None:
        return f"an image ({media_type.removeprefix('image/').upper()})"
    if b"\x00" not in data[:4096]:
        try:
            data[:4096].decode("utf-8")
            return "text"
        except UnicodeDecodeError as exc:
            if exc.start >= 4090:  # cut inside a character at the end of the sample
                return "text"
    return "binary data"


def kind_of(name: str, data: bytes) -> Kind:
    """What reads this file. Raises UnreadableFile when its bytes are not what its name says, or it
    is not a kind that can be read."""
    extension = PurePosixPath(name.lower()).suffix
    seen = looks_like(data)
    if not data:
        raise UnreadableFile(f"{name} is empty.")
    if extension == ".pdf":
        if b"%PDF-" not in data[:1024]:
            raise UnreadableFile(f"{name} is not a PDF: its bytes are {seen}, without the %PDF- header.")
        return Kind("pdf", MEDIA_TYPES["pdf"])
    if extension == ".docx":
        if not data.startswith(b"PK\x03\x04"):
            raise UnreadableFile(f"{name} is not a Word document (.docx): its bytes are {seen}, not a ZIP package.")
        return Kind("docx", MEDIA_TYPES["docx"])
    if extension in IMAGE_EXTENSIONS:
        media_type = image_type(data)
        if media_type is None:
            raise UnreadableFile(f"{name} is not an image: its bytes are {seen}, not PNG, JPEG, GIF or WebP.")
        return Kind("image", media_type)  # a .png that is a JPEG goes as the JPEG it is
    if extension in TEXT_EXTENSIONS or seen == "text":
        if seen != "text":
            raise UnreadableFile(f"{name} is not text: its bytes are {seen}. Text files are read as UTF-8.")
        return Kind("text", "text/plain")
    if (media_type := image_type(data)) is not None and not extension:
        return Kind("image", media_type)
    raise UnreadableFile(f"{name} cannot be attached: its bytes are {seen}. Attach a PDF, a Word document (.docx), "
                         "text (Markdown, CSV, JSON, source code) or an image (PNG, JPEG, GIF, WebP).")
