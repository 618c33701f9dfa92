"""``scrapy kb-search <site> "query"``: the documents the knowledge base finds for a query.

``POST {KB_API_URL}/documents/search`` with the site's chat model id; prints relevance, title
and URL of each (the URL from the answer, else from the sync state's document ids).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from scrapy.exceptions import UsageError

from crawler.sitecommands import (
    SiteCommand,
    run_kb_call,
    source_lines,
    source_rows,
    state_dir,
    urls_of_documents,
)

if TYPE_CHECKING:
    import argparse

    from crawler.config import SiteConfig
    from pipelines.client import QueryClient


class Command(SiteCommand):
    def syntax(self) -> str:
        return '[options] <site> "query"'

    def short_desc(self) -> str:
        return "Search a site's knowledge base: titles, URLs and relevance of what it finds"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        group = self.add_site_options(parser, "kb-search options")
        group.add_argument("--limit", type=int, default=10, help="documents at most (default 10)")

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) != 2 or not args[1].strip():
            raise UsageError('give a site and a query: scrapy kb-search <site> "query"')
        if opts.limit < 1:
            raise UsageError("--limit must be at least 1", print_help=False)
        name, query = args
        assert self.settings is not None
        settings = self.settings

        async def search(client: QueryClient, site: SiteConfig) -> list[str]:
            found = await client.search(query, opts.limit)
            urls = urls_of_documents(state_dir(settings), site.name, [s.id or "" for s in found])
            if opts.json:
                return [json.dumps(source_rows(found, urls), indent=2, ensure_ascii=False)]
            head = f'{len(found)} document(s) for "{query}" in {site.name}\'s knowledge base'
            return [head + (":" if found else "."), *source_lines(found, urls)]

        self.exitcode = run_kb_call(settings, name, self.config_arg(opts), search)
