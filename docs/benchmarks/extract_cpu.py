"""Extraction CPU per page on the realistic benchmark pages of tests/perf (sitegen).

    python docs/benchmarks/extract_cpu.py [--pages 300] [--weight heavy] [--rounds 3] [--worker]

Renders pages 0..N-1 of the benchmark site in memory and reports the CPU time
(``time.process_time``) per page of :func:`crawler.extract.core.extract_page`, or with
``--worker`` of the worker's whole call as the crawl makes it
(:func:`crawler.extract.worker.process_page`: extraction plus the page's links): the median
of ``--rounds`` passes. To compare two checkouts, run it from each with ``PYTHONPATH`` set to
that checkout (the sitegen module is read from this file's checkout), alternating runs; a
checkout from before ``crawler/extract/`` became a package is measured too.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.append(str(Path(__file__).resolve().parents[2]))  # after PYTHONPATH

from crawler.options import ExtractOptions
from tests.perf.sitegen import render_page

MAX_LINKS_PER_PAGE = 5_000  # the spider's


def _calls() -> tuple[Any, Any]:
    """(extract_page, the worker's process_page) of the checkout on PYTHONPATH."""
    try:
        from crawler.extract.core import extract_page
        from crawler.extract.worker import process_page
    except ImportError:  # a checkout with crawler/extract.py and crawler/pagework.py
        from crawler.pagework import process_page  # type: ignore[import-not-found,no-redef]

        from crawler.extract import extract_page  # type: ignore[attr-defined,no-redef]
    return extract_page, process_page


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--weight", choices=("heavy", "light"), default="heavy")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--worker", action="store_true", help="the worker's call, with links")
    args = parser.parse_args()
    extract_page, process_page = _calls()
    options = ExtractOptions()

    def extractor(html: str, url: str) -> str:
        if not args.worker:
            return extract_page(html, url).extractor
        result = process_page(html, url, options, "perf", MAX_LINKS_PER_PAGE)
        return result["extractor"] if isinstance(result, dict) else result.page.extractor

    pages = [render_page(i, args.weight).decode() for i in range(args.pages)]
    extractor(pages[0], "https://perf.invalid/p/0.html")  # warm caches
    rounds = []
    paths: Counter[str] = Counter()
    for _ in range(args.rounds):
        start = time.process_time()
        for i, html in enumerate(pages):
            paths[extractor(html, f"https://perf.invalid/p/{i}.html") or "trafilatura"] += 1
        rounds.append((time.process_time() - start) / len(pages))
    kb = sum(len(p) for p in pages) / len(pages) / 1000
    what = "worker call" if args.worker else "extraction"
    print(
        f"{args.pages} {args.weight} pages ({kb:.0f} KB avg): {what} CPU "
        f"{statistics.median(rounds) * 1000:.1f} ms/page (rounds: "
        + ", ".join(f"{r * 1000:.1f}" for r in rounds)
        + f"); paths {dict(paths)}"
    )


if __name__ == "__main__":
    main()
