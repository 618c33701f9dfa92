"""Fidelity benchmark: crawl real documentation sites and score every document against its page.

    python -m tests.fidelity                          # every corpus, every page
    python -m tests.fidelity --corpus python --limit 100 --json out.json

For each corpus (tests/fidelity/corpora.py: the Python docs, the PostgreSQL manual, the
Doxygen manual, as Debian packages install them, missing packages installed with apt-get when
run as root; and 300 pages of tests.perf's realistic-weight site), the benchmark copies the
pages to a temporary folder with a sitemap, serves it on 127.0.0.1, runs the real
``scrapy crawl site -a config=…`` with no token (documents land in the outbox), joins each
page's parts back
(:func:`pipelines.split.join_parts`) and scores the page against its own main region
(tests/fidelity/score.py). It prints a Markdown table (metrics × corpora, with the targets of
issue 11) and writes every page's counts to ``--json`` (default
``bench-results/fidelity.json``).

Cost: ``extraction CPU/page`` is the CPU time of the crawl's worker processes (every process
of the tree but the crawler itself, sampled from /proc every 0.2 s), less their start-up
(:func:`warm_up_cpu`), over the pages extracted; ``peak RSS`` is the highest summed RSS of the
crawl's process tree.

Exit status: 0 when every crawl exited 0, 1 when one did not, 2 when a corpus is missing.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag
from xml.sax.saxutils import escape

import yaml

from pipelines.split import join_parts
from tests.crawl_runner import REPO_ROOT, CrawlResult, crawl_env
from tests.fidelity import score
from tests.fidelity.corpora import CORPORA, Corpus
from tests.perf.procstat import TreeSampler
from tests.perf.serve import free_port, start_server

# Targets from issue 11, as (metric, comparison, value).
TARGETS: dict[str, tuple[str, float]] = {
    "words": (">=", 0.98),
    "headings": (">=", 0.98),
    "pre": (">=", 0.98),
    "admonitions": (">=", 0.95),
    "tables": (">=", 0.95),
    "items": (">=", 0.95),
    "pages_midline_fences": ("==", 0),
    "pages_unbalanced_fences": ("==", 0),
    "pilcrows": ("==", 0),
    "nav_leaks": ("==", 0),
    "titles_with_site_suffix": ("==", 0),
    "duplicate_titles": ("==", 0),
    "parts_code_comment_section": ("==", 0),
    "parts_unbalanced_fences": ("==", 0),
    "part_titles_over_120": ("==", 0),
    "peak_rss_mb": ("<", 400),
}
CRAWL_SETTINGS = {
    "AUTOTHROTTLE_ENABLED": "False",
    "LOG_LEVEL": "INFO",
    "CONCURRENT_REQUESTS_PER_DOMAIN": "16",
    "DOWNLOAD_DELAY": "0",
    "ROBOTSTXT_OBEY": "False",
}
_STAT_RE = re.compile(r"^\s*'([^']+)': (\d+(?:\.\d+)?),?$", re.M)
_COUNTER_RE = re.compile(r"\s*\((\d+(?:\.\d+)?)/(\d+)\)$")


def log(msg: str) -> None:
    print(f"[fidelity {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class SetupError(Exception):
    """The benchmark cannot run here (a package missing and not installable)."""


def ensure_corpus(corpus: Corpus, *, install: bool) -> Path:
    """The corpus's site folder, installing its Debian package with apt-get when allowed."""
    root = corpus.root()
    if root is not None:
        return root
    apt = shutil.which("apt-get")
    if install and apt and os.geteuid() == 0:
        log(f"{corpus.name}: installing {corpus.package} (apt-get)")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        proc = subprocess.run(
            [apt, "install", "-y", "-q", "--no-install-recommends", corpus.package],
            env=env,
            capture_output=True,
            text=True,
        )
        root = corpus.root()
        if root is not None:
            return root
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise SetupError(f"{corpus.name}: apt-get install {corpus.package} failed: {tail}")
    raise SetupError(
        f"{corpus.name}: its pages are not installed; run `apt-get install {corpus.package}`"
        " as root (or run this benchmark as root to install it)"
    )


def stage(corpus: Corpus, root: Path, pages: list[str], docroot: Path, base: str) -> None:
    """Copy ``pages`` under ``docroot`` and write a sitemap listing exactly them."""
    for rel in pages:
        target = docroot / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / rel, target)
    urls = "".join(f"<url><loc>{escape(f'{base}/{rel}')}</loc></url>\n" for rel in pages)
    (docroot / "sitemap.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n' + urls + "</urlset>\n",
        encoding="utf-8",
    )
    (docroot / "robots.txt").write_text(f"Sitemap: {base}/sitemap.xml\n", encoding="utf-8")


