"""Incremental sync: one crawl per site at a time, unchanged pages not re-posted,
disappeared pages reported, and a guard against runs that shrink suspiciously.

Owns the lifecycle of :class:`crawler.syncstate.SyncState`: opened (under a lock) when
the spider opens, finished on ``spider_closed`` — after every pipeline has drained,
so only what the API accepted counts as delivered.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import CloseSpider

from crawler.commands.crawl import failure_of
from crawler.items import page_of, url_of
from crawler.runrecords import Skipped, UrlRecords, records_path
from crawler.runsummary import run_summary, summary_table
from crawler.syncstate import SyncState, signature_of
from pipelines.outbox import write_atomic

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Spider
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

ERROR_STATUSES = ("403", "429", "500", "502", "503", "504")
FAILED_REASONS = {"shrink_guard", "error_share"}


class SiteLock:
    """``KB_STATE_DIR/<site>/lock``: held by a live process, or stale and taken over."""

    def __init__(self, path: Path, stale_seconds: float):
        self.path = path
        self.stale_seconds = stale_seconds
        self.held = False

    def _holder(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def _alive(self, holder: dict[str, Any]) -> bool:
        if holder.get("host") != socket.gethostname():
            return time.time() - float(holder.get("since", 0)) < self.stale_seconds
        try:
            os.kill(int(holder.get("pid", 0)), 0)
        except ProcessLookupError:
            return False
        except (PermissionError, ValueError, OverflowError):
            return True
        return time.time() - float(holder.get("since", 0)) < self.stale_seconds

    def acquire(self) -> dict[str, Any] | None:
        """Take the lock; returns the live holder instead when another run has it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        me = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self._holder()
                if holder is not None and self._alive(holder):
                    return holder
                logger.warning("Taking over a stale lock %s (%s)", self.path, holder)
                self.path.unlink(missing_ok=True)
                continue
            with os.fdopen(fd, "w") as fh:
                json.dump(me, fh)
            self.held = True
            return None
        return self._holder() or {}

    def release(self) -> None:
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False


FORCED_STOP = "shutdown_forced"  # close reason after a second Ctrl-C


