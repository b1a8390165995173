"""Files made by the tests: PDFs (with text, hostile ones), Word documents and images, so no binary
fixture is kept in the repository."""

from __future__ import annotations

import io
import zlib


def pdf_bytes(*pages: str, extra_objects: list[bytes] | None = None, page_extra: bytes = b"",
              contents: int | None = None) -> bytes:
    """A valid PDF whose pages show these lines of text (Helvetica), with a correct xref table.
    `extra_objects`: more objects, numbered after the pages' (for hostile files); `page_extra`: more
    of each page's dictionary; `contents`: the object number of the first page's content instead."""
    objects: list[bytes] = [b"<< /Type /Catalog /Pages 2 0 R >>", b""]  # 2: the page tree, filled in below
    font = 3
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    kids = []
    for text in pages:
        escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        lines = b" ".join(f"({line}) Tj 0 -14 Td".encode("latin-1") for line in escaped.split("\n"))
        stream = b"BT /F1 12 Tf 72 720 Td " + lines + b" ET"
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        content = len(objects)
        shown = contents if contents is not None and not kids else content
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R " % shown
                       + page_extra + b" /Resources << /Font << /F1 %d 0 R >> >> >>" % font)
        kids.append(len(objects))
    objects[1] = b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % k for k in kids) + b"] /Count %d >>" % len(kids)
    objects += extra_objects or []
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def deeply_nested_pdf(depth: int = 200_000) -> bytes:
    """A page whose dictionary holds an array nested `depth` deep (read with the page)."""
    return pdf_bytes("Nested.", page_extra=b"/X " + b"[" * depth + b"]" * depth)


def huge_object_pdf(expanded: int = 2_000_000_000) -> bytes:
    """A page whose content stream inflates to `expanded` bytes of spaces (a decompression bomb)."""
    compressor = zlib.compressobj(9)
    chunk = b" " * (1 << 20)
    packed = b"".join(compressor.compress(chunk) for _ in range(expanded // len(chunk))) + compressor.flush()
    body = b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(packed) + packed + b"\nendstream"
    return pdf_bytes("Huge.", extra_objects=[body], contents=6)


def docx_bytes(*paragraphs: str, table: list[list[str]] | None = None) -> bytes:
    import docx

    document = docx.Document()
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                grid.cell(r, c).text = value
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def png_bytes(width: int = 64, height: int = 48, colour: tuple[int, int, int] = (200, 30, 60)) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "PNG")
    return out.getvalue()


def jpeg_bytes(width: int = 64, height: int = 48) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), (20, 120, 200)).save(out, "JPEG")
    return out.getvalue()