def parse_stats(stderr: str) -> dict[str, float]:
    """Numeric stats of the final 'Dumping Scrapy stats' block of a crawl's log."""
    marker = "Dumping Scrapy stats:"
    if marker not in stderr:
        return {}
    block = stderr.rsplit(marker, 1)[1].split("\n}", 1)[0]
    return {k: float(v) if "." in v else int(v) for k, v in _STAT_RE.findall(block)}


def warm_up_cpu() -> float:
    """CPU seconds an extraction worker spends before its first page (start, imports, profiles).

    Measured on a process doing only :func:`crawler.extract.worker.warm_up`, so the benchmark can
    report the cost of extraction itself on corpora of a few dozen pages.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    code = "from crawler.extract.worker import warm_up; warm_up()"
    subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def crawl(
    corpus: Corpus, base: str, workdir: Path, timeout: float, warm_up: float
) -> dict[str, Any]:
    """One real ``scrapy crawl site`` of the staged corpus, measured (CPU, RSS, wall)."""
    site = {
        "name": f"fidelity-{corpus.name}",
        "sitemap_urls": [f"{base}/sitemap.xml"],
        "follow_links": False,
        "max_pages": 100000,
    }
    site_file = workdir / "site.yaml"
    site_file.write_text(yaml.safe_dump(site, sort_keys=False), encoding="utf-8")
    env = crawl_env(workdir)
    cmd = [sys.executable, "-m", "scrapy", "crawl", "site", "-a", f"config={site_file}"]
    for key, value in CRAWL_SETTINGS.items():
        cmd += ["-s", f"{key}={value}"]
    t0 = time.monotonic()
    with open(workdir / "stdout.log", "wb") as out, open(workdir / "stderr.log", "wb") as err:
        proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=out, stderr=err)
        sampler = TreeSampler(proc.pid).start()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            log(f"{corpus.name}: crawl stopped after {timeout:.0f} s; scoring what it made")
            proc.kill()  # its workers exit with it
            proc.wait()
        finally:
            sampler.stop()
    wall = time.monotonic() - t0
    stderr = (workdir / "stderr.log").read_text(errors="replace")
    result = CrawlResult(proc.returncode, "", stderr, workdir / "outbox", workdir / "state")
    stats = parse_stats(stderr)
    workers = {pid: c for pid, c in sampler.cpu_by_pid.items() if pid != proc.pid}
    worker_cpu = sum(workers.values())
    # the workers' start-up, not page work: every process that did at least half of it did it
    started = sum(c >= warm_up / 2 for c in workers.values())
    extraction_cpu = max(0.0, worker_cpu - started * warm_up)
    pages = int(stats.get("extract/pages", 0))
    return {
        "returncode": proc.returncode,
        "wall_s": round(wall, 1),
        "pages_extracted": pages,
        "worker_cpu_s": round(worker_cpu, 2),
        "worker_cpu_by_process_s": sorted(round(c, 2) for c in workers.values()),
        "main_cpu_s": round(sampler.cpu_by_pid.get(proc.pid, 0.0), 2),
        "warm_up_cpu_s": round(warm_up, 2),
        "cpu_ms_per_page": round(1000 * extraction_cpu / pages, 1) if pages else None,
        "cpu_ms_per_page_with_start": round(1000 * worker_cpu / pages, 1) if pages else None,
        "peak_rss_mb": round(sampler.peak_rss_mb, 1),
        "peak_pss_mb": round(sampler.peak_pss_mb, 1),
        # each process's own peak: the crawler's, then the workers' (highest first)
        "peak_rss_crawler_mb": round(sampler.peak_rss_by_pid.get(proc.pid, 0.0), 1),
        "peak_rss_workers_mb": sorted(
            (round(v, 1) for pid, v in sampler.peak_rss_by_pid.items() if pid != proc.pid),
            reverse=True,
        ),
        "stats": {k: v for k, v in stats.items() if k.startswith(("extract/", "kb/", "item_"))},
        "documents": result.documents(site["name"]),
        "log_tail": stderr[-2000:] if proc.returncode else "",
    }


def group_documents(docs: list[dict[str, Any]], base: str) -> dict[str, list[dict[str, Any]]]:
    """Documents by the relative path of the page they came from."""
    out: dict[str, list[dict[str, Any]]] = {}
    for doc in docs:
        url = (doc.get("metadata") or {}).get("source_url") or doc.get("url") or ""
        url = urldefrag(url).url
        rel = url[len(base) + 1 :] if url.startswith(base + "/") else url
        out.setdefault(rel, []).append(doc)
    return out


def page_title(docs: list[dict[str, Any]]) -> str:
    """The page's own title: a single document's, or a part's without section and counter."""
    if len(docs) == 1 and "part" not in (docs[0].get("metadata") or {}):
        return docs[0].get("title") or ""
    first = min(docs, key=lambda d: int((d.get("metadata") or {}).get("part", 0)))
    title = _COUNTER_RE.sub("", first.get("title") or "")
    section = (first.get("metadata") or {}).get("section") or ""
    if section and title.endswith(f" — {section}"):
        title = title[: -len(section) - 3]
    return title


