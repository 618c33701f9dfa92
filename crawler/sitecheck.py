"""``scrapy kb-check --live``: what a full run of a site would meet, before running it.

robots.txt and the sitemaps are fetched with the crawl's politeness and size limits
(:class:`crawler.sitefetch.PoliteFetcher`), read with Scrapy's own sitemap and robots.txt
parsers, and filtered with the spider's own rules (``url_wanted``) and the same limits as
the crawl (index depth, entries per file, decompressed size).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from scrapy.utils.misc import load_object
from scrapy.utils.sitemap import Sitemap

from crawler.runrecords import url_key
from crawler.sitefetch import FetchError, PoliteFetcher
from crawler.sitefiles import DecompressedTooLarge, robots_sitemap_urls, sitemap_body
from crawler.spiders.site import MAX_SITEMAP_DEPTH, MAX_SITEMAP_ENTRIES
from crawler.urls import host_of, normalize_url

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings

    from crawler.spiders.site import SiteSpider

SAMPLE = 5
MAX_DISTINCT = 1_000_000  # URLs deduplicated by key; memory stays under ~100 MB


@dataclass
class LiveReport:
    """What ``kb-check --live`` found for one site (counts, samples, problems, estimate)."""

    robots: list[str] = field(default_factory=list)  # one line per host / start URL
    problems: list[str] = field(default_factory=list)  # findings that make the check fail
    notes: list[str] = field(default_factory=list)
    sitemaps_read: int = 0
    listed: int = 0
    kept: int = 0  # distinct URLs the rules keep (approximate past MAX_DISTINCT)
    kept_sample: list[str] = field(default_factory=list)
    dropped: int = 0
    dropped_sample: list[str] = field(default_factory=list)
    disallowed: int = 0
    requests: int = 0
    estimate: dict[str, float] = field(default_factory=dict)


def live_check(spider: SiteSpider, settings: BaseSettings, max_sitemaps: int) -> LiveReport:
    """Fetch robots.txt and the sitemaps of ``spider``'s site; at most ``max_sitemaps`` files."""
    site = spider.site
    report = LiveReport()
    obey = settings.getbool("ROBOTSTXT_OBEY")
    parsers: dict[str, Any] = {}  # site root -> ROBOTSTXT_PARSER instance (None: allow all)
    listed: dict[str, list[str]] = {}  # site root -> the Sitemap: lines of its robots.txt
    robots_parser = load_object(settings["ROBOTSTXT_PARSER"])
    with PoliteFetcher(settings, site) as fetcher:
        agent = fetcher.user_agent

        def robots_of(url: str) -> Any:
            parts = urlsplit(url)
            base = f"{parts.scheme}://{parts.netloc}"
            if base not in parsers:
                parsers[base] = None
                try:
                    response, _ = fetcher.get(f"{base}/robots.txt")
                except FetchError as exc:
                    report.robots.append(f"{base}/robots.txt: not fetched ({exc})")
                    return None
                if response.status >= 400:
                    report.robots.append(f"{base}/robots.txt: HTTP {response.status} (all allowed)")
                    return None
                parser = robots_parser(response.body, None)
                delay = parser.crawl_delay(agent)
                if delay:
                    fetcher.host_delay(host_of(url), delay)
                found = list(robots_sitemap_urls(response.body, response.url))
                listed[base] = found
                report.robots.append(
                    f"{base}/robots.txt: HTTP {response.status}, "
                    f"Crawl-delay {f'{delay:g}s' if delay else 'none'}, "
                    f"{len(found)} sitemap(s) listed"
                )
                parsers[base] = parser
            return parsers[base]

        for url in site.start_urls:
            parser = robots_of(url)
            allowed = parser is None or not obey or parser.allowed(url, agent)
            report.robots.append(f"  {'allowed   ' if allowed else 'DISALLOWED'} {url}")
            if not allowed:
                report.problems.append(f"robots.txt disallows the start URL {url}")

        # Without sitemap_urls the sitemaps are those robots.txt lists, read above once: a
        # missing robots.txt means "all allowed, no sitemap", not a problem.
        queue: list[tuple[str, int]] = [(u, 0) for u in site.sitemap_urls]
        if not site.sitemap_urls:
            for url in site.start_urls:
                parts = urlsplit(url)
                for found in listed.get(f"{parts.scheme}://{parts.netloc}", []):
                    if spider.on_site(found):
                        queue.append((found, 0))
        seen: set[str] = set()
        kept: set[int] = set()  # url_key of kept URLs: 8 bytes each, not the URL
        over_distinct = False
        max_size = settings.getint("DOWNLOAD_MAXSIZE")
        while queue:
            url, level = queue.pop(0)
            if url in seen:
                continue
            seen.add(url)
            if report.sitemaps_read >= max_sitemaps:
                report.notes.append(
                    f"stopped after {max_sitemaps} sitemap files (KB_CHECK_MAX_SITEMAPS): "
                    "the counts are a lower bound"
                )
                break
            try:
                response, _ = fetcher.get(url)
            except FetchError as exc:
                report.problems.append(f"sitemap {url} could not be fetched: {exc}")
                continue
            if response.status >= 400:
                report.problems.append(f"sitemap {url}: HTTP {response.status}")
                continue
            try:
                body = sitemap_body(response, max_size)
            except DecompressedTooLarge:
                report.problems.append(f"{url} inflates beyond {max_size} bytes")
                continue
            if body is None:
                report.problems.append(f"{url} is not a usable sitemap")
                continue
            report.sitemaps_read += 1
            sitemap = Sitemap(body)
            for count, entry in enumerate(sitemap, 1):
                if count > MAX_SITEMAP_ENTRIES:
                    report.notes.append(f"{url}: over {MAX_SITEMAP_ENTRIES} entries, rest ignored")
                    break
                loc = entry.get("loc", "")
                if not loc.startswith(("http://", "https://")):
                    continue
                if sitemap.type == "sitemapindex":
                    if level + 1 < MAX_SITEMAP_DEPTH and spider.on_site(loc):
                        queue.append((loc, level + 1))
                    continue
                report.listed += 1
                page = normalize_url(loc)
                if not spider.url_wanted(page):
                    report.dropped += 1
                    if len(report.dropped_sample) < SAMPLE:
                        report.dropped_sample.append(page)
                    continue
                parser = parsers.get(f"{urlsplit(page).scheme}://{urlsplit(page).netloc}")
                if obey and parser is not None and not parser.allowed(page, agent):
                    report.disallowed += 1
                    continue
                key = url_key(page)
                if key in kept:
                    continue
                if len(kept) < MAX_DISTINCT:
                    kept.add(key)
                elif not over_distinct:
                    over_distinct = True
                    report.notes.append(
                        f"over {MAX_DISTINCT} distinct URLs: later duplicates are counted too"
                    )
                report.kept += 1
                if len(report.kept_sample) < SAMPLE:
                    report.kept_sample.append(page)
        report.requests = fetcher.requests
        delay = fetcher.delay
    if not site.sitemap_urls and not report.sitemaps_read:
        report.notes.append("no sitemap found: pages are only reached through links")
    starts = [normalize_url(u) for u in site.start_urls]
    extra = sum(1 for u in starts if spider.url_wanted(u) and url_key(u) not in kept)
    report.estimate = estimate(spider, settings, report.kept + extra, delay)
    if report.estimate["pages"] == 0:
        report.problems.append("a run would crawl nothing: no start URL and no kept sitemap URL")
    return report


