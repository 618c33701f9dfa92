"""End to end: ``scrapy crawl`` on the local test website, no token (outbox JSON Lines).

One crawl per module (it takes a few seconds); each test asserts one promise of the
discovery and extraction issue against its outbox, stats and the server's request log.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from crawler.runrecords import read_url_records
from crawler.urls import host_of
from tests.crawl_runner import CrawlResult, crawl_site, write_site
from tests.servers import site_expectations as X
from tests.servers.website import running_website

SITE = "testsite"


def _ws(text: str) -> str:
    return re.sub(r"\s+", " ", text)


@pytest.fixture(scope="module")
def crawl(tmp_path_factory: pytest.TempPathFactory) -> Any:
    tmp = tmp_path_factory.mktemp("crawl")
    with running_website(tmp) as site:
        config = write_site(
            tmp,
            SITE,
            start_urls=[site.url + "/"],
            max_depth=3,
            max_pages=200,
            metadata={"category": "documentation", "product": "harbor"},
        )
        result = crawl_site(config, tmp)
        requests = site.requests()
        yield site, result, requests


def _docs(result: CrawlResult, site: str = SITE) -> dict[str, dict[str, Any]]:
    docs = result.documents(site)
    paths = Counter(d["url"].split("/", 3)[3] for d in docs)
    dupes = [p for p, n in paths.items() if n > 1]
    assert not dupes, f"pages delivered twice: {dupes}"
    return {"/" + d["url"].split("/", 3)[3]: d for d in docs}


def test_crawl_succeeds_and_logs_the_outbox_once(crawl: Any) -> None:
    _, result, _ = crawl
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.log.count("No KB_API_TOKEN set: documents are written to") == 1
    assert "Traceback" not in result.log


def test_every_expected_page_is_delivered_once(crawl: Any) -> None:
    _, result, _ = crawl
    docs = _docs(result)
    for page in X.EXPECTED_PAGES:
        paths = [page["path"], *page["alternates"]]
        found = [p for p in paths if p in docs]
        assert len(found) == 1, f"{page['path']}: delivered as {found}"
        content = _ws(docs[found[0]]["content"])
        assert _ws(page["must_contain"]) in content, page["path"]


def test_sitemap_only_and_link_only_pages_are_found(crawl: Any) -> None:
    _, result, _ = crawl
    docs = _docs(result)
    assert X.SITEMAP_ONLY and all(p in docs for p in X.SITEMAP_ONLY)
    assert X.LINKS_ONLY
    for path in X.LINKS_ONLY:
        group = next(p for p in X.EXPECTED_PAGES if p["path"] == path)
        assert any(p in docs for p in [path, *group["alternates"]]), path


def test_boilerplate_never_leaks(crawl: Any) -> None:
    _, result, _ = crawl
    for doc in result.documents(SITE):
        for phrase in X.BOILERPLATE_PHRASES:
            assert phrase not in doc["content"], (doc["url"], phrase)


def test_not_delivered_pages(crawl: Any) -> None:
    _, result, _ = crawl
    docs = _docs(result)
    for path in X.NOT_DELIVERED:
        assert path not in docs, path
    everything = " ".join(_ws(d["content"]) for d in docs.values())
    for path, phrase in X.NEVER_DELIVERED_PHRASES.items():
        assert _ws(phrase) not in everything, path
    assert result.stat("skipped/thin") >= 1
    assert result.stat("skipped/noindex") >= 2
    assert result.stat("skipped/canonical") >= 1


def test_every_url_not_delivered_has_its_reason(crawl: Any) -> None:
    site, result, _ = crawl
    (report,) = result.reports(SITE)
    records = list(read_url_records(report["url_records"]))
    by_url = {r["url"]: r for r in records}
    assert len(by_url) == len(records), "a URL has two records"
    for path, (reason, detail) in X.RECORD_REASONS.items():
        record = by_url.get(site.url + path)
        assert record is not None, path
        assert record["reason"] == reason, (path, record)
        if detail is not None:
            assert record["detail"] in (detail, site.url + detail), (path, record)
    for url in X.OFFSITE_LINKS:
        assert by_url[url]["reason"] == "offsite" and by_url[url]["referer"].startswith(site.url)
    assert "/en/only-via-nofollow.html" not in {u.removeprefix(site.url) for u in by_url}
    # one of the FAQ twins is a duplicate of the other
    faq = [by_url.get(site.url + p) for p in X.EXACTLY_ONE_DELIVERED[0]]
    assert [r["reason"] for r in faq if r] == ["duplicate"]
    # the calendar trap stops at max_depth: what lies beyond is recorded as such
    assert any(r["reason"] == "depth" and "/calendar/" in r["url"] for r in records)
    # nothing delivered has a record
    delivered = {d["url"] for d in result.documents(SITE)}
    assert not delivered & set(by_url)
    # the report's and the stats' counts are the file's
    counts = Counter(r["reason"] for r in records)
    assert report["skipped"] == dict(counts) and not report["skipped_unlisted"]
    for reason, n in counts.items():
        assert result.stat(f"skipped/{reason}") == n, reason


def test_structure_is_kept_as_markdown(crawl: Any) -> None:
    _, result, _ = crawl
    guide = _docs(result)["/en/guide.html"]["content"]
    assert re.search(r"^## Installing Harbor$", guide, re.M)
    assert re.search(r"^- At least 512 MB", guide, re.M)
    assert re.search(r"^\| Platform \| Package", guide, re.M)
    assert "```" in guide and "[folder.notes]" in guide


def test_titles_metadata_and_languages(crawl: Any) -> None:
    _, result, _ = crawl
    docs = _docs(result)
    for path, doc in docs.items():
        meta = doc["metadata"]
        assert doc["title"].strip(), path
        assert not doc["title"].endswith(X.TITLE_SUFFIX), path
        assert meta["site"] == SITE
        assert meta["source_url"] == doc["url"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", meta["crawled_at"])
        assert meta["category"] == "documentation" and meta["product"] == "harbor"
        assert all(isinstance(v, str | int | float | bool) for v in meta.values())
        assert len(doc["content"]) <= 20000
    for page in X.EXPECTED_PAGES:
        if page["path"] in docs:
            assert docs[page["path"]]["metadata"]["language"] == page["language"], page["path"]
            if page["path"] in X.TITLES:
                assert docs[page["path"]]["title"] == X.TITLES[page["path"]]
    for path, author in X.AUTHORS.items():
        if path in docs:
            assert docs[path]["metadata"]["author"] == author
    langs = {d["metadata"]["language"] for d in docs.values()}
    assert {"en", "fr", "de", "es", "it", "pt", "nl", "ja"} <= langs
    assert "lastmod" in docs["/en/release-notes.html"]["metadata"]  # from the gzipped sitemap


def test_encodings_come_out_as_unicode(crawl: Any) -> None:
    _, result, _ = crawl
    docs = _docs(result)
    assert "é" in docs["/fr/encodage.html"]["content"]
    pricing = docs["/en/pricing.html"]["content"]
    assert "€" in pricing and ("“" in pricing or "”" in pricing)
    assert "\ufeff" not in docs["/en/unicode-filenames.html"]["content"]
    for doc in docs.values():
        assert "\ufffd" not in doc["content"], doc["url"]


def test_polite_and_on_site_requests_only(crawl: Any) -> None:
    _site, _result, requests = crawl
    paths = [r["path"] for r in requests]
    for path in X.NEVER_REQUESTED:
        assert path not in paths, path
    assert not [r for r in requests if r["host"].startswith(X.OFFSITE_LISTENER_HOST)]
    assert requests and all(r["user_agent"].startswith("kbcrawler/") for r in requests)
    assert "/robots.txt" in paths
    # tracking-parameter variants collapse into one request of the guide
    guide_requests = [p for p in paths if p.startswith("/en/guide.html")]
    assert guide_requests == ["/en/guide.html"], guide_requests


def test_calendar_trap_is_bounded(crawl: Any) -> None:
    _, _, requests = crawl
    calendar = [r for r in requests if r["path"].startswith(X.CALENDAR_PREFIX)]
    assert 0 < len(calendar) <= 10


def test_noindex_links_followed_but_not_nofollow(crawl: Any) -> None:
    _, _result, requests = crawl
    paths = {r["path"] for r in requests}
    assert "/en/only-via-noindex.html" in paths
    assert "/en/only-via-nofollow.html" not in paths


def test_redirect_chain_and_offsite_redirect(crawl: Any) -> None:
    _site, _result, requests = crawl
    paths = [r["path"] for r in requests]
    assert "/old-guide" in paths and "/moved-guide" in paths
    assert not [r for r in requests if r["host"].startswith("127.0.0.2")]


def test_max_pages_is_a_hard_cap(tmp_path: Path) -> None:
    with running_website(tmp_path) as site:
        config = write_site(tmp_path, "capped", start_urls=[site.url + "/"], max_pages=5)
        result = crawl_site(config, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stat("extract/pages") == 5
    assert len(result.documents("capped")) <= 5


def test_allow_deny_and_follow_links(tmp_path: Path) -> None:
    with running_website(tmp_path) as site:
        config = write_site(
            tmp_path,
            "rules",
            start_urls=[site.url + "/"],
            sitemap_urls=[site.url + X.SITEMAP_INDEX],
            allow=[r"/en/", r"/$"],
            deny=[r"/en/faq"],
            follow_links=False,
        )
        result = crawl_site(config, tmp_path)
        requests = site.requests()
    assert result.returncode == 0, result.stderr[-2000:]
    docs = _docs(result, "rules")
    assert docs, result.stderr[-2000:]
    assert all(p == "/" or p.startswith("/en/") for p in docs), sorted(docs)
    assert not any(p.startswith("/en/faq") for p in docs)
    # links are not followed: the links-only page is never requested
    assert "/en/advanced.html" not in {r["path"] for r in requests}
    assert "/en/release-notes.html" in docs  # found through the sitemap index (.gz child)


def test_big_page_is_split_in_the_outbox(tmp_path: Path) -> None:
    with running_website(tmp_path) as site:
        config = write_site(
            tmp_path,
            "big",
            start_urls=[site.url + X.BIG_PAGE.format(kb=200)],
            follow_links=False,
            max_document_chars=5000,
        )
        result = crawl_site(config, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    docs = [d for d in result.documents("big") if "/big.html" in d["url"]]
    assert len(docs) > 3
    assert all(len(d["content"]) <= 5000 for d in docs)
    assert len({d["title"] for d in docs}) == len(docs)
    assert [d["metadata"]["part"] for d in docs] == list(range(1, len(docs) + 1))
    assert {d["metadata"]["parts"] for d in docs} == {len(docs)}
    # split in the extraction worker, then given the page's metadata by the pipeline
    assert result.stat("kb/pages_split_by_worker") == result.stat("kb/pages_split") == 1
    assert all(d["metadata"]["site"] == "big" and d["metadata"]["language"] for d in docs)


def test_many_links_page_is_bounded(tmp_path: Path) -> None:
    with running_website(tmp_path) as site:
        config = write_site(
            tmp_path,
            "links",
            start_urls=[site.url + X.MANY_LINKS.format(n=50000)],
            max_depth=1,
            max_pages=30,
        )
        result = crawl_site(config, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stat("extract/pages") <= 30
    assert result.stat("discovery/links_over_limit") >= 45000  # links per page are capped
    assert result.stat("memusage/max") < 400 * 2**20


def test_robots_crawl_delay_is_honoured(tmp_path: Path) -> None:
    """robots.txt gives `politebot` a Crawl-delay of 1 s; requests must be spaced by it."""
    with running_website(tmp_path) as site:
        config = write_site(
            tmp_path,
            "polite",
            start_urls=[site.url + "/"],
            sitemap_urls=[site.url + X.SITEMAP_PAGES],
            follow_links=False,
            max_pages=4,
            user_agent="politebot/1.0 (+https://example.com/bot)",
        )
        result = crawl_site(config, tmp_path, settings={"AUTOTHROTTLE_ENABLED": "True"})
        requests = [r for r in site.requests() if r["path"] != "/robots.txt"]
    assert result.returncode == 0, result.stderr[-2000:]
    assert requests and all(r["user_agent"].startswith("politebot/") for r in requests)
    times = sorted(r["time"] for r in requests)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    host = host_of(site.url)
    assert float(result.stat(f"robotstxt/crawl_delay/{host}")) == 1.0
    # Scrapy spaces the request *starts* by the delay; arrivals at the server jitter with
    # load, so judge the spacing over the run, and only rule out two requests at once.
    assert len(gaps) >= 3 and sum(gaps) / len(gaps) >= 0.95 and min(gaps) >= 0.5, gaps


def test_hostile_inputs_keep_memory_bounded(tmp_path: Path) -> None:
    """A gzip sitemap inflating to 300 MB and a 10 MB page: skipped, bounded, crawl goes on."""
    with running_website(tmp_path) as site:
        config = write_site(
            tmp_path,
            "hostile",
            sitemap_urls=[site.url + "/bomb-sitemap.xml.gz?mb=300"],
            start_urls=[site.url + X.BIG_PAGE.format(kb=10240), site.url + "/en/guide.html"],
            follow_links=False,
        )
        result = crawl_site(config, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert result.stat("sitemap/too_large") == 1
    assert result.stat("memusage/max") < 400 * 2**20
    urls = {d["url"] for d in result.documents("hostile")}
    assert site.url + "/en/guide.html" in urls  # the rest of the crawl is unharmed
    assert not any("big.html" in u for u in urls)  # over DOWNLOAD_MAXSIZE: not downloaded
    (report,) = result.reports("hostile")
    reasons = {r["url"]: r["reason"] for r in read_url_records(report["url_records"])}
    assert reasons[site.url + X.BIG_PAGE.format(kb=10240)] == "too_large"


def test_allowed_domains_is_scrapys_offsite_rule_and_its_drops_are_recorded(
    tmp_path: Path,
) -> None:
    """A start URL on a host allowed_domains leaves out: Scrapy's OffsiteMiddleware drops
    it when it is scheduled (no errback runs), and the run records it as offsite."""
    with running_website(tmp_path) as site:
        outside = site.offsite_url + "/en/faq.html"
        config = write_site(
            tmp_path,
            "hosts",
            start_urls=[site.url + "/en/guide.html", outside],
            allowed_domains=["127.0.0.1"],
            follow_links=False,
        )
        result = crawl_site(config, tmp_path)
        requests = site.requests()
    assert result.returncode == 0, result.stderr[-3000:]
    assert not [r for r in requests if r["host"].startswith("127.0.0.2")]
    assert result.stat("offsite/filtered") >= 1  # Scrapy's own middleware dropped it
    (report,) = result.reports("hosts")
    records = {r["url"]: r for r in read_url_records(report["url_records"])}
    assert records[outside]["reason"] == "offsite"
    delivered = {d["url"] for d in result.documents("hosts")}
    assert site.url + "/en/guide.html" in delivered
    assert not [url for url in delivered if url.startswith(site.offsite_url)]