def score_corpus(
    corpus: Corpus, root: Path, pages: list[str], run: dict[str, Any], base: str
) -> dict[str, Any]:
    """Every page's counts and the corpus totals."""
    by_page = group_documents(run["documents"], base)
    records: list[dict[str, Any]] = []
    totals: Counter[str] = Counter()
    kept: Counter[str] = Counter()
    min_chars = 200
    all_titles = Counter((d.get("title") or "").strip().casefold() for d in run["documents"])
    for rel in pages:
        docs = by_page.get(rel, [])
        record: dict[str, Any] = {"page": rel, "documents": len(docs)}
        records.append(record)
        if corpus.skip.search(rel):
            record["kind"] = "not knowledge"
            totals["pages_not_knowledge"] += 1
            totals["junk_documents"] += len(docs)
            continue
        try:
            tree = score.parse_html((root / rel).read_bytes())
        except (OSError, ValueError) as exc:
            record["kind"] = f"unreadable: {exc}"
            continue
        ref = score.reference(tree, corpus.region)
        if ref is None or ref.text_chars < min_chars:
            record["kind"] = "thin"
            totals["pages_thin"] += 1
            continue
        record["kind"] = "scored"
        totals["pages_scored"] += 1
        content = join_parts(docs) if docs else ""
        if not docs:
            totals["pages_without_document"] += 1
        counts = score.score_page(ref, content)
        for metric in ("words", "headings", "pre", "admonitions", "tables", "items"):
            ref_n, kept_n = counts[metric]
            totals[metric] += ref_n
            kept[metric] += kept_n
            record[metric] = [ref_n, kept_n]
        words_ref, words_kept = counts["words"]
        if words_kept < 0.9 * words_ref:
            totals["pages_words_under_90"] += 1
        for metric in ("midline_fences", "unbalanced_fences", "pilcrows", "nav_leaks"):
            record[metric] = counts[metric]
            totals[metric] += counts[metric]
            if metric.endswith("fences") and counts[metric]:
                totals[f"pages_{metric}"] += 1
        if counts["missed"]:
            record["missed"] = counts["missed"]
        if docs:
            title = page_title(docs)
            record["title"] = title
            if corpus.site_suffix.search(title):
                totals["titles_with_site_suffix"] += 1
            parts = [d for d in docs if "part" in (d.get("metadata") or {})]
            if parts:
                totals["pages_split"] += 1
                totals["parts"] += len(parts)
                record["parts"] = len(parts)
                comment = score.code_comment_sections(parts, ref)
                unbalanced = sum(not score.fences_balanced(p["content"]) for p in parts)
                long_titles = sum(len(p.get("title") or "") > 120 for p in parts)
                no_section = sum(not (p.get("metadata") or {}).get("section") for p in parts)
                totals["parts_code_comment_section"] += comment
                totals["parts_unbalanced_fences"] += unbalanced
                totals["part_titles_over_120"] += long_titles
                totals["parts_without_section"] += no_section
                if comment or unbalanced or long_titles:
                    record["split_issues"] = {
                        "code_comment_section": comment,
                        "unbalanced_fences": unbalanced,
                        "titles_over_120": long_titles,
                    }
    totals["duplicate_titles"] = sum(n for t, n in all_titles.items() if n > 1 and t)
    summary: dict[str, Any] = {
        "corpus": corpus.name,
        "package": corpus.package,
        "generator": corpus.generator,
        "pages": len(pages),
        "documents": len(run["documents"]),
    }
    for metric in ("words", "headings", "pre", "admonitions", "tables", "items"):
        summary[metric] = round(kept[metric] / totals[metric], 4) if totals[metric] else None
        summary[f"{metric}_counts"] = [totals[metric], kept[metric]]
    for key in (
        "pages_scored",
        "pages_thin",
        "pages_not_knowledge",
        "junk_documents",
        "pages_without_document",
        "pages_words_under_90",
        "pages_midline_fences",
        "pages_unbalanced_fences",
        "midline_fences",
        "unbalanced_fences",
        "pilcrows",
        "nav_leaks",
        "titles_with_site_suffix",
        "duplicate_titles",
        "pages_split",
        "parts",
        "parts_code_comment_section",
        "parts_unbalanced_fences",
        "part_titles_over_120",
        "parts_without_section",
    ):
        summary[key] = totals[key]
    for key in (
        "wall_s",
        "pages_extracted",
        "worker_cpu_s",
        "worker_cpu_by_process_s",
        "warm_up_cpu_s",
        "cpu_ms_per_page_with_start",
        "cpu_ms_per_page",
        "peak_rss_mb",
        "peak_pss_mb",
        "peak_rss_crawler_mb",
        "peak_rss_workers_mb",
    ):
        summary[key] = run[key]
    summary["returncode"] = run["returncode"]
    summary["skipped"] = {k: v for k, v in run["stats"].items() if k.startswith("extract/skip")}
    return {"summary": summary, "pages": records}