class SyncPipeline:
    """Drops duplicate and unchanged pages; finishes the run's state and report."""

    def __init__(self, crawler: Crawler):
        s = crawler.settings
        self.crawler = crawler
        self.stats = crawler.stats
        self.state_root = Path(s.get("KB_STATE_DIR"))
        self.gone_after = s.getint("KB_GONE_AFTER_RUNS")
        self.shrink_ratio = s.getfloat("KB_SHRINK_RATIO")
        self.max_error_share = s.getfloat("KB_MAX_ERROR_SHARE")
        self.stale_seconds = s.getfloat("KB_LOCK_STALE_SECONDS")
        self.records_per_reason = s.getint("KB_URL_RECORDS_PER_REASON")
        self.records: UrlRecords | None = None
        self.state: SyncState | None = None
        self.lock: SiteLock | None = None
        self.owners: dict[str, str] = {}  # content hash -> the URL that delivers it
        self.started = time.time()
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(self.item_dropped, signal=signals.item_dropped)
        crawler.signals.connect(self.item_error, signal=signals.item_error)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def open_spider(self, spider: Spider | None = None) -> None:
        spider = self.crawler.spider
        site = spider.site
        self.site_dir = self.state_root / site.name
        self.lock = SiteLock(self.site_dir / "lock", self.stale_seconds)
        holder = self.lock.acquire()
        if holder is not None:
            self.crawler.kb_locked_out = True
            logger.error(
                "Another crawl of %r is running (pid %s since %s): not starting a second one. "
                "If it is not, remove %s",
                site.name, holder.get("pid"),
                time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(holder.get("since", 0))),
                self.lock.path,
            )  # fmt: skip
            self.stats.set_value("kb/run_failed", "already_running")
            raise CloseSpider("already_running")
        self.state = SyncState(
            self.site_dir / "state.sqlite", signature_of(site.document_signature())
        )
        if self.state.signature_changed:
            logger.info("The site file changed what documents look like: every page is re-sent")
            self.stats.set_value("sync/signature_changed", True)
        self.crawler.kb_sync = self.state
        spider.sync = self.state
        self.report_path = (
            self.site_dir / "runs" / time.strftime("%Y%m%dT%H%M%SZ.json", time.gmtime(self.started))
        )
        self.records = UrlRecords(
            records_path(self.report_path), self.records_per_reason, self.stats
        )
        self.crawler.kb_records = self.records
        spider.records = self.records
        self.crawler.kb_forced_stop = self.forced_stop  # crawl.py calls it after the reactor

    def forced_stop(self) -> None:
        """After Scrapy's unclean shutdown (a second Ctrl-C stops the reactor; no
        ``spider_closed`` fires): write the run report (complete: false) and commit what the
        sync state holds (the pages the knowledge base confirmed), so the next run does not
        send them again. Undelivered documents stay in the outbox or are crawled again.
        Sets the stat ``finish_reason`` to ``shutdown_forced`` (exit status 7)."""
        if self.state is None or self.crawler.spider is None:
            return
        logger.warning("Forced stop: writing the sync state and the run report")
        self.stats.set_value("finish_reason", FORCED_STOP)
        self.spider_closed(self.crawler.spider, FORCED_STOP)

    # -- the run's per-URL records (crawler/runrecords.py) ----------------------------
    def item_dropped(self, item: Any, response: Any, exception: BaseException, spider: Any) -> None:
        """An item a pipeline dropped: recorded with the pipeline's reason."""
        url = url_of(item)
        if self.records is None or not url:
            return
        if isinstance(exception, Skipped):
            if exception.reason is not None:
                self.records.record(url, exception.reason, detail=exception.detail)
            return
        self.records.record(url, "dropped", detail=str(exception))

    def item_error(self, item: Any, response: Any, spider: Any, failure: Any) -> None:
        """A pipeline raised on an item (not DropItem): recorded, with the error."""
        url = url_of(item)
        if self.records is not None and url:
            detail = f"{type(failure.value).__name__}: {failure.value}"
            self.records.record(url, "item_error", detail=detail)

    def process_item(self, item: Any, spider: Spider | None = None) -> Any:
        # Any item itemadapter reads; another project's becomes the PageItem it stands for.
        item = page_of(
            item,
            site=self.crawler.spider.name,
            lang_sample_chars=self.crawler.settings.getint("KB_LANG_SAMPLE_CHARS"),
        )
        item.fingerprint = (
            self.state.fingerprint(item.content_hash) if self.state else item.content_hash
        )
        owner = self.owners.get(item.content_hash)
        if owner is None and self.state is not None:
            # The same text already delivered under another live URL stays with that URL.
            owner = self.state.delivered_elsewhere(item.url, item.fingerprint)
        if owner is None:
            owner = item.url
        self.owners[item.content_hash] = owner
        if owner != item.url:
            self.stats.inc_value("sync/duplicate_content")
            if self.state is not None:
                self.state.mark_seen(item.url)
            raise Skipped(f"same text as {owner}: {item.url}", "duplicate", owner)
        if self.state is None:
            return item
        full = getattr(self.crawler.spider, "full_sync", False)
        if not full and self.state.delivered_fingerprint(item.url) == item.fingerprint:
            self.stats.inc_value("sync/unchanged/fingerprint")
            self.state.record_page(
                item.url, links=item.links, etag=item.etag,
                last_modified=item.last_modified, lastmod=item.lastmod,
            )  # fmt: skip
            raise Skipped(f"unchanged: {item.url}", None)
        known = self.state.delivered_fingerprint(item.url) is not None
        self.stats.inc_value("sync/changed" if known else "sync/new")
        self.state.mark_seen(item.url)
        return item

    # -- end of run ------------------------------------------------------------------------
    def _error_share(self) -> tuple[float, int]:
        get = self.stats.get_value
        total = int(get("downloader/response_count", 0) or 0)
        bad = sum(int(get(f"downloader/response_status_count/{s}", 0) or 0) for s in ERROR_STATUSES)
        return (bad / total if total else 0.0), total

    def spider_closed(self, spider: Spider, reason: str) -> None:
        if self.state is None:
            return
        try:
            self._finish(spider, reason)
        finally:
            self.state.close()
            self.state = None
            if self.records is not None:
                self.records.close()
            if self.lock is not None:
                self.lock.release()

    def _no_content(self, spider: Spider, reason: str) -> str | None:
        """One line saying why, when this run reached no content page; else None.

        A content page is one that gave a document, or was unchanged since the last run.
        """
        get = self.stats.get_value
        if getattr(spider, "flush_only", False) or get("kb/fatal"):
            return None
        if reason not in ("finished", "max_pages"):
            return None
        content = sum(
            int(get(key, 0) or 0)
            for key in ("discovery/content_pages", "sync/unchanged/lastmod", "sync/unchanged/304")
        )
        if content:
            return None
        records = self.records
        assert records is not None
        return "the run reached no content page: " + why_no_content(
            records.page_counts,
            records.counts,
            records.first,
            int(get("downloader/response_count", 0) or 0),
        )

    def _finish(self, spider: Spider, reason: str) -> None:
        state = self.state
        assert state is not None
        get = self.stats.get_value
        truncated = getattr(spider, "truncated", False)
        flush_only = getattr(spider, "flush_only", False)
        complete = reason == "finished" and not truncated and not flush_only
        reached = state.pages_seen()
        delivered = int(get("kb/pages_delivered", 0) or 0)
        share, responses = self._error_share()
        failure = None
        last = state.last_good_run()
        # The site refusing or failing (exit 5) says more than "no content" (exit 8).
        if responses >= 3 and share > self.max_error_share:
            failure = "error_share"
            logger.error(
                "%.0f%% of the site's answers were 403/429/5xx: the site is refusing or failing; "
                "nothing is marked gone and the run counts as failed",
                share * 100,
            )
        elif no_content := self._no_content(spider, reason):
            failure = "no_content"
            complete = False  # nothing was crawled: nothing may be marked gone
            self.stats.set_value("kb/no_content", no_content)
            logger.error("%s", no_content)
        elif flush_only:
            pass
        elif complete and last is not None and last[0] and reached < self.shrink_ratio * last[0]:
            failure = "shrink_guard"
            logger.error(
                "This run reached %d pages, under %.0f%% of the last good run's %d: "
                "nothing is marked gone and the run counts as failed (check the site, "
                "robots.txt and the site file)",
                reached, self.shrink_ratio * 100, last[0],
            )  # fmt: skip
        if failure:
            self.stats.set_value("kb/run_failed", failure)
        good = failure is None and not get("kb/fatal")
        gone = state.finish_run(
            complete=complete, good=good, documents_delivered=delivered, gone_after=self.gone_after
        )
        self.stats.set_value("sync/gone", len(gone))
        if gone:
            logger.warning(
                "%d page(s) disappeared from the site (see the run report for the document ids "
                "to delete; the API has no delete endpoint)",
                len(gone),
            )
        if not complete:
            self.stats.set_value("sync/incomplete_run", True)
        self._write_report(spider, reason, complete, reached, gone)

    def _write_report(
        self, spider: Spider, reason: str, complete: bool, reached: int, gone: list[dict[str, Any]]
    ) -> None:
        get = self.stats.get_value
        counts = {
            # "skipped/thin" -> "skipped_thin"; "sync/unchanged/304" -> "unchanged_304"
            (key if key.startswith("skipped/") else key.split("/", 1)[1]).replace("/", "_"): value
            for key, value in self.stats.get_stats().items()
            if key.startswith(("sync/", "skipped/", "kb/")) and isinstance(value, int | float)
        }
        report = {
            "site": spider.site.name,
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.started)),
            "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "close_reason": reason,
            "complete": complete,
            # What the exit status says (None exactly when it is 0).
            "failed": failure_of({**self.stats.get_stats(), "finish_reason": reason}),
            "pages_reached": reached,
            "new": get("sync/new", 0),
            "changed": get("sync/changed", 0),
            "unchanged": {
                "lastmod": get("sync/unchanged/lastmod", 0),
                "not_modified_304": get("sync/unchanged/304", 0),
                "fingerprint": get("sync/unchanged/fingerprint", 0),
            },
            # Per reason, the URLs of the records file (url_records): listed lines plus
            # skipped_unlisted (past KB_URL_RECORDS_PER_REASON lines of one reason).
            "skipped": dict(self.records.counts) if self.records else {},
            "skipped_unlisted": dict(self.records.unlisted) if self.records else {},
            "url_records": str(records_path(self.report_path)),
            "documents_posted": get("kb/documents_posted", 0),
            "documents_written": get("kb/documents_written", 0),
            "quarantined": get("kb/quarantined", 0),
            "pending_batches": get("kb/pending_batches_left", 0),
            "gone": gone,
            "counts": counts,
        }
        if get("render/playwright"):  # render_js: the browser and Playwright that rendered
            report["render"] = {
                key.removeprefix("render/"): value
                for key, value in self.stats.get_stats().items()
                if key.startswith("render/")
            }
        path = self.report_path
        path.parent.mkdir(parents=True, exist_ok=True)
        if self.records is not None:
            self.records.close()  # complete on disk: the summary reads it
        report["summary"] = run_summary(self.stats.get_stats(), path.parent)
        logger.info("%s", summary_table(spider.site.name, report["summary"]))
        write_atomic(path, json.dumps(report, indent=2, ensure_ascii=False, default=str).encode())
        self.stats.set_value("sync/report", str(path))
        logger.info("Run report: %s", path)


