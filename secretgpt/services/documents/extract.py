"""Reading one file, in the child process `bounded.py` starts: PDF text with pypdf, Word text with
python-docx, UTF-8 text as it is, and an image checked by decoding it with Pillow (its size, and a
thumbnail drawn here). Everything a hostile file can make costly happens in this process, under
its limits.

Run as a script (`python -I extract.py MEMORY_BYTES CPU_SECONDS`), it imports nothing of the app:
it reads a JSON line (reader, name) and the file's bytes from stdin, limits its own address space
and CPU time, and writes one JSON line to stdout.
"""

from __future__ import annotations

import base64
import io
import json
import sys
from dataclasses import asdict, dataclass

# Extracted text kept per file: far more than one message sends (MAX_ATTACHMENT_CHARS), and a
# bound on what a decompressing PDF can make of 20 MB.
MAX_TEXT_CHARS = 5_000_000
THUMBNAIL_PIXELS = 320
MAX_IMAGE_PIXELS = 60_000_000  # Pillow refuses bigger images (a decompression bomb) before decoding them


class Refusal(Exception):
    """The file cannot be read; the message is for the person who sent it."""


@dataclass
class Extracted:
    text: str | None = None
    pages: int | None = None
    thumbnail: str | None = None
    width: int | None = None
    height: int | None = None


def extract(reader: str, name: str, data: bytes) -> Extracted:
    if reader == "pdf":
        return _pdf(name, data)
    if reader == "docx":
        return _docx(name, data)
    if reader == "image":
        return _image(name, data)
    return Extracted(text=_utf8(name, data))


def _bounded_text(pieces: list[str]) -> str:
    text = "\n\n".join(p for p in pieces if p)
    if len(text) > MAX_TEXT_CHARS:
        text = text[:MAX_TEXT_CHARS] + f"\n\n[Text past {MAX_TEXT_CHARS:,} characters was not read.]"
    return text


def _pdf(name: str, data: bytes) -> Extracted:
    from pypdf import PdfReader
    from pypdf.errors import LimitReachedError, PdfReadError

    try:
        pdf = PdfReader(io.BytesIO(data))
        if pdf.is_encrypted and not pdf.decrypt(""):
            raise Refusal(f"{name} is protected by a password; remove it and attach the file again.")
        pieces: list[str] = []
        total = 0
        for page in pdf.pages:
            piece = page.extract_text() or ""
            pieces.append(piece.strip())
            total += len(piece)
            if total > MAX_TEXT_CHARS:
                break
        return Extracted(text=_bounded_text(pieces), pages=len(pdf.pages))
    except Refusal:
        raise
    except LimitReachedError:
        raise Refusal(f"{name} holds an object too large to read (it would inflate past pypdf's limits).") from None
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError,
            AssertionError, OverflowError, ZeroDivisionError) as exc:
        raise Refusal(f"{name} could not be read as a PDF ({type(exc).__name__}: {str(exc)[:120]}).") from None


def _docx(name: str, data: bytes) -> Extracted:
    import zipfile

    import docx
    from docx.table import Table

    try:
        document = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise Refusal(f"{name} is not a Word document (.docx) that can be read ({type(exc).__name__}).") from None
    except (MemoryError, RecursionError):
        raise  # the limits' own words (main)
    except Exception as exc:  # python-docx's own errors (a package without a document part …)
        raise Refusal(f"{name} could not be read as a Word document ({type(exc).__name__}).") from None
    pieces: list[str] = []
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            pieces.append("\n".join(" | ".join(cell.text.strip() for cell in row.cells) for row in block.rows))
        else:
            pieces.append(block.text)
    return Extracted(text=_bounded_text(pieces))


def _utf8(name: str, data: bytes) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Refusal(f"{name} is not UTF-8 text (byte {exc.start:,} is not valid UTF-8); save it as UTF-8 and "
                      "attach it again.") from None
    if "\x00" in text:
        raise Refusal(f"{name} holds binary data (NUL bytes), not text.")
    return _bounded_text([text])


def _image(name: str, data: bytes) -> Extracted:
    from PIL import Image, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
    try:
        with Image.open(io.BytesIO(data)) as probe:
            probe.verify()  # the whole file's structure, without decoding it
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            image.draft("RGB", (THUMBNAIL_PIXELS, THUMBNAIL_PIXELS))  # JPEG: decode at a fraction
            thumb = image.convert("RGBA" if "A" in image.getbands() or image.mode == "P" else "RGB")
            thumb.thumbnail((THUMBNAIL_PIXELS, THUMBNAIL_PIXELS))
            out = io.BytesIO()
            if thumb.mode == "RGBA":
                thumb.save(out, "PNG", optimize=True)
                media_type = "image/png"
            else:
                thumb.save(out, "JPEG", quality=80)
                media_type = "image/jpeg"
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise Refusal(f"{name} could not be read as an image ({type(exc).__name__}: {str(exc)[:120]}).") from None
    thumbnail = f"data:{media_type};base64,{base64.b64encode(out.getvalue()).decode()}"
    return Extracted(thumbnail=thumbnail, width=width, height=height)


def main(argv: list[str]) -> None:
    import resource

    memory, seconds = int(argv[1]), int(argv[2])
    header = json.loads(sys.stdin.buffer.readline())
    data = sys.stdin.buffer.read()
    # Before a byte of the file is parsed: past these the kernel stops us (MemoryError, SIGXCPU).
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds))
    sys.setrecursionlimit(4000)  # deep nesting ends as RecursionError well inside the C stack
    name = header["name"]
    try:
        outcome = {"status": "ok", **asdict(extract(header["reader"], name, data))}
    except Refusal as exc:
        outcome = {"status": "refused", "message": str(exc)}
    except MemoryError:
        outcome = {"status": "memory"}
    except RecursionError:
        outcome = {"status": "refused", "message": f"{name} is nested too deeply to be read."}
    except Exception as exc:  # a reader's bug on odd input is a file we cannot read, not a server error
        outcome = {"status": "refused", "message": f"{name} could not be read ({type(exc).__name__})."}
    sys.stdout.write(json.dumps(outcome, ensure_ascii=True) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv)
