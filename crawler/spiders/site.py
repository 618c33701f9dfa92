"""The one generic spider: discovery only (sitemaps, robots.txt, links).

Heavy work (HTML parsing, trafilatura, langdetect) runs in :class:`crawler.pool.ExtractionPool`
worker processes; callbacks only await it and turn its result into a :class:`PageItem`.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from scrapy import Request, Spider, signals
from scrapy.exceptions import CloseSpider, IgnoreRequest
from scrapy.http import HtmlResponse, TextResponse
from scrapy.utils._compression import _DecompressionMaxSizeExceeded
from scrapy.utils.gz import gunzip, gzip_magic_number
from scrapy.utils.sitemap import Sitemap, sitemap_urls_from_robots

from crawler.config import ConfigError, SiteConfig, load_packaged_site, load_site_file
from crawler.items import PageItem, build_document
from crawler.named_request import NamedCallbackRequest
from crawler.options import ExtractOptions
from crawler.pool import ExtractionPool, PageFailed
from crawler.urls import host_allowed, host_of, normalize_url, url_in_rules

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator
    from typing import Self

    from scrapy.crawler import Crawler
    from scrapy.http import Response

    from crawler.syncstate import SyncState

logger = logging.getLogger(__name__)

MAX_SITEMAP_DEPTH = 5  # index -> index -> ... -> urlset
MAX_SITEMAP_ENTRIES = 50_000  # the sitemap protocol's own limit per file
MAX_LINKS_PER_PAGE = 5_000
_HTML_TYPES = (b"text/html", b"application/xhtml+xml")


def truthy(value: Any) -> bool:
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


class SiteSpider(Spider):
    """Crawls one site file. ``scrapy crawl site -a config=PATH`` or a per-file subclass."""

    name = "site"
    site_file: str | None = None  # set on the per-file subclasses by the spider loader

    def __init__(
        self,
        config: str | None = None,
        full: str | None = None,
        flush: str | None = None,
        **kwargs: Any,
    ):
        kwargs.pop("_job", None)  # scrapyd's job id: accepted, not needed
        super().__init__(**kwargs)
        self.site: SiteConfig = self.load_config(config)
        self.full_sync = truthy(full) if full is not None else None
        self.flush_only = truthy(flush)  # kb-flush: deliver the outbox, crawl nothing
        self.allowed_domains = self.site.domains
        self._allow = [re.compile(p) for p in self.site.allow]
        self._deny = [re.compile(p) for p in self.site.deny]
        self.pages_sent_to_extraction = 0
        self.truncated = False  # True when max_pages cut the crawl short
        self.sync: SyncState | None = None
        self.pool: ExtractionPool | None = None

    @classmethod
    def load_config(cls, config: str | None) -> SiteConfig:
        if config:
            return load_site_file(config)
        if cls.site_file:
            return load_packaged_site(cls.site_file)
        raise ConfigError("the 'site' spider needs a site file: -a config=PATH/TO/site.yaml")

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        spider = super().from_crawler(crawler, *args, **kwargs)
        s = crawler.settings
        if not s.frozen:  # the site file's own politeness knobs, as spider-priority settings
            if spider.site.download_delay is not None:
                s.set("DOWNLOAD_DELAY", spider.site.download_delay, priority="spider")
            if spider.site.user_agent:
                s.set("USER_AGENT", spider.site.user_agent, priority="spider")
        if spider.full_sync is None:
            spider.full_sync = s.getbool("KB_FULL_SYNC")
        spider.options = ExtractOptions(
            min_chars=spider.site.min_chars,
            lang_sample_chars=s.getint("KB_LANG_SAMPLE_CHARS"),
            forced_language=spider.site.forced_language,
        )
        spider.pool = ExtractionPool(
            s.getint("KB_EXTRACT_WORKERS"),
            timeout=s.getfloat("KB_EXTRACT_TIMEOUT"),
            max_pending=s.getint("KB_EXTRACT_MAX_PENDING"),
            inline=s.getbool("KB_EXTRACT_INLINE"),
            start_method=s.get("KB_EXTRACT_START_METHOD"),
        )
        spider.max_sitemap_bytes = s.getint("DOWNLOAD_MAXSIZE")
        crawler.signals.connect(spider._closed, signal=signals.spider_closed)
        return spider

    def _closed(self) -> None:
        if self.pool is not None:
            self.pool.close()

    # -- rules ------------------------------------------------------------------
    def url_wanted(self, url: str) -> bool:
        """On an allowed host, and through the site file's allow/deny regexes."""
        return host_allowed(host_of(url), self.allowed_domains) and url_in_rules(
            url, self._allow, self._deny
        )

    def page_request(self, url: str, depth: int, lastmod: str | None = None) -> Request:
        return NamedCallbackRequest(
            url,
            callback=self.parse_page,
            errback=self.page_failed,
            meta={"kb_page": True, "kb_depth": depth, "kb_lastmod": lastmod},
        )

    def sitemap_request(self, url: str, level: int = 0) -> Request:
        return NamedCallbackRequest(
            url,
            callback=self.parse_sitemap,
            errback=self.sitemap_failed,
            meta={"kb_sitemap_level": level},
            priority=10,  # discover the site's shape early
        )

    # -- discovery ----------------------------------------------------------------
    async def start(self) -> AsyncIterator[Any]:
        self.sync = getattr(self.crawler, "kb_sync", None)
        if self.flush_only:
            return
        if self.pool is not None:
            self.pool.start()
        sitemaps = list(self.site.sitemap_urls)
        if not sitemaps:  # still find the site's sitemaps through its robots.txt
            for url in self.site.start_urls:
                parts = urlsplit(url)
                sitemaps.append(f"{parts.scheme}://{parts.netloc}/robots.txt")
        for url in dict.fromkeys(sitemaps):
            yield self.sitemap_request(url)
        for url in self.site.start_urls:
            yield self.page_request(normalize_url(url), depth=0)

    def parse_sitemap(self, response: Response) -> Iterator[Request]:
        level = response.meta.get("kb_sitemap_level", 0)
        if response.url.endswith("/robots.txt"):
            for url in sitemap_urls_from_robots(response.body, base_url=response.url):
                if host_allowed(host_of(url), self.allowed_domains):
                    yield self.sitemap_request(url, level)
            return
        body = self._sitemap_body(response)
        if body is None:
            self.crawler.stats.inc_value("sitemap/invalid")
            logger.warning("Not a usable sitemap: %s", response.url)
            return
        sitemap = Sitemap(body)
        self.crawler.stats.inc_value("sitemap/parsed")
        for count, entry in enumerate(sitemap, 1):
            if count > MAX_SITEMAP_ENTRIES:
                self.crawler.stats.inc_value("sitemap/entries_over_limit")
                logger.warning("Sitemap %s has over %d entries; rest ignored", response.url, count)
                break
            loc = entry.get("loc", "")
            if not loc.startswith(("http://", "https://")):
                continue
            if sitemap.type == "sitemapindex":
                if level + 1 >= MAX_SITEMAP_DEPTH:
                    self.crawler.stats.inc_value("sitemap/too_deep")
                elif host_allowed(host_of(loc), self.allowed_domains):
                    yield self.sitemap_request(loc, level + 1)
                continue
            url = normalize_url(loc)
            if not self.url_wanted(url):
                self.crawler.stats.inc_value("discovery/filtered")
                continue
            lastmod = entry.get("lastmod") or None
            if (
                self.sync is not None
                and not self.full_sync
                and self.sync.lastmod_unchanged(url, lastmod)
            ):
                # Layer 1 of incremental sync: not even downloaded.
                self.crawler.stats.inc_value("sync/unchanged/lastmod")
                self.sync.mark_seen(url)
                yield from self.replay_links(url, 0)
                continue
            yield self.page_request(url, depth=0, lastmod=lastmod)

    def _sitemap_body(self, response: Response) -> bytes | None:
        """The XML of a sitemap, gunzipped within DOWNLOAD_MAXSIZE; None if not a sitemap."""
        body = response.body
        if gzip_magic_number(response):
            try:
                body = gunzip(body, max_size=self.max_sitemap_bytes)
            except _DecompressionMaxSizeExceeded:
                self.crawler.stats.inc_value("sitemap/too_large")
                logger.warning(
                    "Sitemap %s inflates beyond %d bytes", response.url, self.max_sitemap_bytes
                )
                return None
            except (OSError, EOFError):
                return None
        head = body[:2048].lstrip().lower()
        if b"<urlset" not in head and b"<sitemapindex" not in head:
            return None
        return body

    def sitemap_failed(self, failure: Any) -> None:
        self.crawler.stats.inc_value("sitemap/failed")

    def replay_links(self, url: str, depth: int) -> Iterator[Request]:
        """Links an unchanged page had last time, so the crawl still reaches its children."""
        if self.sync is None or not self.site.follow_links or depth >= self.site.max_depth:
            return
        for link in self.sync.stored_links(url):
            if self.url_wanted(link):
                yield self.page_request(link, depth + 1)

    # -- pages ----------------------------------------------------------------------
    async def parse_page(self, response: Response) -> AsyncIterator[Any]:
        stats = self.crawler.stats
        depth = response.meta.get("kb_depth", 0)
        url = normalize_url(response.url)
        if not self.url_wanted(url):  # a redirect may have left the site
            stats.inc_value("extract/skipped/offsite_redirect")
            return
        if not self._is_html(response):
            stats.inc_value("extract/skipped/not_html")
            if self.sync is not None:
                self.sync.mark_seen(url)
            return
        if self.pages_sent_to_extraction >= self.site.max_pages:
            stats.inc_value("extract/skipped/max_pages")
            self.truncated = True
            raise CloseSpider("max_pages")
        self.pages_sent_to_extraction += 1
        if self.pages_sent_to_extraction == self.site.max_pages:
            logger.info(
                "max_pages (%d) reached: no more pages will be extracted", self.site.max_pages
            )
        follow = self.site.follow_links and depth < self.site.max_depth
        # The knowledge-base pipeline's current split limit: the worker splits there.
        split_chars = getattr(self.crawler, "kb_split_chars", None)
        try:
            page = await self.pool.run(
                response.text, response.url, self.options, self.site.name,
                MAX_LINKS_PER_PAGE if follow else 0, (url, split_chars) if split_chars else None,
            )  # fmt: skip
        except PageFailed as exc:
            stats.inc_value(f"extract/failed/{exc.reason}")
            logger.warning("Extraction failed (%s): %s", exc.reason, response.url)
            return
        stats.inc_value("extract/pages")
        if page.get("extractor"):
            stats.inc_value(f"extract/path/{page['extractor']}")
        if page["links_dropped"]:
            stats.inc_value("discovery/links_over_limit", page["links_dropped"])
        links = [link for link in page["links"] if self.url_wanted(link)]
        for link in links:
            yield self.page_request(link, depth + 1)

        canonical = page.get("canonical_url")
        if canonical:
            canonical = normalize_url(canonical)
            if canonical != url and self.url_wanted(canonical):
                # rel=canonical inside the crawl: this page is a copy of that one.
                stats.inc_value("extract/skipped/canonical")
                if self.sync is not None:
                    self.sync.mark_seen(url)
                yield self.page_request(canonical, depth)
                return
        robots_header = (response.headers.get(b"X-Robots-Tag") or b"").lower()
        if not page["skip_reason"] and (b"noindex" in robots_header or b"none" in robots_header):
            page["skip_reason"] = "noindex"
        if page["skip_reason"]:
            stats.inc_value(f"extract/skipped/{page['skip_reason']}")
            if self.sync is not None:
                self.sync.mark_seen(url)
                self.sync.record_page(url, links=links, **self._validators(response))
            return
        stats.inc_value(f"lang/{page['language']}")
        yield self.page_item(url, page, response, links)

    def page_item(
        self, url: str, page: dict[str, Any], response: Response, links: list[str]
    ) -> PageItem:
        lastmod = response.meta.get("kb_lastmod")
        document = build_document(
            url=url,
            title=page["title"],
            content=page["content"],
            language=page["language"],
            site=self.site.name,
            crawled_at=datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
            site_metadata=dict(self.site.metadata),
            page_metadata={
                "description": page.get("description"),
                "author": page.get("author"),
                "published": page.get("published"),
                "modified": page.get("modified"),
                "lastmod": lastmod,
            },
        )
        return PageItem(
            url=url,
            document=document,
            content_hash=page["content_hash"],
            anchors=page.get("anchors") or {},
            lastmod=lastmod,
            links=links,
            parts=page.get("parts"),
            parts_limit=page.get("parts_limit") or 0,
            **self._validators(response),
        )

    @staticmethod
    def _validators(response: Response) -> dict[str, str | None]:
        def header(name: bytes) -> str | None:
            value = response.headers.get(name)
            return value.decode("latin-1") if value else None

        return {"etag": header(b"ETag"), "last_modified": header(b"Last-Modified")}

    @staticmethod
    def _is_html(response: Response) -> bool:
        if not isinstance(response, TextResponse):
            return False
        ctype = (response.headers.get(b"Content-Type") or b"").lower()
        if ctype and not any(t in ctype for t in _HTML_TYPES):
            return False
        return isinstance(response, HtmlResponse) or b"<html" in response.body[:4096].lower()

    def page_failed(self, failure: Any) -> None:
        """Download errors (404, DNS, timeouts): counted; 404/410 tell the sync state."""
        if failure.check(IgnoreRequest):  # robots.txt, 304, guarded host: counted elsewhere
            return
        request = failure.request
        response = getattr(failure.value, "response", None)
        status = getattr(response, "status", None)
        if status is not None:
            self.crawler.stats.inc_value(f"download/failed/{status}")
        else:
            self.crawler.stats.inc_value(f"download/failed/{type(failure.value).__name__}")
        # 404/410 count towards "gone"; anything else (timeouts, 5xx, 403, 429) says
        # nothing about the page, so this run must not count it as missed.
        if self.sync is not None and status not in (404, 410):
            self.sync.mark_uncertain(normalize_url(request.url))
