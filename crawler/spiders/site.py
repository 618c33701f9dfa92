"""The one generic spider: discovery only (sitemaps, robots.txt, links).

Heavy work (HTML parsing, trafilatura, langdetect) runs in :class:`crawler.pool.ExtractionPool`
worker processes (:mod:`crawler.extract.worker`); callbacks only await it and turn its
:class:`~crawler.extract.result.PageResult` into a :class:`PageItem`.
"""

from __future__ import annotations

import logging
import re
from contextlib import suppress
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from scrapy import Request, signals
from scrapy.downloadermiddlewares.offsite import OffsiteMiddleware as ScrapyOffsiteMiddleware
from scrapy.exceptions import CloseSpider, DontCloseSpider
from scrapy.http import HtmlResponse, TextResponse
from scrapy.spiders import SitemapSpider
from scrapy.utils.sitemap import Sitemap

from crawler.config import ConfigError, SiteConfig, load_packaged_site, load_site_file
from crawler.documentkinds import document_kind, url_kind
from crawler.extensions.sync import SyncRun
from crawler.items import PageItem, build_document
from crawler.middlewares import offsite_allows, quiet_network_tracebacks
from crawler.named_request import NamedCallbackRequest
from crawler.options import site_options
from crawler.pool import ExtractionPool, PageFailed
from crawler.render import RenderPolicy, render_settings
from crawler.robots_directives import header_directives
from crawler.runrecords import REFUSALS, UrlRecords, download_failure_reason, url_key
from crawler.sitefiles import (
    DecompressedTooLarge,
    decode_text,
    llms_txt_urls,
    markdown_links,
    robots_sitemap_urls,
    sitemap_body,
)
from crawler.urls import normalize_url, url_in_rules, url_rule
from pipelines.kb import KnowledgeBasePipeline

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator
    from typing import Self

    from scrapy.crawler import Crawler
    from scrapy.http import Response

    from crawler.extract.result import PageResult
    from crawler.robots_directives import RobotsDirectives
    from crawler.syncstate import SyncState

logger = logging.getLogger(__name__)

MAX_SITEMAP_DEPTH = 5  # index -> index -> ... -> urlset
MAX_SITEMAP_ENTRIES = 50_000  # the sitemap protocol's own limit per file
MAX_LINKS_PER_PAGE = 5_000
MAX_HOST_VERDICTS = 10_000  # hosts whose on_site verdict is kept
_HTML_TYPES = (b"text/html", b"application/xhtml+xml")


def truthy(value: Any) -> bool:
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


