"""``scrapy kb-query <site> "question"``: what the knowledge base answers, and from which pages.

``POST {KB_API_URL}/chat/query`` with the site's chat model id; prints the answer, then the
sources with relevance, title and URL (from the sync state's document ids).
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

from crawler.sitecommands import KnowledgeBaseCommand

if TYPE_CHECKING:
    import argparse

    from pipelines.client import KBClient, Source


class Command(KnowledgeBaseCommand):
    name = "kb-query"
    noun = "question"

    def short_desc(self) -> str:
        return "Ask a site's knowledge base a question: its answer and the pages it used"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        group = self.add_site_options(parser, "kb-query options")
        group.add_argument("--max-tokens", type=int, default=None, help="options.maxTokens")
        group.add_argument("--temperature", type=float, default=None, help="options.temperature")

    async def ask(
        self, client: KBClient, text: str, opts: argparse.Namespace
    ) -> tuple[str | None, list[Source]]:
        return await client.query(text, max_tokens=opts.max_tokens, temperature=opts.temperature)

    def head(self, site: str, text: str, answer: str | None, sources: list[Source]) -> list[str]:
        lines = ["Answer:", *textwrap.wrap(answer or "(empty)", 96, initial_indent="  ",
                                           subsequent_indent="  ")]  # fmt: skip
        return [*lines, f"Sources ({len(sources)}):" if sources else "Sources: none"]
