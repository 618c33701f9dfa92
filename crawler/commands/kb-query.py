"""``scrapy kb-query <site> "question"``: what the knowledge base answers, and from which pages.

``POST {KB_API_URL}/chat/query`` with the site's chat model id; prints the answer, then the
sources with relevance, title and URL (from the sync state's document ids).
"""

from __future__ import annotations

import json
import textwrap
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
        return '[options] <site> "question"'

    def short_desc(self) -> str:
        return "Ask a site's knowledge base a question: its answer and the pages it used"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        group = self.add_site_options(parser, "kb-query options")
        group.add_argument("--max-tokens", type=int, default=None, help="options.maxTokens")
        group.add_argument("--temperature", type=float, default=None, help="options.temperature")

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) != 2 or not args[1].strip():
            raise UsageError('give a site and a question: scrapy kb-query <site> "question"')
        name, question = args
        assert self.settings is not None
        settings = self.settings

        async def ask(client: QueryClient, site: SiteConfig) -> list[str]:
            answer, sources = await client.query(
                question, max_tokens=opts.max_tokens, temperature=opts.temperature
            )
            urls = urls_of_documents(state_dir(settings), site.name, [s.id or "" for s in sources])
            if opts.json:
                data = {"answer": answer, "sources": source_rows(sources, urls)}
                return [json.dumps(data, indent=2, ensure_ascii=False)]
            lines = ["Answer:", *textwrap.wrap(answer or "(empty)", 96, initial_indent="  ",
                                               subsequent_indent="  ")]  # fmt: skip
            lines.append(f"Sources ({len(sources)}):" if sources else "Sources: none")
            return lines + source_lines(sources, urls)

        self.exitcode = run_kb_call(settings, name, self.config_arg(opts), ask)
