"""``scrapy list``: Scrapy's own, plus a warning (stderr) for each site file that would not load.

The list itself is unchanged (scrapyd reads it for ``listspiders.json``), and so is the
exit status: a broken site file is named here, and refused by ``scrapy crawl``.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from scrapy.commands.list import Command as ScrapyListCommand

from crawler.config import ConfigError, load_packaged_site, packaged_site_files

if TYPE_CHECKING:
    import argparse


class Command(ScrapyListCommand):
    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        super().run(args, opts)
        sys.stdout.flush()
        for stem in packaged_site_files():
            try:
                load_packaged_site(stem)
            except ConfigError as exc:
                print(
                    f"kbcrawler: warning: {exc} (`scrapy crawl {stem}` would refuse to start)",
                    file=sys.stderr,
                )
