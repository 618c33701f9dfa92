"""``scrapy kb-explain <site> <url>``: would this URL be crawled and delivered, and if not, why.

Rule by rule (see :mod:`crawler.explain`), then what the last runs recorded, then the
document(s) the page gives today (fetched once, politely). ``--json`` for scripts.
Exit status 0 when the URL was explained (whatever the verdict), 2 for a usage mistake.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

from scrapy.exceptions import UsageError

from crawler.config import ConfigError
from crawler.explain import explain_url, render_text
from crawler.sitecommands import (
    EXIT_USAGE,
    SiteCommand,
    config_error_line,
    outbox_dir,
    site_spider,
    state_dir,
)

if TYPE_CHECKING:
    import argparse


class Command(SiteCommand):
    def syntax(self) -> str:
        return "[options] <site> <url>"

    def short_desc(self) -> str:
        return "Explain, rule by rule, whether and why a URL is (not) in the knowledge base"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        group = self.add_site_options(parser, "kb-explain options")
        group.add_argument(
            "--no-fetch", action="store_true", help="only the rules that need no request"
        )

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) != 2:
            raise UsageError("give a site and a URL: scrapy kb-explain <site> <url>")
        name, url = args
        if not url.startswith(("http://", "https://")):
            raise UsageError(f"{url!r} is not an http(s) URL", print_help=False)
        assert self.settings is not None
        try:
            spider = site_spider(self.settings, name, self.config_arg(opts))
        except ConfigError as exc:
            print(config_error_line(exc), file=sys.stderr)
            self.exitcode = EXIT_USAGE
            return
        explanation = explain_url(
            spider, self.settings, url, state_dir(self.settings), outbox_dir(self.settings),
            fetch=not opts.no_fetch,
        )  # fmt: skip
        if opts.json:
            print(json.dumps(explanation.to_dict(), indent=2, ensure_ascii=False))
        else:
            print(render_text(explanation))
