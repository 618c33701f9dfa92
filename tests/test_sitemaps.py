"""SiteSpider.parse_sitemap as a SitemapSpider: Scrapy's ``sitemap_filter`` hook honoured,
our records for what Scrapy's own sitemap reading would drop silently. Built with Scrapy's
``get_crawler`` and real responses; nothing is downloaded (the crawls of
tests/test_crawl_site.py read the same sitemaps over HTTP)."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

from scrapy.http import Response, XmlResponse
from scrapy.utils.test import get_crawler

import settings as project_settings
from crawler.spiders.site import SiteSpider
from tests.crawl_runner import write_site

BASE = "https://docs.example.com"


def _urlset(*paths: str, lastmod: str = "2024-05-01") -> bytes:
    entries = "".join(f"<url><loc>{BASE}{p}</loc><lastmod>{lastmod}</lastmod></url>" for p in paths)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</urlset>'
    ).encode()


def _spider(tmp_path: Path, cls: type[SiteSpider] = SiteSpider, **settings: Any) -> SiteSpider:
    config = write_site(tmp_path, "maps", start_urls=[BASE + "/"])
    values = {k: getattr(project_settings, k) for k in dir(project_settings) if k.isupper()}
    crawler = get_crawler(cls, {**values, **settings})
    spider = cls.from_crawler(crawler, config=str(config))
    crawler.stats.open_spider()
    return spider


def _parse(
    spider: SiteSpider, url: str, body: bytes, cls: type[Response] = XmlResponse
) -> list[Any]:
    """The requests parse_sitemap yields for ``body`` answered to the spider's request."""
    response = cls(url, body=body, request=spider.sitemap_request(url))
    return list(spider.parse_sitemap(response))


def test_a_subclass_sitemap_filter_is_honoured(tmp_path: Path) -> None:
    class Guides(SiteSpider):
        name = "guides"

        def sitemap_filter(self, entries):
            return (e for e in entries if "/guide/" in e["loc"])

    url = BASE + "/sitemap.xml"
    body = _urlset("/guide/a.html", "/blog/b.html", "/guide/c.html")
    requests = _parse(_spider(tmp_path, Guides), url, body)
    assert [r.url for r in requests] == [BASE + "/guide/a.html", BASE + "/guide/c.html"]
    assert all(r.meta["kb_lastmod"] == "2024-05-01" and r.meta["kb_page"] for r in requests)


def test_a_sitemap_that_inflates_past_download_maxsize_is_counted(tmp_path: Path) -> None:
    spider = _spider(tmp_path, DOWNLOAD_MAXSIZE=100_000)
    bomb = gzip.compress(_urlset("/a.html") + b" " * 5_000_000)
    assert _parse(spider, BASE + "/big.xml.gz?v=1", bomb, Response) == []
    assert spider.crawler.stats.get_value("sitemap/too_large") == 1
    small = gzip.compress(_urlset("/a.html"))  # within the limit, at a URL without .xml
    assert [r.url for r in _parse(spider, BASE + "/map?v=2", small, Response)] == [BASE + "/a.html"]


def test_off_site_child_sitemaps_and_entries_are_recorded_by_the_offsite_rule(
    tmp_path: Path,
) -> None:
    spider = _spider(tmp_path)
    index = (
        '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<sitemap><loc>{BASE}/pages.xml</loc></sitemap>"
        "<sitemap><loc>https://cdn.other.example/pages.xml</loc></sitemap>"
        "</sitemapindex>"
    ).encode()
    requests = _parse(spider, BASE + "/index.xml", index)
    assert [r.url for r in requests] == [BASE + "/pages.xml"]
    assert requests[0].meta["kb_sitemap_level"] == 1
    body = _urlset("/a.html").replace(
        b"</urlset>", b"<url><loc>https://x.example/b</loc></url></urlset>"
    )
    pages = _parse(spider, BASE + "/pages.xml", body)
    assert [r.url for r in pages] == [BASE + "/a.html"]
    assert spider.records.counts == {"offsite": 2}


def test_a_sitemap_that_gives_no_entries_is_recorded_with_why(tmp_path: Path) -> None:
    """A sitemap URL answering HTML, one inflating past DOWNLOAD_MAXSIZE and a child sitemap
    beyond the depth limit each get a per-URL record (``what: sitemap``), like a 404 one:
    before, only a stat and a log line said so."""
    spider = _spider(tmp_path, DOWNLOAD_MAXSIZE=100_000)
    html = b"<html><head><title>Not found</title></head><body><p>Sorry.</p></body></html>"
    assert _parse(spider, BASE + "/sitemap.xml", html, Response) == []
    bomb = gzip.compress(_urlset("/a.html") + b" " * 5_000_000)
    assert _parse(spider, BASE + "/big.xml.gz", bomb, Response) == []
    index = (
        '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<sitemap><loc>{BASE}/deeper.xml</loc></sitemap></sitemapindex>"
    ).encode()
    deep = XmlResponse(BASE + "/deep.xml", body=index, request=spider.sitemap_request(BASE, 4))
    assert list(spider.parse_sitemap(deep)) == []
    assert spider.records.counts == {"parse_error": 1, "too_large": 1, "depth": 1}
    assert spider.crawler.stats.get_value("sitemap/invalid") == 1
    assert spider.crawler.stats.get_value("sitemap/too_deep") == 1
