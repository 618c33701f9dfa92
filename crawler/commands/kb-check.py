"""``scrapy kb-check [<site>|<file.yaml> ...| --all] [--live]``: check sites before crawling.

Without ``--live`` it validates the site files (and the ``-s`` settings) exactly as
``scrapy crawl`` does at start, with the same messages, and exits 2 if any is bad.
``--live`` also reads each site's robots.txt and sitemaps (see :mod:`crawler.sitecheck`)
and exits 1 when a site would crawl nothing or robots.txt disallows a start URL.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from scrapy.commands import ScrapyCommand

from crawler.commands.crawl import check_settings, check_site
from crawler.config import ConfigError, packaged_site_files
from crawler.render import check_browser
from crawler.sitecheck import live_check, render_live
from crawler.sitecommands import EXIT_USAGE, SiteCommand, config_error_line, site_spider

if TYPE_CHECKING:
    import argparse

EXIT_LIVE_PROBLEM = 1


class Command(ScrapyCommand):
    requires_project = True
    requires_crawler_process = False

    def syntax(self) -> str:
        return "[options] [<site>|<path/to/site.yaml> ...| --all] [--live]"

    def short_desc(self) -> str:
        return "Check site files (and, with --live, robots.txt and sitemaps) before crawling"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        group = parser.add_argument_group(title="kb-check options")
        group.add_argument("--all", action="store_true", help="every site in settings/sites/")
        group.add_argument(
            "--live",
            action="store_true",
            help="fetch robots.txt and sitemaps; print counts, samples and an estimate of a run",
        )
        group.add_argument(
            "-a", dest="spargs", action="append", default=[], metavar="NAME=VALUE",
            help="spider argument: `site -a config=PATH` checks that site file (as crawl)",
        )  # fmt: skip

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.settings is not None
        try:
            for warning in check_settings(self.settings):
                print(f"kbcrawler: warning: {warning}", file=sys.stderr)
        except ConfigError as exc:
            print(f"kbcrawler: bad setting: {exc}", file=sys.stderr)
            self.exitcode = EXIT_USAGE
            return
        targets = list(args) if args and not opts.all else list(packaged_site_files())
        config = SiteCommand.config_arg(opts)
        if config is not None:
            if targets != ["site"]:
                print("kbcrawler: -a config=PATH goes with the site 'site': "
                      "scrapy kb-check site -a config=PATH", file=sys.stderr)  # fmt: skip
                self.exitcode = EXIT_USAGE
                return
            targets = [config]
        status = 0
        for target in targets:
            is_file = target.endswith((".yaml", ".yml")) or "/" in target
            name, spargs = ("site", {"config": target}) if is_file else (target, {})
            try:
                check_site(name, spargs)
                spider = site_spider(self.settings, name, spargs.get("config"))
                check_browser(spider.site.render_js, self.settings)  # render_js: Chromium?
            except ConfigError as exc:
                print(config_error_line(exc), file=sys.stderr)
                status = EXIT_USAGE
                continue
            where = target if is_file else f"settings/sites/{packaged_site_files()[name]}"
            print(f"{spider.site.name}: ok ({where})")
            if opts.live:
                report = live_check(
                    spider, self.settings, self.settings.getint("KB_CHECK_MAX_SITEMAPS")
                )
                print("\n".join(render_live(report, self.settings)))
                if report.problems and status == 0:
                    status = EXIT_LIVE_PROBLEM
            sys.stdout.flush()
        self.exitcode = status
