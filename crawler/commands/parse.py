"""``scrapy parse``: Scrapy's own, made to work on a site with no extra flags.

``scrapy parse --spider <site> <url>`` (or just ``scrapy parse <url>``: the site whose
allowed domains hold the URL's host) runs the spider's page rules on one URL and prints
the documents it gives, exactly as they would be posted (split parts included); ``-O
documents.jsonl`` writes them, one per line. Nothing else changes: no sync state, lock,
run report or outbox (the item pipelines are off), so it never alters the next crawl.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from scrapy import Request, Spider
from scrapy.commands.parse import Command as ScrapyParseCommand
from scrapy.utils.defer import maybe_deferred_to_future

from crawler.config import ConfigError, load_packaged_site, packaged_site_files
from crawler.exitstatus import EXIT_CONFIG
from crawler.explain import documents_of, learned_limit
from crawler.items import PageItem
from crawler.middlewares import offsite_allows
from crawler.settings_check import check_kb_settings
from crawler.sitecommands import state_dir
from crawler.spiders.site import SiteSpider

if TYPE_CHECKING:
    import argparse
    from collections.abc import AsyncIterator, Callable

    from scrapy.http import Response

DOCUMENTS_CALLBACK = "parse_documents"


async def parse_documents(self: SiteSpider, response: Response) -> AsyncIterator[Any]:
    """The spider's ``parse_page``, its page item turned into the documents it posts."""
    limit = self.site.max_document_chars
    learned = learned_limit(state_dir(self.crawler.settings), self.site.name)
    max_chars = min(limit, learned or limit)
    async for output in self.parse_page(response):
        if isinstance(output, PageItem):
            for document in documents_of(output, max_chars):
                yield document
        else:
            yield output


def awaiting(callback: Callable[..., Any]) -> Callable[..., Any]:
    """``callback`` (Scrapy's parse wrapper, which returns a Deferred) as a coroutine function:
    a spider callback returning a Deferred is deprecated (ScrapyDeprecationWarning)."""

    async def wrapper(response: Response, **cb_kwargs: Any) -> Any:
        return await maybe_deferred_to_future(callback(response, **cb_kwargs))

    wrapper.__name__ = getattr(callback, "__name__", "callback")
    return wrapper


def site_for_url(url: str) -> str | None:
    """The packaged site whose spider would crawl ``url`` (first by name): the crawl's host
    rule (:func:`crawler.middlewares.offsite_allows`) on each site file's allowed domains."""
    for stem in packaged_site_files():
        try:
            site = load_packaged_site(stem)
        except ConfigError:
            continue
        if offsite_allows(url, Spider(stem, allowed_domains=site.domains)):
            return stem
    return None


class Command(ScrapyParseCommand):
    def long_desc(self) -> str:
        return (
            "Parse a URL with a site's spider and print the documents it would post "
            "(-O FILE.jsonl writes them); the sync state and outbox are not touched"
        )

    def process_options(self, args: list[str], opts: argparse.Namespace) -> None:
        super().process_options(args, opts)
        assert self.settings is not None
        # Show, never deliver or record: no sync state, lock, run report or outbox.
        self.settings.set("ITEM_PIPELINES", {}, priority="cmdline")
        self.settings.set("KB_SYNC_ENABLED", False, priority="cmdline")
        self.settings.set("KB_PROGRESS_SECONDS", 0, priority="cmdline")
        # Scrapy's parse hands items to the feed exports only when it sees -o; -O counts too.
        if getattr(opts, "overwrite_output", None) and not opts.output:
            opts.output = opts.overwrite_output

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        """Scrapy's parse, after the ``KB_*`` settings are checked as ``scrapy crawl`` checks
        them: a bad value is one line and exit status 2, before any request."""
        assert self.settings is not None
        problems, _ = check_kb_settings(self.settings)
        if problems:
            print(f"kbcrawler: bad setting: {'; '.join(problems)}", file=sys.stderr)
            self.exitcode = EXIT_CONFIG
            return
        super().run(args, opts)

    def prepare_request(
        self, spider: Spider, request: Request, opts: argparse.Namespace
    ) -> Request:
        request = super().prepare_request(spider, request, opts)
        request.callback = awaiting(request.callback)
        return request

    def scraped_data(self, args: Any) -> list[Any]:
        output = super().scraped_data(args)
        for request in output:  # the follow-up requests (--depth): Scrapy's wrapper again
            if isinstance(request, Request) and request.callback is not None:
                request.callback = awaiting(request.callback)
        return output

    def set_spidercls(self, url: str, opts: argparse.Namespace) -> None:
        if not opts.spider:
            opts.spider = site_for_url(url)
        super().set_spidercls(url, opts)
        spidercls = getattr(self, "spidercls", None)
        if spidercls is not None and issubclass(spidercls, SiteSpider):
            self.spidercls = type(
                spidercls.__name__, (spidercls,),
                {DOCUMENTS_CALLBACK: parse_documents, "__module__": spidercls.__module__},
            )  # fmt: skip
            if not opts.callback and not opts.rules:
                opts.callback = DOCUMENTS_CALLBACK
