"""``scrapy kb-flush <site>``: send what the outbox holds, without crawling.

A site file given by path is flushed like it is crawled: ``scrapy kb-flush site -a
config=PATH`` (the command the crawl's hints print after an outage or a refusal).

It runs the site's spider with nothing to fetch, so delivery goes through exactly the
same pipeline (rate limit, retries, splitting, quarantine, sync state, lock).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crawler.commands.crawl import Command as CrawlCommand

if TYPE_CHECKING:
    import argparse


class Command(CrawlCommand):
    def syntax(self) -> str:
        return "[options] <site>  |  [options] site -a config=PATH"

    def short_desc(self) -> str:
        return "Send the batches pending in the outbox of a site, without crawling"

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        opts.spargs["flush"] = "1"
        super().run(args, opts)
