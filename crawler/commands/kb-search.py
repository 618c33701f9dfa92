"""``scrapy kb-search <site> "query"``: the documents the knowledge base finds for a query.

``POST {KB_API_URL}/documents/search`` with the site's chat model id; prints relevance, title
and URL of each (the URL from the answer, else from the sync state's document ids).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy.exceptions import UsageError

from crawler.sitecommands import KnowledgeBaseCommand

if TYPE_CHECKING:
    import argparse

    from pipelines.client import KBClient, Source


class Command(KnowledgeBaseCommand):
    name = "kb-search"
    noun = "query"

    def short_desc(self) -> str:
        return "Search a site's knowledge base: titles, URLs and relevance of what it finds"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        group = self.add_site_options(parser, "kb-search options")
        group.add_argument("--limit", type=int, default=10, help="documents at most (default 10)")

    def check_options(self, opts: argparse.Namespace) -> None:
        if opts.limit < 1:
            raise UsageError("--limit must be at least 1", print_help=False)

    async def ask(
        self, client: KBClient, text: str, opts: argparse.Namespace
    ) -> tuple[str | None, list[Source]]:
        return None, await client.search(text, opts.limit)

    def head(self, site: str, text: str, answer: str | None, sources: list[Source]) -> list[str]:
        head = f'{len(sources)} document(s) for "{text}" in {site}\'s knowledge base'
        return [head + (":" if sources else ".")]
