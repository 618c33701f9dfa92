"""Downloader middlewares: where requests may go, and conditional GETs for sync."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from scrapy.exceptions import IgnoreRequest

from crawler.urls import host_of, is_private_host, normalize_url

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Request, Spider
    from scrapy.crawler import Crawler
    from scrapy.http import Response

logger = logging.getLogger(__name__)


class HostGuardMiddleware:
    """Never fetch loopback/private addresses the site file does not name.

    Runs for every request, including the ones RedirectMiddleware makes, so a
    redirect to 127.0.0.1 or 10.x from a public site is refused.
    """

    def __init__(self, crawler: Crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        host = host_of(request.url)
        if not is_private_host(host):
            return
        site = getattr(self.crawler.spider, "site", None)
        named = set(site.domains) if site is not None else set()
        if site is not None:
            named.update(host_of(u) for u in [*site.start_urls, *site.sitemap_urls])
        if host not in named:
            self.crawler.stats.inc_value("discovery/private_host_blocked")
            logger.info("Refusing private address not named in the site file: %s", host)
            raise IgnoreRequest(f"private host {host}")


class ConditionalGetMiddleware:
    """Layer 2 of incremental sync: If-None-Match / If-Modified-Since, and 304s.

    Validators are sent only for pages whose last version was delivered (the sync
    state says so); a 304 marks the page seen, replays its stored links, and stops
    there: nothing to extract.
    """

    def __init__(self, crawler: Crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def _sync(self):
        spider = self.crawler.spider
        if spider is None or getattr(spider, "full_sync", False):
            return None
        return getattr(spider, "sync", None)

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        sync = self._sync()
        if sync is None or not request.meta.get("kb_page"):
            return
        etag, last_modified = sync.validators(normalize_url(request.url))
        if etag:
            request.headers.setdefault(b"If-None-Match", etag)
        if last_modified:
            request.headers.setdefault(b"If-Modified-Since", last_modified)

    def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Response:
        if response.status != 304 or not request.meta.get("kb_page"):
            return response
        sync = self._sync()
        if sync is None:
            return response
        url = normalize_url(request.url)
        self.crawler.stats.inc_value("sync/unchanged/304")
        sync.mark_seen(url)
        site_spider = self.crawler.spider
        depth = request.meta.get("kb_depth", 0)
        for follow in site_spider.replay_links(url, depth):
            self.crawler.engine.crawl(follow)
        raise IgnoreRequest("not modified")