ROWS: list[tuple[str, str]] = [
    ("pages", "pages (scored / thin / not knowledge)"),
    ("documents", "documents (pages split / parts)"),
    ("words", "words kept"),
    ("pages_words_under_90", "pages keeping under 90 % of their words"),
    ("headings", "headings kept as `#` headings"),
    ("pre", "`<pre>` kept in a fence"),
    ("admonitions", "admonitions kept with their label"),
    ("tables", "tables kept as pipe tables"),
    ("items", "list items kept as list lines"),
    ("pages_midline_fences", "pages with a mid-line fence"),
    ("pages_unbalanced_fences", "pages with unbalanced fences"),
    ("pilcrows", "¶ leaks"),
    ("nav_leaks", "nav-label lines"),
    ("titles_with_site_suffix", "titles with the site suffix"),
    ("duplicate_titles", "documents sharing a title"),
    ("junk_documents", "documents from index/search pages"),
    ("pages_without_document", "scored pages with no document"),
    ("parts_code_comment_section", "parts whose section is a code comment"),
    ("parts_unbalanced_fences", "parts with unbalanced fences"),
    ("part_titles_over_120", "part titles > 120 chars"),
    ("cpu_ms_per_page", "extraction CPU ms/page (workers, start-up excluded)"),
    ("peak_rss_mb", "peak RSS of the crawl's processes, summed (MB)"),
    ("peak_pss_mb", "peak PSS of the crawl's processes, summed (MB)"),
    ("wall_s", "crawl wall time (s)"),
]


def _cell(summary: dict[str, Any], key: str) -> str:
    if key == "pages":
        counts = (summary[k] for k in ("pages_scored", "pages_thin", "pages_not_knowledge"))
        return f"{summary['pages']} ({' / '.join(map(str, counts))})"
    if key == "documents":
        return f"{summary['documents']} ({summary['pages_split']} / {summary['parts']})"
    value = summary.get(key)
    if value is None:
        return "–"
    if key in ("words", "headings", "pre", "admonitions", "tables", "items"):
        ref_n, kept_n = summary[f"{key}_counts"]
        return f"{value:.3f} ({kept_n}/{ref_n})"
    return str(value)