def estimate(
    spider: SiteSpider, settings: BaseSettings, urls: int, delay: float
) -> dict[str, float]:
    """A full run's size from the sitemaps: pages, documents (one per page at least), import
    requests (``KB_MAX_BATCH_DOCS`` per request), minutes the import rate limit needs
    (``KB_IMPORT_RATE_PER_MIN``), and minutes of downloads at the politeness delay."""
    site = spider.site
    pages = min(urls, site.max_pages)
    per_request = max(1, min(100, settings.getint("KB_MAX_BATCH_DOCS")))
    requests = math.ceil(pages / per_request)
    rate = settings.getfloat("KB_IMPORT_RATE_PER_MIN")
    return {
        "pages": pages,
        "documents": pages,
        "import_requests": requests,
        "import_minutes": round(requests / rate, 2) if rate > 0 else 0.0,
        "download_minutes": round(pages * delay / 60, 2),
        "more_through_links": bool(site.follow_links),
        "capped_by_max_pages": pages == site.max_pages,
    }


def render_live(report: LiveReport, settings: BaseSettings) -> list[str]:
    """The indented lines ``kb-check --live`` prints under a site."""
    lines = [f"  {line}" for line in report.robots]
    lines.append(
        f"  sitemaps: {report.sitemaps_read} read, {report.listed} URLs listed, "
        f"{report.kept} kept by the rules, {report.dropped} dropped by the rules, "
        f"{report.disallowed} disallowed by robots.txt"
    )
    lines += [f"    kept:    {url}" for url in report.kept_sample]
    lines += [f"    dropped: {url}" for url in report.dropped_sample]
    e = report.estimate
    more = " (more through links)" if e["more_through_links"] else ""
    cap = " (max_pages)" if e["capped_by_max_pages"] else ""
    lines.append(
        f"  estimate of a full run: {e['pages']} pages{cap}{more}, at least {e['documents']} "
        f"documents, {e['import_requests']} import requests, {e['import_minutes']:g} min at "
        f"{settings.getfloat('KB_IMPORT_RATE_PER_MIN'):g} requests/min; downloads "
        + (
            f"at least {e['download_minutes']:g} min at the politeness delay"
            if e["download_minutes"]
            else "as fast as AutoThrottle allows (no fixed delay)"
        )
    )
    lines += [f"  note: {note}" for note in report.notes]
    lines += [f"  PROBLEM: {problem}" for problem in report.problems]
    lines.append(f"  ({report.requests} requests made)")
    return lines
