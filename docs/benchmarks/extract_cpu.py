"""Extraction CPU per page on the realistic benchmark pages of tests/perf (sitegen).

    python docs/benchmarks/extract_cpu.py [--pages 300] [--weight heavy] [--rounds 3]

Renders pages 0..N-1 of the benchmark site in memory and reports the CPU time
(``time.process_time``) of :func:`crawler.extract.extract_page` per page: the median of
``--rounds`` passes. To compare two checkouts, run it from each with ``PYTHONPATH`` set to
that checkout (the sitegen module is read from this file's checkout), alternating runs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[2]))  # after PYTHONPATH

from crawler.extract import extract_page
from tests.perf.sitegen import render_page


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--weight", choices=("heavy", "light"), default="heavy")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    pages = [render_page(i, args.weight).decode() for i in range(args.pages)]
    extract_page(pages[0], "https://perf.invalid/p/0.html")  # warm caches
    rounds = []
    paths: Counter[str] = Counter()
    for _ in range(args.rounds):
        start = time.process_time()
        for i, html in enumerate(pages):
            page = extract_page(html, f"https://perf.invalid/p/{i}.html")
            paths[getattr(page, "extractor", "") or "trafilatura"] += 1
        rounds.append((time.process_time() - start) / len(pages))
    kb = sum(len(p) for p in pages) / len(pages) / 1000
    print(
        f"{args.pages} {args.weight} pages ({kb:.0f} KB avg): extraction CPU "
        f"{statistics.median(rounds) * 1000:.1f} ms/page (rounds: "
        + ", ".join(f"{r * 1000:.1f}" for r in rounds)
        + f"); paths {dict(paths)}"
    )


if __name__ == "__main__":
    main()
