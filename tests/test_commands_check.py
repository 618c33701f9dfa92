"""``scrapy kb-check``: site files checked as at crawl start; ``--live`` on the test website."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

from tests.crawl_runner import run_scrapy, write_site
from tests.servers.website import running_website


def test_good_and_bad_site_files(tmp_path: Path) -> None:
    good = write_site(tmp_path, "good", start_urls=["https://docs.example.com/"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("start_urls: [https://a.org/]\nmax_pages: -3\n", encoding="utf-8")
    result = run_scrapy(["kb-check", str(good)], tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"good: ok ({good})" in result.stdout
    result = run_scrapy(["kb-check", str(good), str(bad)], tmp_path)
    assert result.returncode == 2
    assert "good: ok" in result.stdout
    # The same line as `scrapy crawl` prints at start.
    crawl = run_scrapy(["crawl", "site", "-a", f"config={bad}"], tmp_path)
    line = next(ln for ln in crawl.stderr.splitlines() if "kbcrawler: bad site file" in ln)
    assert line in result.stderr.splitlines()
    assert "Traceback" not in result.stderr


def test_all_packaged_sites_and_unknown_names(tmp_path: Path) -> None:
    result = run_scrapy(["kb-check", "--all"], tmp_path)
    assert result.returncode == 0 and "books: ok (settings/sites/books.yaml)" in result.stdout
    result = run_scrapy(["kb-check", "nosuch"], tmp_path)
    assert result.returncode == 2 and "kbcrawler: no site named 'nosuch'" in result.stderr


def test_live_reads_robots_and_sitemaps_politely_and_estimates_a_run(tmp_path: Path) -> None:
    with running_website(tmp_path, gen_pages=40) as site:
        config = write_site(
            tmp_path, "live", start_urls=[site.url + "/", site.url + "/private/x.html"],
            allow=["/gen/"], download_delay=0.2,
        )  # fmt: skip
        settings = {"KB_MAX_BATCH_DOCS": "10", "KB_IMPORT_RATE_PER_MIN": "2"}
        result = run_scrapy(["kb-check", str(config), "--live"], tmp_path, settings=settings)
        requests = site.requests()
    out = result.stdout
    assert "live: ok" in out
    assert f"allowed    {site.url}/" in out
    assert f"DISALLOWED {site.url}/private/x.html" in out
    # robots.txt disallows a start URL: the check fails (1), it is not a bad file (2).
    assert result.returncode == 1 and "PROBLEM: robots.txt disallows the start URL" in out
    counts = re.search(r"sitemaps: (\d+) read, (\d+) URLs listed, (\d+) kept by the rules", out)
    assert counts, out
    read, listed, kept = map(int, counts.groups())
    assert read == 4  # the index, pages, blog (gzip) and gen sitemaps
    assert kept == 40 and listed > kept
    assert len(re.findall(r"kept: +http://\S+/gen/\d+\.html", out)) == 5
    assert re.search(r"dropped: +http://\S+/(en|fr|de|blog)/", out)
    # 40 pages (the start URL is outside allow), 10 per request, 2 requests a minute.
    assert "estimate of a full run: 40 pages (more through links), at least 40 documents" in out
    assert "4 import requests, 2 min at 2 requests/min" in out
    # Politeness: only robots.txt and sitemaps, never a page, and 0.2 s between requests.
    paths = [r["path"] for r in requests if r["host"] == site.netloc]
    assert paths[0] == "/robots.txt"
    assert all(p == "/robots.txt" or "sitemap" in p for p in paths), paths
    times = [r["time"] for r in requests if r["host"] == site.netloc]
    assert all(b - a >= 0.19 for a, b in itertools.pairwise(times)), times


def test_live_site_without_robots_txt_is_not_a_problem(tmp_path: Path) -> None:
    """No robots.txt (404) means everything allowed and no sitemap: exit 0, one request,
    and ``site -a config=PATH`` is accepted as by crawl."""
    with running_website(tmp_path, robots="missing") as site:
        config = write_site(tmp_path, "plain", start_urls=[site.url + "/"], follow_links=True)
        result = run_scrapy(["kb-check", "site", "-a", f"config={config}", "--live"], tmp_path)
        requests = site.requests()
    out = result.stdout
    assert result.returncode == 0, (out, result.stderr)
    assert "PROBLEM" not in out and "plain: ok" in out
    assert "robots.txt: HTTP 404 (all allowed)" in out
    assert "no sitemap found" in out and "(1 requests made)" in out
    assert [r["path"] for r in requests] == ["/robots.txt"]
    result = run_scrapy(["kb-check", "books", "-a", f"config={config}"], tmp_path)
    assert result.returncode == 2 and "goes with the site 'site'" in result.stderr
