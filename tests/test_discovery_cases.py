"""End to end: real-web discovery traps (issue 12) on the test website's /cases/ pages.

``scrapy crawl`` in a subprocess, no token; assertions on the delivered URLs, and for the
pages not delivered on the reason in the run's per-URL records (crawler/runrecords.py).
The cases are copies of /work/shared/cases/ 03, 17, 20, 21 and 23 on the project's server.
"""

from __future__ import annotations

import re
import socket
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from crawler.runrecords import read_url_records
from tests.crawl_runner import CrawlResult, crawl_site, write_site
from tests.servers import site_expectations as X
from tests.servers.website import running_website

SITE = "cases"


def _delivered(result: CrawlResult, site: str, base: str) -> list[str]:
    return sorted(d["url"].removeprefix(base) for d in result.documents(site))


def _records(result: CrawlResult, site: str, base: str) -> dict[str, dict[str, Any]]:
    (report,) = result.reports(site)
    records = {}
    for record in read_url_records(report["url_records"]):
        records[record["url"].removeprefix(base)] = record
    return records


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> Any:
    tmp = tmp_path_factory.mktemp("cases")
    with running_website(tmp) as site:
        config = write_site(
            tmp,
            SITE,
            start_urls=[
                site.url + path
                for path in (
                    "/cases/xhtml/a.html",
                    "/cases/robots-tags/",
                    "/cases/blog/",
                    "/cases/canon/",
                    "/cases/stub/link.html",
                )
            ],
            allow=["/cases/"],  # the rest of the site (found through robots.txt) is denied
            max_depth=2,
        )
        result = crawl_site(config, tmp)
        yield site, result, site.requested_paths()


def test_cases_crawl_is_clean(cases: Any) -> None:
    _, result, _ = cases
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert not result.stat("discovery/parse_error")


def test_links_of_a_page_with_an_xml_declaration_are_followed(cases: Any) -> None:
    """Case 23: lxml refuses a str with an XML declaration; the bytes parse finds the link."""
    site, result, requests = cases
    docs = _delivered(result, SITE, site.url)
    assert "/cases/xhtml/b.html" in requests
    assert {"/cases/xhtml/a.html", "/cases/xhtml/b.html"} <= set(docs)


def test_robots_directives_by_the_standard(cases: Any) -> None:
    """Case 17: whole tokens, bot-scoped rules, several headers, meta named after our bot."""
    site, result, _ = cases
    docs = set(_delivered(result, SITE, site.url))
    records = _records(result, SITE, site.url)
    for page in ("", "a.html", "b.html", "f.html"):
        assert f"/cases/robots-tags/{page}" in docs, page
    for page in ("c.html", "d.html", "e.html"):
        path = f"/cases/robots-tags/{page}"
        assert path not in docs, page
        assert records[path]["reason"] == "noindex", records.get(path)


def test_canonical_that_redirects_back_is_delivered_once(cases: Any) -> None:
    """Case 20: canonical /post1 answers 308 to /post1/: the post is delivered, once."""
    site, result, _ = cases
    docs = _delivered(result, SITE, site.url)
    posts = [d for d in docs if d.startswith("/cases/blog/post1")]
    assert len(posts) == 1, docs
    assert "/cases/blog/" in docs
    records = _records(result, SITE, site.url)
    assert records["/cases/blog/post1"]["reason"] == "redirect"
    assert result.stat("discovery/canonical_fallback") >= 1


def test_canonical_that_gives_nothing_leaves_the_page_delivered(cases: Any) -> None:
    """A canonical that answers 404, or that robots.txt disallows: the page itself."""
    site, result, requests = cases
    docs = set(_delivered(result, SITE, site.url))
    assert {"/cases/canon/to-404.html", "/cases/canon/to-private.html"} <= docs
    records = _records(result, SITE, site.url)
    assert records["/cases/canon/missing.html"]["reason"] == "http_404"
    assert records["/cases/private/to-private.html"]["reason"] == "robots"
    assert "/cases/private/to-private.html" not in requests


def test_noscript_meta_refresh_is_followed_and_the_stub_is_no_document(cases: Any) -> None:
    """Case 21: the stub redirects through <noscript><meta http-equiv=refresh>."""
    site, result, _ = cases
    docs = _delivered(result, SITE, site.url)
    assert "/cases/stub/manual.html" in docs
    assert "/cases/stub/link.html" not in docs
    record = _records(result, SITE, site.url)["/cases/stub/link.html"]
    assert record["reason"] == "redirect"
    assert record["detail"] == site.url + "/cases/stub/manual.html"


def test_every_requested_case_url_is_delivered_or_recorded(cases: Any) -> None:
    site, result, requests = cases
    docs = set(_delivered(result, SITE, site.url))
    records = _records(result, SITE, site.url)
    for path in requests:
        if path.startswith("/cases/"):
            assert path in docs or path in records, path
    assert not docs & set(records)
    # the site outside /cases/, listed in the sitemaps, is refused by the allow rule
    assert records["/en/guide.html"]["reason"] == "denied"