class SiteSpider(SitemapSpider):
    """Crawls one site file. ``scrapy crawl site -a config=PATH`` or a per-file subclass.

    A :class:`~scrapy.spiders.SitemapSpider`: ``sitemap_filter`` filters each sitemap's
    entries as in Scrapy (override it in a subclass); the sitemaps are read by
    :meth:`parse_sitemap`, not Scrapy's ``_parse_sitemap``, whose requests cannot carry what
    a page needs (depth, lastmod, referer, errback) and which records nothing it drops
    (index depth, entries per file, decompression limit, off-site sitemaps).
    """

    name = "site"
    sitemap_rules = ()  # page requests come from page_request(), not from Scrapy's rules
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
        self.config_path = config  # for the commands a hint names (kb-flush ... -a config=)
        self.full_sync = truthy(full) if full is not None else None
        self.flush_only = truthy(flush)  # kb-flush: deliver the outbox, crawl nothing
        self.allowed_domains = self.site.domains
        self._allow = [re.compile(p) for p in self.site.allow]
        self._deny = [re.compile(p) for p in self.site.deny]
        self.pages_sent_to_extraction = 0
        self.truncated = False  # True when max_pages cut the crawl short
        self.sync_run: SyncRun | None = None  # crawler.get_extension(SyncRun), from start()
        self.pool: ExtractionPool | None = None
        self.records: UrlRecords | None = None
        # Pages dropped in favour of a preferred URL (rel=canonical) not yet delivered:
        # preferred URL -> [(page URL, depth, referer)]. Delivered themselves when the
        # preferred URL gives no document by the end of the run (fails, loops, refused).
        self.deferred: dict[str, list[tuple[str, int, str | None]]] = {}
        self.itemized: set[int] = set()  # URLs (and their redirect origins) that gave an item
        self.requested: set[int] = set()  # page URLs requested by this spider
        # Links beyond max_depth: URL -> (referer, depth); recorded at the end unless reached.
        self.beyond_depth: dict[str, tuple[str, int]] = {}
        self.beyond_depth_unlisted = 0
        self.render: RenderPolicy | None = None  # render_js: which pages the browser renders
        self.robots_pending: set[str] = set()  # robots.txt URLs whose Sitemap lines we want
        self.offsite: ScrapyOffsiteMiddleware | None = None  # the host rule (on_site)
        self.host_verdicts: dict[str, bool] = {}  # host -> on_site

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
        spider.site = spider.site.with_settings(s)  # keys the site file leaves out: KB_* settings
        if not s.frozen:  # the site file's own politeness knobs: a key given wins, as the
            # KB_* keys do, over the project's settings and over `-s` (scrapyd's `setting=`)
            if spider.site.download_delay is not None:
                s.set("DOWNLOAD_DELAY", spider.site.download_delay, priority="cmdline")
            if spider.site.user_agent:
                s.set("USER_AGENT", spider.site.user_agent, priority="cmdline")
            if spider.site.render_js != "never":  # else Scrapy's download handlers, untouched
                for name, value in render_settings(s).items():
                    s.set(name, value, priority="spider")
        if spider.site.render_js != "never":
            spider.render = RenderPolicy(spider.site, s.getfloat("KB_RENDER_TIMEOUT"), crawler)
        if spider.full_sync is None:
            spider.full_sync = s.getbool("KB_FULL_SYNC")
        # Robots directives addressed to us: <meta name="robots">, <meta name="<token>">,
        # "<token>: noindex" in X-Robots-Tag (crawler/robots_directives.py).
        spider.options = site_options(spider.site, s)
        spider.bots = spider.options.bots
        spider.pool = ExtractionPool(
            s.getint("KB_EXTRACT_WORKERS"),
            timeout=s.getfloat("KB_EXTRACT_TIMEOUT"),
            max_pending=s.getint("KB_EXTRACT_MAX_PENDING"),
            inline=s.getbool("KB_EXTRACT_INLINE"),
            start_method=s.get("KB_EXTRACT_START_METHOD"),
        )
        spider.max_sitemap_bytes = s.getint("DOWNLOAD_MAXSIZE")
        spider.records_per_reason = s.getint("KB_URL_RECORDS_PER_REASON")
        quiet_network_tracebacks()  # an unreachable site: one line (exit 8), no traceback
        crawler.signals.connect(spider._closed, signal=signals.spider_closed)
        crawler.signals.connect(spider._idle, signal=signals.spider_idle)
        crawler.signals.connect(spider._request_dropped, signal=signals.request_dropped)
        crawler.signals.connect(spider._spider_error, signal=signals.spider_error)
        crawler.signals.connect(spider._robots_parsed, signal=signals.robots_parsed)
        return spider

    def _closed(self, reason: str = "") -> None:
        if self.pool is not None:
            self.pool.close()
        self._settle_records(reason)

    # -- records ----------------------------------------------------------------------
    def skip(self, url: str, reason: str, **fields: Any) -> None:
        """Account for a URL not delivered: stat + record line; ``fields`` are
        :meth:`crawler.runrecords.UrlRecords.record`'s (detail, referer, depth, what)."""
        if self.records is None:  # before the run opened, or without the SyncRun extension
            self.records = UrlRecords(None, self.records_per_reason, self.crawler.stats)
        self.records.record(url, reason, **fields)

    def refuse_link(self, url: str, referer: str, depth: int) -> None:
        """A link (or sitemap entry) this crawl does not follow: off-site or denied by rule."""
        self.skip(url, self.refusal_of(url), referer=referer, depth=depth)

    def offsite_dropped(self, request: Request) -> None:
        """Called by :class:`crawler.middlewares.OffsiteMiddleware` for a request it drops
        when scheduled (no errback runs): a redirect leaving the site (the redirect is
        recorded), a page or a sitemap on a host ``allowed_domains`` leaves out."""
        meta = request.meta
        target = normalize_url(request.url)
        referer, depth = _referer(request), meta.get("kb_depth")
        if meta.get("kb_page") and meta.get("redirect_urls"):
            origin = normalize_url(meta["redirect_urls"][0])
            self.skip(origin, "offsite", detail=target, referer=referer, depth=depth)
        elif meta.get("kb_page"):
            self.skip(target, "offsite", referer=referer, depth=depth)
        elif "kb_sitemap_level" in meta:
            self.skip(target, "offsite", referer=referer, what="sitemap")

    def _request_dropped(self, request: Request) -> None:
        """The scheduler dropped a redirect's target: the redirect is recorded.

        Scrapy's OffsiteMiddleware drops off-site targets at scheduling time, and the dupe
        filter drops a target already requested. A dropped link is only a second request
        for a URL already accounted for: not recorded.
        """
        origins = request.meta.get("redirect_urls")
        if not origins or not request.meta.get("kb_page"):
            return
        target = normalize_url(request.url)
        reason = "redirect" if self.url_wanted(target) else self.refusal_of(target)
        self.skip(
            normalize_url(origins[0]), reason, detail=target,
            referer=_referer(request), depth=request.meta.get("kb_depth"),
        )  # fmt: skip

    def _spider_error(self, failure: Any, response: Response) -> None:
        """A callback raised (a bug, or input nobody foresaw): the page is recorded, not lost
        in the log only."""
        if response.meta.get("kb_page"):
            self.skip(
                normalize_url(response.url), "spider_error",
                detail=f"{type(failure.value).__name__}: {failure.value}",
                referer=_referer(response.request), depth=response.meta.get("kb_depth"),
            )  # fmt: skip

    def _idle(self) -> None:
        """At the end: deliver pages whose preferred URL gave no document (issue 12, point 4)."""
        if not self.deferred:
            return
        deferred, self.deferred = self.deferred, {}
        for preferred, pages in deferred.items():
            for url, depth, referer in pages:
                logger.info(
                    "%s names %s as canonical, which gave no document (failed, refused or "
                    "redirected back): the page is delivered under its own URL",
                    url, preferred,
                )  # fmt: skip
                self.crawler.stats.inc_value("discovery/canonical_fallback")
                request = self.page_request(url, depth, referer=referer, dont_filter=True)
                request.meta["kb_self"] = True  # its canonical is not followed again
                self.crawler.engine.crawl(request)
        raise DontCloseSpider

    def _settle_records(self, reason: str) -> None:
        """End of run: pages still waiting on their canonical, links beyond max_depth."""
        for preferred, pages in self.deferred.items():
            for url, depth, referer in pages:
                self.skip(url, "canonical", detail=preferred, referer=referer, depth=depth)
        self.deferred = {}
        for url, (referer, depth) in self.beyond_depth.items():
            if url_key(url) not in self.requested:
                self.skip(url, "depth", referer=referer, depth=depth)
        self.beyond_depth = {}
        if self.records is not None:  # past the bound: counted, not checked against requests
            self.records.count_unlisted("depth", self.beyond_depth_unlisted)
        self.beyond_depth_unlisted = 0

    # -- rules ------------------------------------------------------------------
    def url_wanted(self, url: str) -> bool:
        """On an allowed host (:meth:`on_site`), and through the site file's allow/deny
        regexes."""
        return self.on_site(url) and url_in_rules(url, self._allow, self._deny)

    def refusal_of(self, url: str) -> str:
        """Why this crawl does not follow ``url`` (one :meth:`url_wanted` refuses):
        ``offsite`` off the allowed hosts, else ``denied`` by the allow/deny rules."""
        return "denied" if self.on_site(url) else "offsite"

    def url_rule(self, url: str) -> tuple[bool, str]:
        """The site file's allow/deny verdict on ``url`` and its reason in words
        (:func:`crawler.urls.url_rule`), for ``kb-explain``."""
        return url_rule(url, self._allow, self._deny)

    def on_site(self, url: str) -> bool:
        """Whether Scrapy's OffsiteMiddleware lets ``url`` through: its ``should_follow``
        (``allowed_domains`` and their subdomains) is the crawl's one host rule. Asked once
        per host (the rule is a host rule), from the running middleware, else from an
        instance of it (kb-check, kb-explain: no crawl)."""
        host = urlsplit(url).hostname or ""  # as Scrapy's rule sees it
        verdict = self.host_verdicts.get(host)
        if verdict is None:
            verdict = offsite_allows(url, self, self._offsite())
            if len(self.host_verdicts) < MAX_HOST_VERDICTS:
                self.host_verdicts[host] = verdict
        return verdict

    def _offsite(self) -> ScrapyOffsiteMiddleware:
        if self.offsite is None:
            with suppress(AttributeError, RuntimeError):  # no crawler, or no engine yet
                self.offsite = self.crawler.get_downloader_middleware(ScrapyOffsiteMiddleware)
            if self.offsite is None:  # not running: the same rule, not its filtering
                return ScrapyOffsiteMiddleware(stats=None)
        return self.offsite

    def page_request(
        self,
        url: str,
        depth: int,
        lastmod: str | None = None,
        *,
        referer: str | None = None,
        dont_filter: bool = False,
        render: str | None = None,
    ) -> Request:
        """A page request; ``referer`` (the page or sitemap it was found on) goes to the
        records, kept through redirects (Scrapy's Referer header follows each hop).
        ``render``: why the browser renders it; by default :class:`RenderPolicy` decides."""
        self.requested.add(url_key(url))
        meta = {"kb_page": True, "kb_depth": depth, "kb_lastmod": lastmod}
        if url_kind(url) in self.site.documents:  # a linked document's own size cap
            meta["download_maxsize"] = meta["download_warnsize"] = self.site.max_document_bytes
        if referer:
            meta["kb_referer"] = referer
        if self.render is not None:
            meta.update(self.render.request_meta(url, render))
        return NamedCallbackRequest(
            url,
            callback=self.parse_page,
            errback=self.page_failed,
            meta=meta,
            dont_filter=dont_filter,
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
        self.sync_run = self.crawler.get_extension(SyncRun)
        if self.sync_run is not None and self.sync_run.records is not None:
            self.records = self.sync_run.records
        if self.flush_only:
            return
        if self.render is not None:
            self.render.open()
        if self.pool is not None:
            self.pool.start()
        sitemaps = list(self.site.sitemap_urls)
        parts = map(urlsplit, self.site.start_urls)
        starts = {f"{p.scheme}://{p.netloc}/robots.txt" for p in parts}
        if not sitemaps:  # still find the site's sitemaps through its robots.txt
            sitemaps = sorted(starts)
        if self.crawler.settings.getbool("ROBOTSTXT_OBEY"):
            # Scrapy's RobotsTxtMiddleware fetches a start URL's robots.txt once: its Sitemap
            # lines come from that parse (_robots_parsed), not from a second request.
            self.robots_pending = starts.intersection(sitemaps)
            sitemaps = [url for url in sitemaps if url not in self.robots_pending]
        for url in dict.fromkeys(sitemaps):
            yield self.sitemap_request(url)
        if self.site.seed_llms_txt:
            for url in llms_txt_urls([*self.site.start_urls, *self.site.sitemap_urls]):
                yield self.llms_txt_request(url)
        for url in self.site.start_urls:
            yield self.page_request(normalize_url(url), depth=0)

    def llms_txt_request(self, url: str) -> Request:
        return NamedCallbackRequest(
            url,
            callback=self.parse_llms_txt,
            errback=self.sitemap_failed,
            meta={"kb_llms_txt": True},
            priority=10,
        )

    def parse_llms_txt(self, response: Response) -> Iterator[Request]:
        """``/llms.txt`` (llmstxt.org): its Markdown links within the site's rules seed the crawl
        like start URLs; a linked ``llms-full.txt`` on the site is read the same way."""
        self.crawler.stats.inc_value("llms_txt/parsed")
        links = markdown_links(decode_text(response.body), response.url, MAX_SITEMAP_ENTRIES)
        for url in map(normalize_url, links):
            if urlsplit(url).path.endswith("/llms-full.txt"):  # a discovery file, as sitemaps:
                on_site = self.on_site(url)  # host rule only
                if on_site and not response.url.endswith("/llms-full.txt"):
                    yield self.llms_txt_request(url)
                continue
            if not self.url_wanted(url):
                self.crawler.stats.inc_value("discovery/filtered")
                self.refuse_link(url, response.url, 0)
                continue
            self.crawler.stats.inc_value("llms_txt/pages")
            yield self.page_request(url, depth=0, referer=response.url)

    def parse_sitemap(self, response: Response) -> Iterator[Request]:
        level = response.meta.get("kb_sitemap_level", 0)
        if response.url.endswith("/robots.txt"):
            yield from self._robots_sitemaps(response.body, response.url, level)
            return
        referer = _referer(response.request)
        try:
            # Scrapy's ``_get_sitemap_body`` would return None for a sitemap inflating beyond
            # the bound as for one that is not a sitemap, and raise on a corrupt gzip.
            body = sitemap_body(response, self.max_sitemap_bytes)
        except DecompressedTooLarge:
            self.crawler.stats.inc_value("sitemap/too_large")
            detail = f"inflates beyond {self.max_sitemap_bytes} bytes"
            logger.warning("Sitemap %s %s", response.url, detail)
            self.skip(response.url, "too_large", detail=detail, referer=referer, what="sitemap")
            return
        if body is None:
            self.crawler.stats.inc_value("sitemap/invalid")
            logger.warning("Not a usable sitemap: %s", response.url)
            detail = "not a sitemap (no urlset or sitemapindex)"
            self.skip(response.url, "parse_error", detail=detail, referer=referer, what="sitemap")
            return
        try:
            sitemap = Sitemap(body)
            sitemap.type  # noqa: B018 - fails on a document lxml could not read at all
        except Exception as exc:  # lxml's errors on a broken document: counted, never silent
            self.crawler.stats.inc_value("discovery/parse_error")
            logger.warning("Sitemap %s could not be parsed: %s", response.url, exc)
            self.skip(response.url, "parse_error", detail=str(exc), referer=referer, what="sitemap")
            return
        self.crawler.stats.inc_value("sitemap/parsed")
        for entry in self.sitemap_filter(self._entries(sitemap, response.url)):
            loc = entry.get("loc", "")
            if not loc.startswith(("http://", "https://")):
                continue
            if sitemap.type == "sitemapindex":
                if level + 1 >= MAX_SITEMAP_DEPTH:
                    self.crawler.stats.inc_value("sitemap/too_deep")
                    self.skip(loc, "depth", referer=response.url, what="sitemap")
                elif self.on_site(loc):
                    yield self.sitemap_request(loc, level + 1)
                else:
                    self.skip(loc, "offsite", referer=response.url, what="sitemap")
                continue
            url = normalize_url(loc)
            if not self.url_wanted(url):
                self.crawler.stats.inc_value("discovery/filtered")
                self.refuse_link(url, response.url, 0)
                continue
            lastmod = entry.get("lastmod") or None
            self.crawler.stats.inc_value("sitemap/pages")  # the progress display's ETA
            if self.sync_run is not None and self.sync_run.unchanged_by_lastmod(url, lastmod):
                yield from self.unchanged(url, 0)  # layer 1 of incremental sync: not downloaded
                continue
            yield self.page_request(url, depth=0, lastmod=lastmod, referer=response.url)

    def _entries(self, sitemap: Sitemap, url: str) -> Iterator[dict[str, Any]]:
        """The sitemap's first MAX_SITEMAP_ENTRIES entries (the rest counted); a parser error
        part-way is counted and logged, the entries before it kept (Scrapy's own iteration
        would raise into the callback)."""
        try:
            for count, entry in enumerate(sitemap, 1):
                if count > MAX_SITEMAP_ENTRIES:
                    self.crawler.stats.inc_value("sitemap/entries_over_limit")
                    logger.warning(
                        "Sitemap %s has over %d entries; rest ignored", url, MAX_SITEMAP_ENTRIES
                    )
                    return
                yield entry
        except Exception as exc:  # lxml's errors: counted, never silent
            self.crawler.stats.inc_value("discovery/parse_error")
            logger.warning("Sitemap %s could not be parsed to its end: %s", url, exc)

    def _robots_sitemaps(self, body: bytes, robots_url: str, level: int = 0) -> Iterator[Request]:
        for url in robots_sitemap_urls(body, robots_url):
            if self.on_site(url):
                yield self.sitemap_request(url, level)
            else:
                self.skip(url, "offsite", referer=robots_url, what="sitemap")

    def _robots_parsed(self, robotparser: Any, request: Request) -> None:
        """Signal ``robots_parsed``: the sitemaps a start URL's robots.txt lists, read from
        the bytes Scrapy's RobotsTxtMiddleware fetched (``RobotsTxtParser.body``)."""
        parts = urlsplit(request.url)
        robots_url = f"{parts.scheme}://{parts.netloc}/robots.txt"
        body = getattr(robotparser, "body", None)
        if robots_url not in self.robots_pending or body is None:
            return
        self.robots_pending.discard(robots_url)
        for sitemap in self._robots_sitemaps(body, robots_url):
            self.crawler.engine.crawl(sitemap)

    def sitemap_failed(self, failure: Any) -> None:
        self.crawler.stats.inc_value("sitemap/failed")
        request = failure.request
        why = request.meta.get("kb_refused") or download_failure_reason(failure.value)
        optional = request.url.endswith("/robots.txt") or request.meta.get("kb_llms_txt")
        if why in (("http_404", None), ("http_410", None)) and optional:
            return  # no robots.txt (or llms.txt): a normal answer, not a loss
        if why is not None:
            self.skip(
                normalize_url(request.url), why[0], detail=why[1],
                referer=_referer(request), what="sitemap",
            )  # fmt: skip

    @property
    def sync(self) -> SyncState | None:
        """This run's sync state (the :class:`SyncRun` extension's); None without it."""
        return self.sync_run.state if self.sync_run is not None else None

    def unchanged(self, url: str, depth: int) -> list[Request]:
        """A page the sync found unchanged without downloading it (lastmod, 304): it counts
        as reached, and the requests of the links it had last time, so its children are still
        reached."""
        self.content_reached(url)  # delivered earlier: a canonical copy settles on it
        if self.sync is None or not self.site.follow_links or depth >= self.site.max_depth:
            return []
        return [
            self.page_request(link, depth + 1, referer=url)
            for link in self.sync.stored_links(url)
            if self.url_wanted(link)
        ]

    # -- pages ----------------------------------------------------------------------
    async def parse_page(self, response: Response) -> AsyncIterator[Any]:
        stats = self.crawler.stats
        meta = response.meta
        depth = meta.get("kb_depth", 0)
        url = normalize_url(response.url)
        referer = _referer(response.request)
        # A redirect chain: the URLs asked for before this one are not delivered as such.
        origins = [normalize_url(u) for u in meta.get("redirect_urls", ())]
        origins = [u for u in dict.fromkeys(origins) if u != url]
        if not self.url_wanted(url):  # a redirect may have left the site
            reason = self.refusal_of(url)
            for origin in origins or [url]:
                self.skip(origin, reason, detail=url, referer=referer, depth=depth)
            return
        for origin in origins:
            self.skip(origin, "redirect", detail=url, referer=referer, depth=depth)
        ctype = (response.headers.get(b"Content-Type") or b"").decode("latin-1")
        kind = document_kind(ctype, url, self.site.documents) if self.site.documents else None
        if kind is None and not self.is_html(response):
            self.skip(url, "not_html", detail=ctype or None, referer=referer, depth=depth)
            if self.sync is not None:
                self.sync.mark_seen(url)
            return
        if self.pages_sent_to_extraction >= self.site.max_pages:
            self.skip(url, "max_pages", referer=referer, depth=depth)
            self.truncated = True
            raise CloseSpider("max_pages")
        self.pages_sent_to_extraction += 1
        if self.pages_sent_to_extraction == self.site.max_pages:
            logger.info(
                "max_pages (%d) reached: no more pages will be extracted", self.site.max_pages
            )
        # The worker decides noindex/nofollow from this header and the page's <meta> tags.
        header = header_directives(response.headers.getlist(b"X-Robots-Tag"), self.bots)
        if kind is not None:
            async for item in self.parse_document(response, kind, header, origins):
                yield item
            return
        # Links are read at max_depth too, to record what lies beyond it.
        # The knowledge-base pipeline's current split limit: the worker splits there.
        rendered = self.render.rendered(response) if self.render else None
        result = await self._extracted(
            response, self.pool.run,
            response.text, response.url, self.options, self.site.name,
            MAX_LINKS_PER_PAGE if self.site.follow_links else 0, self._split_at(url),
            self.render is not None and self.render.checks_shell(rendered), header,
        )  # fmt: skip
        if result is None:
            return
        page = result.page
        stats.inc_value("extract/pages")
        if self.render is not None:
            render = self.render.after_extraction(url, result, rendered)
            if render is not None:
                self.pages_sent_to_extraction -= 1  # counted once, when rendered
                yield self.page_request(
                    url, depth, meta.get("kb_lastmod"), referer=referer, dont_filter=True,
                    render=render,
                )  # fmt: skip
                return
        if result.discovery_error:
            stats.inc_value("discovery/parse_error")
            logger.warning("Could not parse %s: %s", response.url, result.discovery_error)
        if page.extractor:
            stats.inc_value(f"extract/path/{page.extractor}")
        if result.links_dropped:
            stats.inc_value("discovery/links_over_limit", result.links_dropped)
        links = self._links_followed(result.links, url, depth)
        for link in links:
            yield self.page_request(link, depth + 1, referer=url)

        canonical = page.canonical_url
        if canonical and not meta.get("kb_self"):
            canonical = normalize_url(canonical)
            if canonical != url and canonical not in origins and self.url_wanted(canonical):
                # rel=canonical inside the crawl: this page is a copy of that one, delivered
                # there; or here, at the end of the run, if that URL gives no document.
                if self.sync is not None:
                    self.sync.mark_seen(url)
                if url_key(canonical) in self.itemized:
                    self.skip(url, "canonical", detail=canonical, referer=referer, depth=depth)
                else:
                    self.deferred.setdefault(canonical, []).append((url, depth, referer))
                    yield self.page_request(canonical, depth, referer=url)
                return
        item = self._outcome(response, result, links, origins)
        if item is not None:
            yield item

    async def parse_document(
        self, response: Response, kind: str, header: RobotsDirectives, origins: list[str]
    ) -> AsyncIterator[Any]:
        """A linked PDF or DOCX (``kind``; ``header`` its ``X-Robots-Tag`` directives):
        extracted in the worker pool (:func:`crawler.extract.worker.process_document`), then
        delivered like a page."""
        result = await self._extracted(
            response, self.pool.run_document,
            response.body, response.url, kind, self.options,
            self._split_at(normalize_url(response.url)), header,
        )  # fmt: skip
        if result is None:
            return
        self.crawler.stats.inc_value(f"documents/{kind}")
        item = self._outcome(response, result, [], origins)
        if item is not None:
            yield item

    def _split_at(self, url: str) -> tuple[str, int] | None:
        """(document URL, characters) where the worker splits: the knowledge-base
        pipeline's current split limit; None without that pipeline."""
        pipeline = self.crawler.get_item_pipeline(KnowledgeBasePipeline)
        return (url, pipeline.max_chars) if pipeline is not None and pipeline.max_chars else None

    async def _extracted(self, response: Response, run: Any, *args: Any) -> PageResult | None:
        """``await run(*args)`` (the pool); None, recorded, when the worker failed."""
        try:
            return await run(*args)
        except PageFailed as exc:
            self.crawler.stats.inc_value(f"extract/failed/{exc.reason}")
            logger.warning("Extraction failed (%s): %s", exc.reason, response.url)
            self.skip(
                normalize_url(response.url), "extraction_failed", detail=exc.reason,
                referer=_referer(response.request), depth=response.meta.get("kb_depth", 0),
            )  # fmt: skip
            return None

    def _outcome(
        self, response: Response, result: PageResult, links: list[str], origins: list[str]
    ) -> PageItem | None:
        """The item of an extracted page or document, or None when the worker gave it a
        skip reason (recorded with it, the sync state told it was seen)."""
        url = normalize_url(response.url)
        reason = result.page.skip_reason
        if reason:
            detail = None
            if reason == "not_html":  # a binary body served as HTML
                detail = (response.headers.get(b"Content-Type") or b"").decode("latin-1") or None
            self.skip(
                url, reason, detail=detail,
                referer=_referer(response.request), depth=response.meta.get("kb_depth", 0),
            )  # fmt: skip
            if self.sync is not None:
                self.sync.mark_seen(url)
                self.sync.record_page(url, links=links, **self._validators(response))
            return None
        self.crawler.stats.inc_value(f"lang/{result.page.language}")
        self.crawler.stats.inc_value("discovery/content_pages")
        self.content_reached(url, *origins)
        return self.page_item(url, result, response, links)

    def content_reached(self, *urls: str) -> None:
        """These URLs gave a document (or are unchanged since one was delivered): pages that
        named one of them as canonical are settled as ``canonical`` copies."""
        for url in urls:
            self.itemized.add(url_key(url))
            for page_url, depth, referer in self.deferred.pop(url, ()):
                self.skip(page_url, "canonical", detail=url, referer=referer, depth=depth)

    def _links_followed(self, found: list[str], url: str, depth: int) -> list[str]:
        """The links of a page this crawl follows; the others are recorded (or kept for
        the end of the run when they lie beyond max_depth)."""
        links = []
        for link in found:
            if not self.url_wanted(link):
                self.refuse_link(link, url, depth + 1)
            elif depth >= self.site.max_depth:
                if link in self.beyond_depth:
                    continue
                if len(self.beyond_depth) < self.records_per_reason:
                    self.beyond_depth[link] = (url, depth + 1)
                else:
                    self.beyond_depth_unlisted += 1
            else:
                links.append(link)
        return links

    def page_item(
        self, url: str, result: PageResult, response: Response, links: list[str]
    ) -> PageItem:
        """The item of a page the worker extracted (``result``) and did not skip."""
        page = result.page
        lastmod = response.meta.get("kb_lastmod")
        document = build_document(
            url=url,
            title=page.title,
            content=page.content,
            language=page.language,
            site=self.site.name,
            crawled_at=datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
            site_metadata=dict(self.site.metadata),
            page_metadata={
                "description": page.description,
                "author": page.author,
                "published": page.published,
                "modified": page.modified,
                "lastmod": lastmod,
            },
        )
        return PageItem(
            url=url,
            document=document,
            content_hash=page.content_hash,
            anchors=page.anchors,
            lastmod=lastmod,
            links=links,
            parts=result.parts,
            parts_limit=result.parts_limit,
            **self._validators(response),
        )

    @staticmethod
    def _validators(response: Response) -> dict[str, str | None]:
        def header(name: bytes) -> str | None:
            value = response.headers.get(name)
            return value.decode("latin-1") if value else None

        return {"etag": header(b"ETag"), "last_modified": header(b"Last-Modified")}

    @staticmethod
    def is_html(response: Response) -> bool:
        """Whether ``response`` is an HTML page to extract (its Content-Type, or without one
        an ``<html`` in its first 4 KB); the crawl's rule, asked by ``kb-explain`` too."""
        if not isinstance(response, TextResponse):
            return False
        ctype = (response.headers.get(b"Content-Type") or b"").lower()
        if ctype and not any(t in ctype for t in _HTML_TYPES):
            return False
        return isinstance(response, HtmlResponse) or b"<html" in response.body[:4096].lower()

    def page_failed(self, failure: Any) -> None:
        """Download errors and refusals (404, DNS, timeouts, robots.txt): recorded.

        404/410 tell the sync state the page is gone; anything else (timeouts, 5xx, 403,
        429) says nothing about the page, so this run must not count it as missed.
        """
        request = failure.request
        url = normalize_url(request.url)
        why = request.meta.get("kb_refused") or download_failure_reason(failure.value)
        if why is None:  # not modified (304): the page is unchanged, not lost
            return
        reason, detail = why
        response = getattr(failure.value, "response", None)
        status = getattr(response, "status", None)
        if self.render is not None and status is None:  # the browser failed: render_failed
            reason, detail = self.render.failure_reason(request, failure.value, reason, detail)
        if status is not None:
            self.crawler.stats.inc_value(f"download/failed/{status}")
        elif reason not in REFUSALS:  # refused before the download: not a download failure
            self.crawler.stats.inc_value(f"download/failed/{type(failure.value).__name__}")
        origins = [normalize_url(u) for u in request.meta.get("redirect_urls", ())]
        depth = request.meta.get("kb_depth")
        self.skip(
            origins[0] if origins else url,
            reason,
            detail=detail if not origins else f"{detail or reason} at {url}",
            referer=_referer(request),
            depth=depth,
        )
        if self.sync is not None and status not in (404, 410) and reason not in REFUSALS:
            self.sync.mark_uncertain(url)


def _referer(request: Request | None) -> str | None:
    """Where a request's URL was found: ours (meta), else Scrapy's Referer header, or None."""
    if request is None:
        return None
    if request.meta.get("kb_referer"):
        return request.meta["kb_referer"]
    value = request.headers.get(b"Referer")
    return value.decode("latin-1") if value else None