def table(summaries: list[dict[str, Any]]) -> str:
    """Metrics × corpora as a Markdown table, with the target of each metric."""
    head = ["metric", *(f"{s['corpus']} ({s['generator']})" for s in summaries), "target"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key, label in ROWS:
        target = TARGETS.get(key)
        goal = f"{target[0]} {target[1]}" if target else ""
        cells = [_cell(s, key) for s in summaries]
        lines.append("| " + " | ".join([label, *cells, goal]) + " |")
    return "\n".join(lines)


def compare(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> str:
    """Two runs' summaries as one Markdown table, each cell 'before → after' (corpora of
    ``after``; a corpus missing from ``before`` shows its after value alone)."""
    old = {s["corpus"]: s for s in before}
    head = ["metric", *(f"{s['corpus']} ({s['generator']})" for s in after), "target"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    rows = [*ROWS[:-1], ("peak_rss_split", "peak RSS: crawler / each worker (MB)"), ROWS[-1]]
    for key, label in rows:
        target = TARGETS.get(key)
        goal = f"{target[0]} {target[1]}" if target else ""
        cells = []
        for s in after:
            now = _split_cell(s) if key == "peak_rss_split" else _cell(s, key)
            prev = old.get(s["corpus"])
            was = None
            if prev is not None:
                was = _split_cell(prev) if key == "peak_rss_split" else _cell(prev, key)
            cells.append(now if was in (None, now, "–") else f"{was} → {now}")
        lines.append("| " + " | ".join([label, *cells, goal]) + " |")
    return "\n".join(lines)


def _split_cell(summary: dict[str, Any]) -> str:
    crawler = summary.get("peak_rss_crawler_mb")
    if crawler is None:
        return "–"
    workers = " / ".join(str(w) for w in summary.get("peak_rss_workers_mb") or ())
    return f"{crawler} / {workers}"


def run_corpus(corpus: Corpus, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    root = ensure_corpus(corpus, install=not args.no_install)
    pages = corpus.pages(root)
    if args.limit:
        # an even sample over the whole site, not just its first folder
        step = max(1, len(pages) // args.limit)
        pages = pages[::step][: args.limit]
    docroot = workdir / "site"
    log(f"{corpus.name}: {len(pages)} pages of {root} ({corpus.package})")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    stage(corpus, root, pages, docroot, base)
    (workdir / "crawl").mkdir()
    server = start_server(docroot, prefer="python", port=port)
    try:
        run = crawl(corpus, base, workdir / "crawl", args.timeout, args.warm_up)
    finally:
        server.stop()
    log(
        f"{corpus.name}: crawl exit {run['returncode']} in {run['wall_s']} s,"
        f" {run['pages_extracted']} pages extracted, {len(run['documents'])} documents"
    )
    if run["returncode"] not in (0,):
        log(f"{corpus.name}: crawl log tail:\n{run['log_tail']}")
    scored = score_corpus(corpus, root, pages, run, base)
    scored["summary"]["root"] = str(root)
    return scored


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.fidelity",
        description="Crawl real documentation sites and score the documents against each page.",
    )
    parser.add_argument("--corpus", action="append", choices=sorted(CORPORA), help="repeatable")
    parser.add_argument("--limit", type=int, default=0, help="at most N pages per corpus")
    parser.add_argument("--json", type=Path, default=REPO_ROOT / "bench-results/fidelity.json")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per crawl")
    parser.add_argument("--no-install", action="store_true", help="never run apt-get")
    parser.add_argument("--keep", action="store_true", help="keep the crawl folders (outbox)")
    parser.add_argument(
        "--compare",
        nargs=2,
        type=Path,
        metavar=("BEFORE", "AFTER"),
        help="print two runs' --json files as one 'before → after' table, crawl nothing",
    )
    args = parser.parse_args(argv)
    if args.compare:
        before, after = (json.loads(p.read_text("utf-8"))["corpora"] for p in args.compare)
        print(compare(before, after))
        return 0
    if args.limit < 0:
        parser.error("--limit must be positive")
    names = args.corpus or list(CORPORA)
    t0 = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="kbfidelity-"))
    results = []
    args.warm_up = warm_up_cpu()
    log(f"an extraction worker's start-up: {args.warm_up:.2f} s CPU")
    try:
        for name in names:
            (workdir / name).mkdir()
            results.append(run_corpus(CORPORA[name], args, workdir / name))
    except SetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        if args.keep:
            log(f"crawl folders kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    summaries = [r["summary"] for r in results]
    output = {
        "generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "argv": sys.argv[1:] if argv is None else argv,
        "commit": _commit(),
        "run_s": round(time.monotonic() - t0, 1),
        "targets": TARGETS,
        "corpora": summaries,
        "pages": {r["summary"]["corpus"]: r["pages"] for r in results},
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(dump(output), "utf-8")
    print(table(summaries))
    print(f"\n{output['run_s']} s; per-page counts in {args.json}")
    return 0 if all(s["returncode"] == 0 for s in summaries) else 1


def dump(output: dict[str, Any]) -> str:
    """The results as JSON: the summaries indented, then one line per page."""
    head = json.dumps({k: v for k, v in output.items() if k != "pages"}, indent=1)
    corpora = [
        f" {json.dumps(name)}: [\n"
        + ",\n".join("  " + json.dumps(r, ensure_ascii=False) for r in records)
        + "\n ]"
        for name, records in output.get("pages", {}).items()
    ]
    return head[:-2] + ',\n "pages": {\n' + ",\n".join(corpora) + "\n }\n}\n"


def _commit() -> str:
    proc = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True
    )
    return proc.stdout.strip()


if __name__ == "__main__":
    sys.exit(main())
