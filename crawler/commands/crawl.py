"""``scrapy crawl``, with a site-file check up front and an exit status that tells.

Scrapy exits 0 whatever a spider's close reason; cron and scrapyd users need a
non-zero status when the knowledge base refused us or the run is not trustworthy
(:mod:`crawler.exitstatus`).
"""

from __future__ import annotations

import gc
import logging
import sys
from typing import TYPE_CHECKING

from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.exceptions import UsageError

from crawler.access import MissingVariableError, resolve_credentials
from crawler.config import ConfigError, load_packaged_site, load_site_file, packaged_site_files
from crawler.exitstatus import EXIT_CONFIG, EXIT_FAILED, exit_status
from crawler.extensions.sync import SyncRun
from crawler.paths import resolve_path_settings, unwritable_paths
from crawler.pool import check_start_method
from crawler.render import check_browser
from crawler.settings_check import check_kb_settings
from crawler.spiders import site_spider_of
from pipelines.client import check_api_url

if TYPE_CHECKING:
    import argparse

    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings

    from crawler.config import SiteConfig

logger = logging.getLogger(__name__)


def check_site(spider_name: str, spargs: dict[str, str]) -> SiteConfig | None:
    """Validate the site file, and the environment variables it references, before any
    request; raises :class:`ConfigError`.

    Returns the site, or None for a spider that is not a site file's."""
    if spargs.get("config"):
        site, source = load_site_file(spargs["config"]), spargs["config"]
    elif spider_name == "site":
        raise ConfigError("the 'site' spider needs a site file: -a config=PATH/TO/site.yaml")
    elif spider_name in packaged_site_files():
        site, source = load_packaged_site(spider_name), f"settings/sites/{spider_name}.yaml"
    else:
        return None
    try:
        resolve_credentials(site.headers, site.cookies, site.http_auth)
    except MissingVariableError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    return site


def check_settings(settings: BaseSettings) -> list[str]:
    """Settings the crawl cannot start without; raises :class:`ConfigError` (one line).

    Returns warnings (unknown ``KB_*`` names), one line each; see :mod:`crawler.settings_check`.
    """
    problems, warnings = check_kb_settings(settings)
    if problems:
        raise ConfigError("; ".join(problems))
    warnings += resolve_path_settings(settings)
    unwritable = unwritable_paths(settings)
    if unwritable:
        raise ConfigError("; ".join(unwritable))
    try:
        check_start_method(settings.get("KB_EXTRACT_START_METHOD"))
        check_api_url(settings.get("KB_API_URL") or "")
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return warnings


class Command(ScrapyCrawlCommand):
    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) != 1:
            raise UsageError("give exactly one site: scrapy crawl <site>")
        self.run_site(args[0], opts.spargs)

    def run_site(self, name: str, spargs: dict[str, str]) -> None:
        what = "bad site file"
        try:
            site = check_site(name, spargs)
            what = "bad setting"
            if self.settings is not None:
                if site is not None:
                    check_browser(site.render_js, self.settings)
                for warning in check_settings(self.settings):
                    print(f"kbcrawler: warning: {warning}", file=sys.stderr)
                    if self.settings.get("LOG_FILE"):  # scrapyd: say it in the job log
                        logger.warning("kbcrawler: %s", warning)
        except ConfigError as exc:
            print(f"kbcrawler: {what}: {exc}", file=sys.stderr)
            self.exitcode = EXIT_CONFIG
            if self.settings and self.settings.get("LOG_FILE"):  # scrapyd: say it in the job log
                logger.error("kbcrawler: %s: %s", what, exc)
            return
        assert self.crawler_process
        if name not in self.crawler_process.spider_loader.list():
            print(
                f"kbcrawler: no site named {name!r} (`scrapy list` shows the sites; "
                "or use: scrapy crawl site -a config=PATH)",
                file=sys.stderr,
            )
            self.exitcode = EXIT_CONFIG
            return
        crawler: Crawler = self._create_crawler(name)
        if self.settings is not None:
            logger.info(
                "Sync state in %s, outbox in %s",
                self.settings.get("KB_STATE_DIR"), self.settings.get("KB_OUTBOX"),
            )  # fmt: skip
        self.crawler_process.crawl(crawler, **spargs)
        # Everything loaded so far lives for the whole crawl: keep the cyclic garbage
        # collector off it (it rescanned Scrapy's modules and objects on every full pass).
        gc.freeze()
        self.crawler_process.start()
        if self.crawler_process.bootstrap_failed:
            self.exitcode = EXIT_FAILED
            return
        stats = crawler.stats.get_stats() if crawler.stats else {}
        run = crawler.get_extension(SyncRun)
        if not stats.get("finish_reason") and run is not None:
            run.forced_stop()  # a second Ctrl-C: Scrapy stopped the reactor without closing
        self.exitcode, why = exit_status(stats)
        site_spider = site_spider_of(crawler.spider)
        if site_spider is not None:  # `-a config=PATH`: the site, not "site"
            name = site_spider.site.name
        log_file = self.settings and self.settings.get("LOG_FILE")
        if why or not log_file:  # the last line, for crawl and kb-flush alike
            print(
                f"kbcrawler: {name}: {why or 'done'} (exit status {self.exitcode})", file=sys.stderr
            )
        if log_file:  # scrapyd: the verdict in the job log
            logger.log(
                logging.ERROR if why else logging.INFO,
                "kbcrawler: %s: %s (exit status %d)", name, why or "done", self.exitcode,
            )  # fmt: skip
