"""The downloader middlewares (crawler/middlewares.py), each built from a crawler.

The crawls in test_crawl_site.py, test_access.py and test_sync.py show them at work end to
end; here each is built from the project's settings and driven through Scrapy's own hooks.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from protego import Protego
from scrapy import Request, Spider, signals
from scrapy.core.downloader.middleware import DownloaderMiddlewareManager
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.robotstxt import ProtegoRobotParser
from scrapy.utils.test import get_crawler

from crawler.middlewares import (
    CrawlDelayMiddleware,
    HostGuardMiddleware,
    OffsiteMiddleware,
    SiteCredentialsMiddleware,
)
from tests.components import project_values, running_engine, site_crawler

OURS = [
    "HostGuardMiddleware",
    "CrawlDelayMiddleware",
    "ConditionalGetMiddleware",
    "SiteCredentialsMiddleware",
]


def test_the_project_settings_build_every_middleware_in_its_place(tmp_path: Path) -> None:
    crawler = site_crawler(tmp_path)
    names = [
        type(m).__name__ for m in DownloaderMiddlewareManager.from_crawler(crawler).middlewares
    ]
    assert [n for n in names if n in OURS] == OURS
    # Host guard before robots.txt and redirects; crawl delay after robots.txt is parsed;
    # credentials after every built-in that sets headers, before the redirect.
    assert names.index("HostGuardMiddleware") < names.index("RobotsTxtMiddleware")
    assert names.index("RobotsTxtMiddleware") < names.index("CrawlDelayMiddleware")
    assert names.index("SiteCredentialsMiddleware") < names.index("RedirectMiddleware")


# -- HostGuardMiddleware -------------------------------------------------------------------


def test_host_guard_refuses_a_private_address_the_site_file_does_not_name(
    tmp_path: Path,
) -> None:
    crawler = site_crawler(tmp_path)
    guard = HostGuardMiddleware.from_crawler(crawler)
    request = Request("http://10.0.0.7/admin")  # e.g. a redirect from the public site
    with pytest.raises(IgnoreRequest):
        guard.process_request(request)
    assert request.meta["kb_refused"] == ("private_address", "10.0.0.7")
    assert crawler.stats.get_value("discovery/private_host_blocked") == 1
    for public in ("https://docs.example.com/guide", "https://elsewhere.example.org/"):
        assert guard.process_request(Request(public)) is None
    assert crawler.stats.get_value("discovery/private_host_blocked") == 1


def test_host_guard_lets_a_private_address_the_site_file_names(tmp_path: Path) -> None:
    crawler = site_crawler(tmp_path, start_urls=["http://127.0.0.1:8080/"])
    guard = HostGuardMiddleware.from_crawler(crawler)
    assert guard.process_request(Request("http://127.0.0.1:8080/page")) is None
    with pytest.raises(IgnoreRequest):  # another private host is still refused
        guard.process_request(Request("http://192.168.1.1/"))


def test_another_spider_with_a_site_attribute_of_its_own(tmp_path: Path) -> None:
    """Only a site file's spider (SiteSpider) is read as one: a spider whose ``site`` is
    something else (or ``scrapy shell``'s) gets every private host refused, no credentials."""

    class Pages(Spider):
        name = "pages"
        site = "pages.example.com"  # the spider's own attribute, not a site file

    crawler = get_crawler(Pages, project_values(tmp_path))
    crawler.spider = Pages()
    guard = HostGuardMiddleware.from_crawler(crawler)
    with pytest.raises(IgnoreRequest):
        guard.process_request(Request("http://127.0.0.1/"))
    assert guard.process_request(Request("https://pages.example.com/")) is None
    credentials = SiteCredentialsMiddleware.from_crawler(crawler)
    credentials.spider_opened(crawler.spider)
    request = Request("https://pages.example.com/")
    credentials.process_request(request)
    assert crawler.stats.get_value("access/credentials_sent") is None


# -- CrawlDelayMiddleware ------------------------------------------------------------------


def test_crawl_delay_is_off_without_robots_txt(tmp_path: Path) -> None:
    crawler = site_crawler(tmp_path, settings={"ROBOTSTXT_OBEY": False})
    with pytest.raises(NotConfigured):
        CrawlDelayMiddleware.from_crawler(crawler)


def _robots_parsed(crawler: Crawler, body: str, url: str) -> None:
    """What RobotsTxtMiddleware signals once it has parsed a host's robots.txt."""
    parser = ProtegoRobotParser(body.encode(), crawler.spider)
    crawler.signals.send_catch_log(signals.robots_parsed, robotparser=parser, request=Request(url))


@pytest.mark.parametrize(
    ("asked", "honoured"), [(3, 3.0), (3600, CrawlDelayMiddleware.MAX_DELAY), (None, None)]
)
def test_crawl_delay_from_robots_txt_becomes_the_hosts_minimum_delay(
    tmp_path: Path, asked: int | None, honoured: float | None
) -> None:
    crawler = site_crawler(tmp_path)
    robots = "User-agent: *\nDisallow: /private/\n"
    if asked is not None:
        robots += f"Crawl-delay: {asked}\n"
    assert Protego.parse(robots).crawl_delay("*") == asked

    def check() -> None:
        middleware = CrawlDelayMiddleware.from_crawler(crawler)
        _robots_parsed(crawler, robots, "https://docs.example.com/robots.txt")
        assert crawler.stats.get_value("robotstxt/crawl_delay/docs.example.com") == honoured
        wanted = {} if honoured is None else {"docs.example.com": {"delay": honoured, "jitter": 0}}
        assert crawler.engine.downloader.per_slot_settings == wanted
        page = Request("https://docs.example.com/a")
        middleware.process_request(page)
        held = page.meta.get("autothrottle_dont_adjust_delay", False)  # AutoThrottle not below
        assert held is (honoured is not None)
        other = Request("https://other.example.org/a")  # no robots.txt delay: untouched
        middleware.process_request(other)
        assert "autothrottle_dont_adjust_delay" not in other.meta

    async def main() -> None:
        async with running_engine(crawler):
            check()

    asyncio.run(main())


# -- SiteCredentialsMiddleware -------------------------------------------------------------


def test_site_credentials_come_from_the_site_file_and_go_to_its_hosts_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCS_TOKEN", "tok-component-1")
    crawler = site_crawler(tmp_path, headers={"X-Token": "${DOCS_TOKEN}"})
    middleware = SiteCredentialsMiddleware.from_crawler(crawler)
    crawler.signals.send_catch_log(signals.spider_opened, spider=crawler.spider)
    ours = Request("https://docs.example.com/private")
    middleware.process_request(ours)
    assert ours.headers[b"X-Token"] == b"tok-component-1"
    assert crawler.stats.get_value("access/credentials_sent") == 1
    theirs = Request("https://cdn.example.org/x", headers={"X-Token": "tok-component-1"})
    middleware.process_request(theirs)
    assert b"X-Token" not in theirs.headers
    crawler.signals.send_catch_log(signals.request_scheduled, request=ours, spider=None)
    assert b"X-Token" not in ours.headers  # the disk queue never holds it


def test_a_site_without_credentials_sends_none(tmp_path: Path) -> None:
    crawler = site_crawler(tmp_path)
    middleware = SiteCredentialsMiddleware.from_crawler(crawler)
    crawler.signals.send_catch_log(signals.spider_opened, spider=crawler.spider)
    request = Request("https://docs.example.com/", headers={"X-Token": "the user's own"})
    middleware.process_request(request)
    assert request.headers[b"X-Token"] == b"the user's own"  # not ours to remove
    assert crawler.stats.get_value("access/credentials_sent") is None


# -- OffsiteMiddleware ---------------------------------------------------------------------------


def test_an_offsite_request_dropped_when_scheduled_is_recorded_by_a_site_spider(
    tmp_path: Path,
) -> None:
    crawler = site_crawler(tmp_path)
    middleware = OffsiteMiddleware.from_crawler(crawler)
    middleware.spider_opened(crawler.spider)
    middleware.request_scheduled(Request("https://docs.example.com/a", meta={"kb_page": True}))
    away = Request("https://elsewhere.example.org/a", meta={"kb_page": True, "kb_depth": 1})
    with pytest.raises(IgnoreRequest):
        middleware.request_scheduled(away)
    assert crawler.stats.get_value("skipped/offsite") == 1


def test_an_offsite_request_of_another_spider_is_only_dropped() -> None:
    """Another project's spider has no records: Scrapy's behaviour, nothing asked of it."""
    crawler = get_crawler(Spider)
    crawler.spider = Spider(name="theirs", allowed_domains=["docs.example.com"])
    crawler.stats.open_spider()
    middleware = OffsiteMiddleware.from_crawler(crawler)
    middleware.spider_opened(crawler.spider)
    with pytest.raises(IgnoreRequest):
        middleware.request_scheduled(Request("https://elsewhere.example.org/a"))
    assert crawler.stats.get_value("skipped/offsite") is None


def test_a_link_not_followed_is_offsite_or_denied_by_the_crawls_rules(tmp_path: Path) -> None:
    """One rule names why a link, a redirect target or a page is not followed."""
    crawler = site_crawler(tmp_path, deny=["/private/"])
    spider = crawler.spider
    try:
        assert spider.refusal_of("https://elsewhere.example.org/a") == "offsite"
        assert spider.refusal_of("https://docs.example.com/private/a") == "denied"
        spider.refuse_link("https://elsewhere.example.org/a", "https://docs.example.com/", 1)
        spider.refuse_link("https://docs.example.com/private/b", "https://docs.example.com/", 1)
        assert crawler.stats.get_value("skipped/offsite") == 1
        assert crawler.stats.get_value("skipped/denied") == 1
    finally:
        spider.pool.close()
