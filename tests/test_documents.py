"""Reading attachments on this machine (`services.documents`): what a file is, checked against its
bytes; the child process's limits in time and memory; names made safe to show."""

from __future__ import annotations

import io
import zipfile

import pytest

from secretgpt.records import FileTooLarge, UnreadableFile
from secretgpt.services.documents import FileReader, clean_name
from secretgpt.services.documents.kinds import kind_of
from tests.support.files import docx_bytes, jpeg_bytes, pdf_bytes, png_bytes


@pytest.mark.parametrize(("name", "data", "reader", "media_type"), [
    ("a.pdf", pdf_bytes("x"), "pdf", "application/pdf"),
    ("a.docx", docx_bytes("x"), "docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ("a.PNG", png_bytes(), "image", "image/png"),
    ("a.png", jpeg_bytes(), "image", "image/jpeg"),  # what its bytes are
    ("main.rs", b"fn main() {}\n", "text", "text/plain"),
    ("Makefile", b"all:\n\techo hi\n", "text", "text/plain"),
    ("data.unknown", "ünï,côdé\n".encode(), "text", "text/plain"),
])
def test_what_a_file_is(name: str, data: bytes, reader: str, media_type: str) -> None:
    kind = kind_of(name, data)
    assert (kind.reader, kind.media_type) == (reader, media_type)


@pytest.mark.parametrize(("name", "data", "said"), [
    ("x.pdf", b"PK\x03\x04zip", "x.pdf is not a PDF: its bytes are a ZIP archive, without the %PDF- header."),
    ("x.docx", b"%PDF-1.4", "x.docx is not a Word document (.docx): its bytes are a PDF, not a ZIP package."),
    ("x.jpg", b"hello", "x.jpg is not an image: its bytes are text, not PNG, JPEG, GIF or WebP."),
    ("x.csv", b"\x00\x01\x02\xff", "x.csv is not text: its bytes are binary data. Text files are read as UTF-8."),
    ("x.exe", b"MZ\x90\x00\x03\x00\x00\x00\xff\xff", "x.exe cannot be attached: its bytes are binary data."),
    ("x.txt", b"", "x.txt is empty."),
])
def test_a_file_that_is_not_what_it_says_is_refused_saying_both(name: str, data: bytes, said: str) -> None:
    with pytest.raises(UnreadableFile) as refused:
        kind_of(name, data)
    assert str(refused.value).startswith(said)


def test_names_are_one_safe_line() -> None:
    assert clean_name("C:\\Users\\me\\report.pdf") == "report.pdf"
    assert clean_name("../../etc/passwd") == "passwd"
    assert clean_name("a\u202eb\nc.txt") == "a b c.txt"
    assert clean_name("") == "file"
    long = clean_name("x" * 500 + ".pdf")
    assert len(long) <= 200 and long.endswith("….pdf")


async def test_past_its_time_the_reader_is_killed() -> None:
    reader = FileReader(50_000_000, seconds=0.01)
    with pytest.raises(UnreadableFile, match=r"took longer than 0.01 s to read, so reading it was stopped"):
        await reader.read("slow.pdf", pdf_bytes(*["Page"] * 50))


async def test_past_its_memory_the_file_is_refused() -> None:
    # A Word document whose text inflates to 400 MB: python-docx reads it whole.
    package = io.BytesIO(docx_bytes("seed"))
    bomb = io.BytesIO()
    with zipfile.ZipFile(package) as source, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as out:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "word/document.xml":
                data = data.replace(b"seed", b"A" * 400_000_000)
            out.writestr(item, data)
    reader = FileReader(50_000_000, memory=300 * 2**20)
    with pytest.raises(UnreadableFile, match=r"needed more than 300 MiB to read"):
        await reader.read("bomb.docx", bomb.getvalue())


async def test_over_max_upload_is_refused_before_reading() -> None:
    with pytest.raises(FileTooLarge, match=r"The file is 2.0 MB; attachments may be at most 1.0 MB \(MAX_UPLOAD_MB\)"):
        await FileReader(1_000_000).read("big.txt", b"x" * 2_000_000)


async def test_an_image_bomb_is_refused() -> None:
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    # 100 000 × 100 000 pixels declared: Pillow refuses it before decoding a row.
    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 1000)) \
        + chunk(b"IEND", b"")
    with pytest.raises(UnreadableFile, match="could not be read as an image"):
        await FileReader(50_000_000).read("bomb.png", png)
