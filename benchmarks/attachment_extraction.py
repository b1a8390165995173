"""What reading an attachment costs: seconds per MB for each kind, through the app's own reader
(`FileReader`: a child process per file, with its time and memory limits), and the time a hostile
PDF takes to be refused.

    .venv/bin/python benchmarks/attachment_extraction.py            # ~1 min on 2 cores
    .venv/bin/python benchmarks/attachment_extraction.py --quick    # smaller files

Files are made here: a PDF of N pages of text (tests/support/files.py), a DOCX of N paragraphs, a
Markdown file, a PNG of noise. Each is read three times; the median is printed, with the fixed
cost of starting the child (a one-line text file) apart.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from secretgpt.services.documents import FileReader  # noqa: E402
from tests.support.files import deeply_nested_pdf, docx_bytes, huge_object_pdf, pdf_bytes  # noqa: E402

LINE = "Confidential computing keeps data encrypted while it is in use, and attestation proves where. "


def noise_png(side: int) -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(out, "PNG")
    return out.getvalue()


def words(count: int) -> str:
    """Text that does not compress to nothing (a DOCX is a ZIP)."""
    vocabulary = LINE.split() + [f"w{i}" for i in range(2000)]
    return " ".join(random.choice(vocabulary) for _ in range(count))


def samples(scale: int) -> dict[str, tuple[str, bytes]]:
    return {
        "pdf": ("report.pdf", pdf_bytes(*["\n".join(words(14) for _ in range(40)) for _ in range(60 * scale)])),
        "docx": ("notes.docx", docx_bytes(*[words(60) for _ in range(1500 * scale)])),
        "markdown": ("readme.md", ("# Notes\n\n" + "\n".join(words(14) for _ in range(8000 * scale))).encode()),
        "png": ("photo.png", noise_png(700 * scale)),
    }


async def timed(reader: FileReader, name: str, data: bytes, runs: int = 3) -> tuple[float, str]:
    times, outcome = [], ""
    for _ in range(runs):
        started = time.perf_counter()
        try:
            got = await reader.read(name, data)
            outcome = (f"{got.attachment.chars:,} chars" if got.attachment.chars is not None else "thumbnail drawn") \
                + (f", {got.attachment.pages} pages" if got.attachment.pages else "")
        except ValueError as exc:
            outcome = f"refused: {str(exc)[:70]}"
        times.append(time.perf_counter() - started)
    return statistics.median(times), outcome


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    random.seed(1)
    reader = FileReader(200_000_000)
    base, _ = await timed(reader, "one.txt", b"one line\n", runs=5)
    print(f"child start (one-line text file): {base * 1000:.0f} ms")
    print(f"{'kind':<10}{'size':>10}{'seconds':>10}{'s per MB':>10}{'s/MB net':>10}  what")
    for kind, (name, data) in samples(1 if args.quick else 3).items():
        seconds, outcome = await timed(reader, name, data)
        mb = len(data) / 1_000_000
        print(f"{kind:<10}{mb:>8.2f}MB{seconds:>10.2f}{seconds / mb:>10.2f}{(seconds - base) / mb:>10.2f}  {outcome}")
    for label, make in (("deep nesting", deeply_nested_pdf), ("huge object", huge_object_pdf)):
        data = make()
        seconds, outcome = await timed(reader, "hostile.pdf", data, runs=1)
        print(f"hostile PDF, {label} ({len(data) / 1_000_000:.1f} MB): {seconds:.2f} s, {outcome}")


if __name__ == "__main__":
    asyncio.run(main())
