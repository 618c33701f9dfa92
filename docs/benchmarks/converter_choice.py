"""Compare HTML-to-Markdown libraries on real documentation pages (the choice in README).

    pip install markdownify   # the other candidate; not a dependency of kbcrawler
    python docs/benchmarks/converter_choice.py [--per-corpus N]

Each page's declared main region is found and cleaned (crawler.extract.mainregion) and prepared
(crawler.extract.markdown._prepare), then converted by each library; scores are against that
region's own HTML: words kept, headings as Markdown headings, <pre> blocks fenced, tables as
pipe tables, <li> as list lines, and CPU per page of the conversion alone.
"""

from __future__ import annotations

import argparse
import glob
import random
import re
import statistics
import time
from collections import Counter
from copy import deepcopy

import html_to_markdown
import markdownify
from lxml import etree
from lxml.html import document_fromstring

from crawler.extract.mainregion import find_main_region, remove_chrome
from crawler.extract.markdown import _options, _prepare

CORPORA = {
    "python3-doc (Sphinx)": "/usr/share/doc/python3-doc/html/**/*.html",
    "postgresql-doc-15 (DocBook)": "/usr/share/doc/postgresql-doc-15/html/*.html",
    "doxygen (Doxygen)": "/usr/share/doc/doxygen/html/*.html",
}
WORD = re.compile(r"\w+")


def h2m(html: str) -> str:
    return html_to_markdown.convert(html, _options()).content or ""


def mdify(html: str) -> str:
    return markdownify.markdownify(html, heading_style="ATX", bullets="-")


LIBRARIES = {"html-to-markdown": h2m, "markdownify": mdify}


def score(region: etree._Element, markdown: str) -> Counter[str]:
    counts: Counter[str] = Counter()
    words = Counter(WORD.findall(region.text_content()))
    got = Counter(WORD.findall(markdown))
    counts["words"] += sum(words.values())
    counts["words_kept"] += sum(min(n, got[w]) for w, n in words.items())
    lines = markdown.splitlines()
    in_fence = False
    fences = 0
    md_headings = 0
    list_lines = 0
    table_seps = 0
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("```"):
            in_fence = not in_fence
            fences += 1
            continue
        if "```" in line:
            counts["midline_fences"] += 1
        if in_fence:
            continue
        if re.match(r"#{1,6} \S", line):
            md_headings += 1
        if re.match(r"\s*(?:[-*+]|\d+[.)]) \S", line):
            list_lines += 1
        if re.match(r"\|\s*:?-{3,}", stripped):
            table_seps += 1
    counts["unbalanced"] += int(in_fence)
    counts["headings"] += sum(1 for _ in region.iter("h1", "h2", "h3", "h4", "h5", "h6"))
    counts["headings_kept"] += md_headings
    counts["pre"] += sum(1 for _ in region.iter("pre"))
    counts["pre_fenced"] += fences // 2
    counts["tables"] += sum(1 for _ in region.iter("table"))
    counts["tables_kept"] += table_seps
    counts["li"] += sum(1 for _ in region.iter("li"))
    counts["li_kept"] += list_lines
    return counts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-corpus", type=int, default=120)
    args = parser.parse_args()
    for corpus, pattern in CORPORA.items():
        files = sorted(glob.glob(pattern, recursive=True))
        random.Random(11).shuffle(files)
        totals = {name: Counter() for name in LIBRARIES}
        cpu = {name: [] for name in LIBRARIES}
        pages = 0
        for path in files:
            if pages >= args.per_corpus:
                break
            with open(path, "rb") as handle:
                tree = document_fromstring(handle.read())
            region = find_main_region(tree)
            if region is None:
                continue
            remove_chrome(region.element)
            _prepare(region.element, links=False, images=False)
            html = etree.tostring(region.element, encoding="unicode", with_tail=False)
            pages += 1
            for name, convert in LIBRARIES.items():
                start = time.process_time()
                markdown = convert(html)
                cpu[name].append(time.process_time() - start)
                totals[name] += score(deepcopy(region.element), markdown)
        print(f"\n{corpus}: {pages} pages")
        for name, t in totals.items():
            print(
                f"  {name:17} words {t['words_kept'] / t['words']:.3f}"
                f"  headings {t['headings_kept']}/{t['headings']}"
                f"  pre fenced {t['pre_fenced']}/{t['pre']}"
                f"  mid-line {t['midline_fences']} unbalanced {t['unbalanced']}"
                f"  tables {t['tables_kept']}/{t['tables']}"
                f"  list lines {t['li_kept']}/{t['li']}"
                f"  CPU ms/page mean {statistics.mean(cpu[name]) * 1000:.1f}"
                f" max {max(cpu[name]) * 1000:.0f}"
            )


if __name__ == "__main__":
    main()
