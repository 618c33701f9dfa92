"""Downloader middlewares: where requests may go, and conditional GETs for sync."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from scrapy import Request, signals
from scrapy.downloadermiddlewares.offsite import OffsiteMiddleware as ScrapyOffsiteMiddleware
from scrapy.exceptions import IgnoreRequest, NotConfigured

from crawler.access import resolve_credentials
from crawler.extensions.sync import SyncRun
from crawler.runrecords import download_failure_reason
from crawler.scrapy_compat import hold_slot_delay
from crawler.spiders import site_spider_of
from crawler.urls import host_allowed, host_of, is_private_host, normalize_url
from pipelines.redact import install_redaction

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Spider
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.robotstxt import RobotParser

    from crawler.config import SiteConfig

logger = logging.getLogger(__name__)


def private_host_refused(host: str, site: SiteConfig | None) -> bool:
    """True for a loopback/private address the site file does not name (never fetched).

    Named means: in ``allowed_domains`` (or the entry points' hosts), ``start_urls`` or
    ``sitemap_urls``. Public hosts are never refused here.
    """
    if not is_private_host(host):
        return False
    named = set(site.domains) if site is not None else set()
    if site is not None:
        named.update(host_of(u) for u in [*site.start_urls, *site.sitemap_urls])
    return host not in named


class NetworkTracebackFilter(logging.Filter):
    """Drops the traceback from Scrapy's "Error downloading …robots.txt" log line when the
    cause is the network (DNS, refused, timeout): an unreachable site is one clear line
    (and exit status 8), not a traceback. Other errors keep theirs."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            why = download_failure_reason(record.exc_info[1])
            if why is not None and why[0] in ("dns", "connection", "timeout"):
                record.exc_info = None
                record.exc_text = None
        return True


def quiet_network_tracebacks() -> None:
    """Install :class:`NetworkTracebackFilter` on Scrapy's robots.txt logger (once)."""
    robots_logger = logging.getLogger("scrapy.downloadermiddlewares.robotstxt")
    if not any(isinstance(f, NetworkTracebackFilter) for f in robots_logger.filters):
        robots_logger.addFilter(NetworkTracebackFilter())


def offsite_allows(
    url: str, spider: Spider, offsite: ScrapyOffsiteMiddleware | None = None
) -> bool:
    """Whether Scrapy's OffsiteMiddleware lets ``url`` through for ``spider``'s
    ``allowed_domains`` (the domains and their subdomains): the crawl's one host rule, asked
    of the running middleware ``offsite``, else of a new one (the rule, not its filtering).
    False for a URL Scrapy could not request (mailto:, no scheme)."""
    try:
        return (offsite or ScrapyOffsiteMiddleware(stats=None)).should_follow(Request(url), spider)
    except ValueError:
        return False


class OffsiteMiddleware(ScrapyOffsiteMiddleware):
    """Scrapy's OffsiteMiddleware, the crawl's one host rule (``allowed_domains`` and their
    subdomains; ``allow_offsite`` meta and ``dont_filter`` exempt), with what it drops recorded.

    Scrapy drops an off-site request when it is scheduled (a redirect leaving the site, a
    start URL outside ``allowed_domains``) with no errback and no ``request_dropped`` signal:
    a site file's spider (:func:`crawler.spiders.site_spider_of`) records it with its
    ``offsite_dropped(request)`` (reason ``offsite``); any other spider's are only dropped.
    A request refused at download time goes to its errback, as in Scrapy.
    """

    def request_scheduled(self, request: Request, spider: Spider | None = None) -> None:
        try:
            super().request_scheduled(request, spider)
        except IgnoreRequest:
            site_spider = site_spider_of(self.crawler.spider)
            if site_spider is not None:
                site_spider.offsite_dropped(request)
            raise


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
        site_spider = site_spider_of(self.crawler.spider)  # any spider: every private host
        if private_host_refused(host, site_spider.site if site_spider else None):
            self.crawler.stats.inc_value("discovery/private_host_blocked")
            logger.info("Refusing private address not named in the site file: %s", host)
            request.meta["kb_refused"] = ("private_address", host)  # for the run's records
            raise IgnoreRequest(f"private host {host}")


class ConditionalGetMiddleware:
    """Layer 2 of incremental sync: If-None-Match / If-Modified-Since, and 304s.

    Validators are sent only for pages whose last version was delivered (the sync
    state says so); a 304 marks the page seen, replays its stored links, and stops
    there: nothing to extract.
    """

    def __init__(self, crawler: Crawler, run: SyncRun):
        self.crawler = crawler
        self.run = run

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        run = crawler.get_extension(SyncRun)
        if run is None:
            raise NotConfigured("the SyncRun extension is off")
        return cls(crawler, run)

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        if not request.meta.get("kb_page"):
            return
        etag, last_modified = self.run.validators(normalize_url(request.url))
        if etag:
            request.headers.setdefault(b"If-None-Match", etag)
        if last_modified:
            request.headers.setdefault(b"If-Modified-Since", last_modified)

    def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Response:
        if response.status != 304 or not request.meta.get("kb_page"):
            return response
        url = normalize_url(request.url)
        if not self.run.not_modified(url):
            return response
        for follow in self.crawler.spider.unchanged(url, request.meta.get("kb_depth", 0)):
            self.crawler.engine.crawl(follow)
        raise IgnoreRequest("not modified")


class CrawlDelayMiddleware:
    """Honour robots.txt ``Crawl-delay`` for our user agent (Scrapy parses it, never applies it).

    The delay becomes the host's download-slot delay, and AutoThrottle is told not to
    lower it (``autothrottle_dont_adjust_delay``). Capped at ``MAX_DELAY`` so a hostile
    robots.txt cannot stall a crawl for days. Off (``NotConfigured``) without ``ROBOTSTXT_OBEY``.
    """

    MAX_DELAY = 60.0

    def __init__(self, crawler: Crawler):
        if not crawler.settings.getbool("ROBOTSTXT_OBEY"):
            raise NotConfigured  # no robots.txt is read: there is no Crawl-delay to honour
        self.crawler = crawler
        self.delays: dict[str, float] = {}
        settings = crawler.settings
        self.user_agent = settings.get("ROBOTSTXT_USER_AGENT") or settings.get("USER_AGENT")
        crawler.signals.connect(self.robots_parsed, signal=signals.robots_parsed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def robots_parsed(self, robotparser: RobotParser, request: Request) -> None:
        try:
            delay = robotparser.crawl_delay(self.user_agent)
        except Exception:  # a parser without crawl_delay support
            return
        if not delay or delay <= 0:
            return
        delay = min(float(delay), self.MAX_DELAY)
        host = host_of(request.url)
        self.delays[host] = delay
        self.crawler.stats.set_value(f"robotstxt/crawl_delay/{host}", delay)
        logger.info("robots.txt of %s asks for Crawl-delay %.1fs: honoured", host, delay)
        # The site's delay is a minimum: no AutoThrottle lowering it, no random jitter below it.
        hold_slot_delay(self.crawler.engine.downloader, host, delay)

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        host = host_of(request.url)
        delay = self.delays.get(host)
        if delay is None:
            return
        request.meta["autothrottle_dont_adjust_delay"] = True
        hold_slot_delay(self.crawler.engine.downloader, host, delay)


class SiteCredentialsMiddleware:
    """The site file's ``headers``, ``cookies`` and ``http_auth``, on requests to its hosts only.

    Added to every request (pages, sitemaps, robots.txt, llms.txt) whose host is one of the
    site's domains (``allowed_domains`` or the entry points' hosts, subdomains included), right
    before download; removed from any other request, so a redirect off the site (Scrapy's
    redirect keeps custom headers, and a Cookie on another port) never carries them. Removed
    again when a request goes back to the scheduler (redirects, retries), so the on-disk queue
    never holds them. Cookies are one ``Cookie`` header (COOKIES_ENABLED stays False: the
    crawl keeps no cookie jar, a ``Set-Cookie`` answer changes nothing). The secrets are masked
    in every log line (:mod:`pipelines.redact`).
    """

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.headers: dict[bytes, bytes] = {}
        self.domains: list[str] = []
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.request_scheduled, signal=signals.request_scheduled)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def spider_opened(self, spider: Spider | None = None) -> None:
        site_spider = site_spider_of(self.crawler.spider)
        if site_spider is None or site_spider.flush_only:  # no site file: no credentials
            return
        site = site_spider.site
        try:  # checked by the crawl command before the run (exit 2)
            credentials = resolve_credentials(site.headers, site.cookies, site.http_auth)
        except ValueError as exc:  # e.g. `scrapy shell`, which skips that check
            logger.error("Site credentials not sent: %s", exc)
            return
        if credentials is None:
            return
        for secret in credentials.secrets:
            install_redaction(secret)
        self.headers = {
            name.encode("latin-1"): value.encode("latin-1")
            for name, value in credentials.headers.items()
        }
        self.domains = list(site.domains)
        logger.info(
            "Site credentials (%s) are sent to %s only",
            ", ".join(credentials.headers), ", ".join(self.domains),
        )  # fmt: skip

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        if not self.headers:
            return
        if host_allowed(host_of(request.url), self.domains):
            for name, value in self.headers.items():
                request.headers[name] = value
            self.crawler.stats.inc_value("access/credentials_sent")
        else:
            self._strip(request)

    def request_scheduled(self, request: Request, spider: Spider | None = None) -> None:
        """Before a request is queued (on disk): no secret goes with it."""
        self._strip(request)

    def _strip(self, request: Request) -> None:
        for name in self.headers:
            request.headers.pop(name, None)
