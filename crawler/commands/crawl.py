"""``scrapy crawl``, with a site-file check up front and an exit status that tells.

Scrapy exits 0 whatever a spider's close reason; cron and scrapyd users need a
non-zero status when the knowledge base refused us or the run is not trustworthy.
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
from crawler.paths import resolve_path_settings
from crawler.pool import check_start_method
from crawler.settings_check import check_kb_settings
from pipelines.client import check_api_url

if TYPE_CHECKING:
    import argparse

    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_CONFIG = 2
EXIT_KB_REFUSED = 3
EXIT_LOCKED = 4
EXIT_RUN_FAILED = 5
EXIT_UNDELIVERED = 6
EXIT_INTERRUPTED = 7
EXIT_NO_CONTENT = 8
EXIT_FAILED = 1


def exit_status(stats: dict[str, object]) -> tuple[int, str | None]:
    """Map a finished crawl's stats to (exit status, one-line reason)."""
    reason = str(stats.get("finish_reason") or "")
    pending, flush = stats.get("kb/pending_batches_left"), stats.get("kb/flush_command")
    waiting = f"; {pending} batch(es) wait in the outbox" if pending else ""
    if stats.get("kb/fatal"):
        what = "credentials" if stats.get("kb/credentials") == "refused" else "import"
        fix = f": once fixed, send them with `{flush}`" if waiting and flush else ""
        return EXIT_KB_REFUSED, (
            f"the knowledge base refused the {what} ({stats['kb/fatal']}){waiting}{fix}"
        )
    if reason == "already_running":
        return EXIT_LOCKED, "another crawl of this site is running"
    if stats.get("kb/no_content"):  # unreachable, all disallowed, all 4xx, all skipped
        return EXIT_NO_CONTENT, str(stats["kb/no_content"])
    if stats.get("kb/run_failed"):
        return EXIT_RUN_FAILED, f"the run failed its sync guard ({stats['kb/run_failed']})"
    if stats.get("kb/unavailable") and stats.get("kb/pending_batches_left"):
        what = (
            "did not confirm the import"
            if stats["kb/unavailable"] == "UNCONFIRMED"
            else "was unavailable"
        )
        return EXIT_UNDELIVERED, (
            f"the knowledge base {what}{waiting}" + (f": send them with `{flush}`" if flush else "")
        )
    if not reason:
        return EXIT_FAILED, "the crawl ended without a close reason (it did not finish)"
    if reason != "finished" and reason != "max_pages":
        return EXIT_INTERRUPTED, f"the crawl was stopped ({reason}); the next run resumes delivery"
    return EXIT_OK, None


def check_site(spider_name: str, spargs: dict[str, str]) -> None:
    """Validate the site file, and the environment variables it references, before any
    request; raises :class:`ConfigError`."""
    if spargs.get("config"):
        site, source = load_site_file(spargs["config"]), spargs["config"]
    elif spider_name == "site":
        raise ConfigError("the 'site' spider needs a site file: -a config=PATH/TO/site.yaml")
    elif spider_name in packaged_site_files():
        site, source = load_packaged_site(spider_name), f"settings/sites/{spider_name}.yaml"
    else:
        return
    try:
        resolve_credentials(site.headers, site.cookies, site.http_auth)
    except MissingVariableError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def check_settings(settings: BaseSettings) -> list[str]:
    """Settings the crawl cannot start without; raises :class:`ConfigError` (one line).

    Returns warnings (unknown ``KB_*`` names), one line each; see :mod:`crawler.settings_check`.
    """
    problems, warnings = check_kb_settings(settings)
    if problems:
        raise ConfigError("; ".join(problems))
    warnings += resolve_path_settings(settings)
    try:
        check_start_method(settings.get("KB_EXTRACT_START_METHOD"))
        check_api_url(settings.get("KB_API_URL") or "")
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return warnings


def failure_of(stats: dict[str, object]) -> str | None:
    """What the run report's ``failed`` says: None exactly when the exit status is 0.

    The knowledge base's refusal code, the sync guard's reason, or the exit status's cause.
    """
    status, _ = exit_status(stats)
    if status == EXIT_OK:
        return None
    if status == EXIT_KB_REFUSED:
        return str(stats.get("kb/fatal"))
    if status == EXIT_RUN_FAILED:
        return str(stats.get("kb/run_failed"))
    if status == EXIT_UNDELIVERED:
        return f"undelivered ({stats.get('kb/unavailable')})"
    if status == EXIT_INTERRUPTED:
        return f"stopped ({stats.get('finish_reason')})"
    return {
        EXIT_LOCKED: "already_running",
        EXIT_FAILED: "no_close_reason",
        EXIT_NO_CONTENT: "no_content",
    }.get(status, f"exit_status_{status}")


class Command(ScrapyCrawlCommand):
    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) != 1:
            raise UsageError("give exactly one site: scrapy crawl <site>")
        self.run_site(args[0], opts.spargs)

    def run_site(self, name: str, spargs: dict[str, str]) -> None:
        what = "bad site file"
        try:
            check_site(name, spargs)
            what = "bad setting"
            if self.settings is not None:
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
            self.exitcode = 1
            return
        stats = crawler.stats.get_stats() if crawler.stats else {}
        self.exitcode, why = exit_status(stats)
        site = getattr(crawler.spider, "site", None)
        name = getattr(site, "name", None) or name  # `-a config=PATH`: the site, not "site"
        if why:
            print(f"kbcrawler: {name}: {why} (exit status {self.exitcode})", file=sys.stderr)
        if self.settings and self.settings.get("LOG_FILE"):  # scrapyd: the verdict in the job log
            logger.log(
                logging.ERROR if why else logging.INFO,
                "kbcrawler: %s: %s (exit status %d)", name, why or "done", self.exitcode,
            )  # fmt: skip