@pytest.mark.parametrize("robots", ["bom-sitemap-first", "utf16-cr"])
def test_robots_txt_sitemap_in_real_encodings(tmp_path: Path, robots: str) -> None:
    """Case 03: robots.txt with a BOM and Sitemap: first (or UTF-16, CR, spaces)."""
    with running_website(tmp_path, robots=robots) as site:
        config = write_site(tmp_path, "bom", start_urls=[site.url + "/"], follow_links=False)
        result = crawl_site(config, tmp_path)
        requests = site.requested_paths()
    assert result.returncode == 0, result.stderr[-3000:]
    docs = _delivered(result, "bom", site.url)
    assert X.SITEMAP_INDEX in requests
    for path in X.SITEMAP_ONLY:
        assert path in docs, (path, docs)
    for path in X.NEVER_REQUESTED:  # the rules survive the encoding too
        assert path not in requests


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _no_content_run(tmp_path: Path, base: str, **keys: Any) -> CrawlResult:
    config = write_site(tmp_path, "nothing", **keys)
    result = crawl_site(config, tmp_path, settings={"RETRY_TIMES": "0"})
    assert result.returncode == 8, result.stderr[-3000:]
    (report,) = result.reports("nothing")
    assert report["complete"] is False and report["failed"] == "no_content", report
    lines = [line for line in result.stderr.splitlines() if "(exit status 8)" in line]
    assert len(lines) == 1, result.stderr[-3000:]
    return result


def test_unreachable_site_exits_8(tmp_path: Path) -> None:
    base = f"http://127.0.0.1:{_free_port()}"
    result = _no_content_run(tmp_path, base, start_urls=[base + "/"])
    line = next(x for x in result.stderr.splitlines() if "(exit status 8)" in x)
    assert f"the site is unreachable ({base}/: Connection was refused" in line, line
    assert _records(result, "nothing", base)["/"]["reason"] == "connection"
    assert "Traceback" not in result.stderr


def test_everything_disallowed_exits_8(tmp_path: Path) -> None:
    with running_website(tmp_path, robots="disallow-all") as site:
        result = _no_content_run(tmp_path, site.url, start_urls=[site.url + "/"])
        requests = site.requested_paths()
    assert requests and set(requests) == {"/robots.txt"}
    assert "everything is disallowed by robots.txt" in result.stderr
    assert _records(result, "nothing", site.url)["/"]["reason"] == "robots"


def test_every_start_url_404_exits_8(tmp_path: Path) -> None:
    with running_website(tmp_path) as site:
        result = _no_content_run(
            tmp_path,
            site.url,
            start_urls=[site.url + p for p in ("/missing-page.html", "/nothing/here.html")],
            sitemap_urls=[site.url + "/no-sitemap.xml"],
        )
    assert "every page requested answered an HTTP error (2 x HTTP 404)" in result.stderr
    records = _records(result, "nothing", site.url)
    assert records["/missing-page.html"]["reason"] == "http_404"
    assert records["/no-sitemap.xml"] == records["/no-sitemap.xml"] | {"what": "sitemap"}


def test_everything_skipped_exits_8(tmp_path: Path) -> None:
    with running_website(tmp_path) as site:
        result = _no_content_run(
            tmp_path,
            site.url,
            start_urls=[site.url + p for p in X.THIN_PAGES + X.NOINDEX_PAGES],
            sitemap_urls=[site.url + "/no-sitemap.xml"],
            follow_links=False,
        )
    assert "every page was skipped (noindex 2, thin 1; see the url records)" in result.stderr


def test_pages_cut_by_max_pages_are_recorded_and_lines_bounded(tmp_path: Path) -> None:
    with running_website(tmp_path) as site:
        config = write_site(tmp_path, "capped", start_urls=[site.url + "/"], max_pages=3)
        result = crawl_site(config, tmp_path, settings={"KB_URL_RECORDS_PER_REASON": "2"})
    assert result.returncode == 0, result.stderr[-3000:]
    (report,) = result.reports("capped")
    lines = list(read_url_records(report["url_records"]))
    per_reason = Counter(r["reason"] for r in lines)
    assert per_reason["max_pages"] == 2 and max(per_reason.values()) <= 2, per_reason
    assert report["skipped_unlisted"]["max_pages"] >= 1
    for reason, n in report["skipped"].items():
        assert n == per_reason[reason] + report["skipped_unlisted"].get(reason, 0), reason
        assert result.stat(f"skipped/{reason}") == n, reason
    capped = [r for r in lines if r["reason"] == "max_pages"]
    assert all(r["referer"] and r["referer"].startswith(site.url) for r in capped), capped
    # The log's count is the records' count (in-flight pages cut at parse included).
    logged = re.search(r"(\d+) page\(s\) not crawled \(max_pages", result.log)
    assert logged and int(logged.group(1)) == report["skipped"]["max_pages"], result.log[-2000:]


@pytest.mark.parametrize(
    ("robots", "named"), [("default", False), ("missing", False), ("default", True)]
)
def test_robots_txt_fetched_once_per_run(tmp_path: Path, robots: str, named: bool) -> None:
    """Scrapy's RobotsTxtMiddleware fetches robots.txt; the spider reads its Sitemap lines
    from that parse instead of a second request (200 with sitemaps, or 404; also when the
    site file names robots.txt in sitemap_urls)."""
    with running_website(tmp_path, robots=robots) as site:
        keys: dict[str, Any] = {"sitemap_urls": [site.url + "/robots.txt"]} if named else {}
        config = write_site(
            tmp_path, "once", start_urls=[site.url + "/"], follow_links=True, **keys
        )
        result = crawl_site(config, tmp_path)
        requests = site.requested_paths()
    assert result.returncode == 0, result.stderr[-3000:]
    assert requests.count("/robots.txt") == 1, requests
    assert (X.SITEMAP_INDEX in requests) == (robots == "default")


def test_unreachable_site_one_robots_txt_attempt_chain(tmp_path: Path) -> None:
    base = f"http://127.0.0.1:{_free_port()}"
    config = write_site(tmp_path, "gone", start_urls=[base + "/"])
    result = crawl_site(config, tmp_path, settings={"RETRY_TIMES": "2"})
    assert result.returncode == 8, result.stderr[-3000:]
    gave_up = [ln for ln in result.stderr.splitlines() if "Gave up retrying" in ln]
    assert len([ln for ln in gave_up if "/robots.txt" in ln]) == 1, gave_up
