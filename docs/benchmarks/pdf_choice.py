"""Measure PDF text libraries on real PDFs: time per page and text quality.

Usage: ``python docs/benchmarks/pdf_choice.py FILE.pdf [FILE.pdf ...]`` (Debian's
documentation packages ship some: /usr/share/doc/doxygen/doxygen_manual.pdf,
/usr/share/doc/libtasn1-doc/libtasn1.pdf, /usr/share/doc/shared-mime-info/...).

For each library and file: pages, seconds (best of 3), characters, and text quality
proxies: ligature code points left (U+FB00..U+FB06), words split by a line-break hyphen
("conﬁ-\\nguration"), the share of dictionary-looking words (letters only, 2-20 long)
among whitespace tokens, and how many distinct words both libraries agree on.
Prints one JSON object per line.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

LIGATURES = re.compile("[\ufb00-\ufb06]")
HYPHEN_BREAK = re.compile(r"[a-z]-\n[a-z]")
WORD = re.compile(r"^[A-Za-z]{2,20}[.,;:]?$")


def pdfium_pages(data: bytes) -> list[str]:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    try:
        return [page.get_textpage().get_text_bounded() for page in pdf]
    finally:
        pdf.close()


def pypdf_pages(data: bytes) -> list[str]:
    from io import BytesIO

    from pypdf import PdfReader

    return [page.extract_text() or "" for page in PdfReader(BytesIO(data)).pages]


def measure(name: str, func: object, data: bytes) -> tuple[dict[str, object], set[str]]:
    best = float("inf")
    pages: list[str] = []
    for _ in range(3):
        start = time.perf_counter()
        pages = func(data)  # type: ignore[operator]
        best = min(best, time.perf_counter() - start)
    text = "\n".join(pages)
    tokens = text.split()
    words = {t.strip(".,;:").lower() for t in tokens if WORD.match(t)}
    return {
        "library": name,
        "pages": len(pages),
        "seconds": round(best, 3),
        "ms_per_page": round(1000 * best / max(1, len(pages)), 2),
        "chars": len(text),
        "ligatures": len(LIGATURES.findall(text)),
        "hyphen_breaks": len(HYPHEN_BREAK.findall(text)),
        "word_share": round(sum(1 for t in tokens if WORD.match(t)) / max(1, len(tokens)), 3),
    }, words


def main(paths: list[str]) -> None:
    for path in paths:
        data = Path(path).read_bytes()
        rows = []
        vocab = []
        for name, func in (("pypdfium2", pdfium_pages), ("pypdf", pypdf_pages)):
            row, words = measure(name, func, data)
            rows.append(row)
            vocab.append(words)
        common = vocab[0] & vocab[1]
        for row, words in zip(rows, vocab, strict=True):
            row["file"] = Path(path).name
            row["distinct_words"] = len(words)
            row["words_only_here"] = len(words - common)
            print(json.dumps(row))


if __name__ == "__main__":
    main(sys.argv[1:])