NETWORK_REASONS = ("dns", "connection", "timeout")


def why_no_content(
    page_counts: dict[str, int],
    counts: dict[str, int],
    first: dict[str, tuple[str, str | None]],
    responses: int,
) -> str:
    """Why a run reached no content page, in one line, from its records' counts.

    ``page_counts``/``counts``: records per reason, pages only / with sitemaps and robots.txt;
    ``first``: reason -> (URL, detail) of its first record; ``responses``: HTTP responses
    received. Checked in order: unreachable, all disallowed, all HTTP errors, all skipped.
    """
    total = sum(page_counts.values())
    network = [r for r in NETWORK_REASONS if counts.get(r)]
    if not responses and network:
        url, detail = first[network[0]]
        return f"the site is unreachable ({url}: {detail or network[0]})"
    if total and page_counts.get("robots", 0) == total:
        return f"everything is disallowed by robots.txt ({total} URL(s) refused)"
    if total and all(r.startswith("http_") for r in page_counts):
        statuses = ", ".join(
            f"{n} x HTTP {r[5:]}" for r, n in sorted(page_counts.items(), key=lambda x: -x[1])
        )
        return f"every page requested answered an HTTP error ({statuses})"
    if total:
        skipped = ", ".join(
            f"{r} {n}" for r, n in sorted(page_counts.items(), key=lambda x: (-x[1], x[0]))
        )
        return f"every page was skipped ({skipped}; see the url records)"
    return "no page was found (no start URL answered and no sitemap listed a page)"
