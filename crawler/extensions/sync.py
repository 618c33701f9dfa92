"""One run of a site's incremental sync: the site lock, the sync state, the per-URL records
and the run report, owned by one Scrapy extension (:class:`SyncRun`).

Components ask it through ``crawler.get_extension(SyncRun)``: the spider (lastmod layer,
pages seen, records), the conditional-GET middleware (304 layer), the sync pipeline
(duplicates, fingerprint layer), the knowledge-base pipeline (pages delivered) and
``scrapy crawl`` (a forced stop). Each skip decision of the sync is made here, once:
duplicate text, and unchanged by sitemap lastmod, by 304 and by fingerprint.

Lifecycle: :meth:`SyncRun.open` takes the lock and opens the state; the first component that
needs it calls it (the knowledge-base pipeline's ``open_spider``, before it touches the
outbox), else ``spider_opened`` does, so the lock is held before anything is fetched.
``spider_closed`` (after every pipeline has drained, so only what the API accepted counts as
delivered) finishes the run, writes its report and releases the lock.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import CloseSpider, NotConfigured

from crawler.exitstatus import failure_of
from crawler.items import url_of
from crawler.runrecords import Skipped, UrlRecords, records_path
from crawler.runsummary import run_summary, summary_table
from crawler.sitelock import SiteLock
from crawler.spiders import site_spider_of
from crawler.syncstate import SyncState, signature_of
from pipelines.outbox import write_atomic

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Spider
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

ERROR_STATUSES = ("403", "429", "500", "502", "503", "504")
FORCED_STOP = "shutdown_forced"  # close reason after a second Ctrl-C


class SyncRun:
    """This run of one site: lock, sync state, per-URL records, run report, sync decisions.

    Off (``NotConfigured``) when ``KB_SYNC_ENABLED`` is false (``scrapy parse`` switches it
    off: it shows documents and must not alter the next crawl). Until :meth:`open`,
    :attr:`state` and :attr:`records` are None.
    """

    def __init__(self, crawler: Crawler):
        s = crawler.settings
        self.crawler = crawler
        self.stats = crawler.stats
        self.state_root = Path(s.get("KB_STATE_DIR"))
        self.gone_after = s.getint("KB_GONE_AFTER_RUNS")
        self.shrink_ratio = s.getfloat("KB_SHRINK_RATIO")
        self.max_error_share = s.getfloat("KB_MAX_ERROR_SHARE")
        self.records_per_reason = s.getint("KB_URL_RECORDS_PER_REASON")
        self.full_sync = s.getbool("KB_FULL_SYNC")  # the spider's ``-a full=`` wins (open)
        self.site_name = ""
        self.state: SyncState | None = None
        self.records: UrlRecords | None = None
        self.lock: SiteLock | None = None
        self.locked_out = False
        self.owners: dict[str, str] = {}  # content hash -> the URL that delivers it
        self.started = time.time()
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(self.item_dropped, signal=signals.item_dropped)
        crawler.signals.connect(self.item_error, signal=signals.item_error)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        if not crawler.settings.getbool("KB_SYNC_ENABLED"):
            raise NotConfigured("KB_SYNC_ENABLED is off")
        return cls(crawler)

    # -- opening -----------------------------------------------------------------------------
    def spider_opened(self, spider: Spider) -> None:
        self.open()

    def open(self) -> None:
        """Take the site lock, open the sync state and this run's records (once; later calls
        return at once). Raises ``CloseSpider("already_running")``, with the stat
        ``kb/run_failed`` (exit status 4), while another run of the site holds the lock."""
        if self.locked_out:
            raise CloseSpider("already_running")
        if self.lock is not None:
            return
        spider = self.crawler.spider
        assert spider is not None
        site_spider = site_spider_of(spider)
        if site_spider is not None and site_spider.full_sync is not None:
            self.full_sync = site_spider.full_sync
        self.site_name, signature = state_key(spider)
        site_dir = self.state_root / self.site_name
        lock = SiteLock(site_dir / "lock")
        holder = lock.acquire()  # OSError (state folder not writable): the crawl fails
        if holder is not None:
            self.locked_out = True
            since = holder.get("since")
            logger.error(
                "Another crawl of %r is running (pid %s since %s): not starting a second one",
                self.site_name, holder.get("pid", "?"),
                time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(since)) if since else "?",
            )  # fmt: skip
            self.stats.set_value("kb/run_failed", "already_running")
            raise CloseSpider("already_running")
        self.lock = lock
        self.state = SyncState(site_dir / "state.sqlite", signature)
        if self.state.signature_changed:
            logger.info("The site file changed what documents look like: every page is re-sent")
            self.stats.set_value("sync/signature_changed", True)
        self.report_path = (
            site_dir / "runs" / time.strftime("%Y%m%dT%H%M%SZ.json", time.gmtime(self.started))
        )
        self.records = UrlRecords(
            records_path(self.report_path), self.records_per_reason, self.stats
        )

    # -- the sync's skip decisions, one place each ----------------------------------------------
    @property
    def _compared(self) -> SyncState | None:
        """The state pages are compared with: None on a full sync (every page is re-sent)."""
        return None if self.full_sync else self.state

    def unchanged_by_lastmod(self, url: str, lastmod: str | None) -> bool:
        """Layer 1: the sitemap's ``lastmod`` is not newer than the delivered version's, so
        the page is not even downloaded (counted ``sync/unchanged/lastmod``, marked seen)."""
        state = self._compared
        if state is None or not state.lastmod_unchanged(url, lastmod):
            return False
        self.stats.inc_value("sync/unchanged/lastmod")
        state.mark_seen(url)
        return True

    def validators(self, url: str) -> tuple[str | None, str | None]:
        """Layer 2, asking: (ETag, Last-Modified) of the delivered version, to send as
        If-None-Match / If-Modified-Since; (None, None) when there is nothing to compare."""
        state = self._compared
        return state.validators(url) if state is not None else (None, None)

    def not_modified(self, url: str) -> bool:
        """Layer 2, answered: a 304 for ``url``. True when it counts as unchanged (counted
        ``sync/unchanged/304``, marked seen); False when this run compares nothing."""
        state = self._compared
        if state is None:
            return False
        self.stats.inc_value("sync/unchanged/304")
        state.mark_seen(url)
        return True

    def fingerprint(self, content_hash: str) -> str:
        """The page's fingerprint: its text's hash with the document settings' signature."""
        return self.state.fingerprint(content_hash) if self.state else content_hash

    def duplicate_of(self, url: str, content_hash: str, fingerprint: str) -> str | None:
        """The URL that delivers this same text, when it is not ``url`` (counted
        ``sync/duplicate_content``, ``url`` marked seen): the first URL of this run to give
        it, or a live URL an earlier run delivered it under."""
        owner = self.owners.get(content_hash)
        if owner is None and self.state is not None:
            owner = self.state.delivered_elsewhere(url, fingerprint)
        if owner is None:
            owner = url
        self.owners[content_hash] = owner
        if owner == url:
            return None
        self.stats.inc_value("sync/duplicate_content")
        if self.state is not None:
            self.state.mark_seen(url)
        return owner

    def unchanged_by_fingerprint(
        self,
        url: str,
        fingerprint: str,
        *,
        links: list[str],
        etag: str | None = None,
        last_modified: str | None = None,
        lastmod: str | None = None,
    ) -> bool:
        """Layer 3: the extracted text is the delivered version's (counted
        ``sync/unchanged/fingerprint``; the page's links and validators kept). Otherwise the
        page is counted ``sync/new`` or ``sync/changed`` and marked seen."""
        if self.state is None:
            return False
        verdict = self.state.compare(url, fingerprint)
        if not self.full_sync and verdict == "unchanged":
            self.stats.inc_value("sync/unchanged/fingerprint")
            self.state.record_page(
                url, links=links, etag=etag, last_modified=last_modified, lastmod=lastmod
            )
            return True
        self.stats.inc_value("sync/new" if verdict == "new" else "sync/changed")
        self.state.mark_seen(url)
        return False

    # -- forced stop ---------------------------------------------------------------------------
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

    # -- the run's per-URL records (crawler/runrecords.py) ----------------------------------------
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
            assert self.lock is not None
            self.lock.release()

    def _no_content(self, spider: Spider, reason: str) -> str | None:
        """One line saying why, when this run reached no content page; else None.

        A content page is one that gave a document, or was unchanged since the last run.
        """
        get = self.stats.get_value
        if _flush_only(spider) or get("kb/fatal"):
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
        site_spider = site_spider_of(spider)
        truncated = site_spider is not None and site_spider.truncated
        flush_only = _flush_only(spider)
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
            "site": self.site_name,
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
        logger.info("%s", summary_table(self.site_name, report["summary"]))
        write_atomic(path, json.dumps(report, indent=2, ensure_ascii=False, default=str).encode())
        self.stats.set_value("sync/report", str(path))
        logger.info("Run report: %s", path)


def state_key(spider: Spider) -> tuple[str, str]:
    """(site name, document signature) the sync state of ``spider``'s site is kept under: a
    site file's name and the signature of what shapes its documents; for another project's
    spider (``ITEM_PIPELINES`` only), its name and the signature of no settings."""
    site_spider = site_spider_of(spider)
    if site_spider is None:
        return spider.name, signature_of({})
    return site_spider.site.name, signature_of(site_spider.site.document_signature())


def read_sync_state(state_root: Path, spider: Spider) -> SyncState | None:
    """The sync state a crawl of ``spider`` under ``state_root`` (``KB_STATE_DIR``) compares
    pages with, opened read-only (``kb-explain``); None before the first run."""
    site, signature = state_key(spider)
    return SyncState.read_only(state_root / site / "state.sqlite", signature)


def _flush_only(spider: Spider) -> bool:
    """``kb-flush``: the run delivers the outbox and crawls nothing."""
    site_spider = site_spider_of(spider)
    return site_spider is not None and site_spider.flush_only


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
