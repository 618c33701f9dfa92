"""Scrapy's scheduler, with its request queues on disk even without ``JOBDIR``.

A 100,000-page site would otherwise hold every pending request in memory. Without
``JOBDIR`` the queues live in a private temporary folder removed at the end of the
run (nothing is resumed: each run is a fresh crawl, and the sync state makes repeats
cheap). With ``-s JOBDIR=…`` Scrapy's own pausable behaviour is kept unchanged.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from typing import Any

from scrapy.core.scheduler import Scheduler

from crawler.urls import normalize_url

logger = logging.getLogger(__name__)


class DiskQueueScheduler(Scheduler):
    """Scrapy's :class:`~scrapy.core.scheduler.Scheduler`; without a ``jobdir`` (``JOBDIR``),
    a temporary one (``kbcrawler-queue-*`` in the system's temp folder) removed at close."""

    _scratch: str | None = None

    def __init__(self, dupefilter: Any, jobdir: str | None = None, *args: Any, **kwargs: Any):
        if not jobdir:
            self._scratch = jobdir = tempfile.mkdtemp(prefix="kbcrawler-queue-")
        super().__init__(dupefilter, jobdir, *args, **kwargs)

    def close(self, reason: str):
        try:
            self._record_pending(reason)
            return super().close(reason)
        finally:
            if self._scratch is not None:
                shutil.rmtree(self._scratch, ignore_errors=True)
                self._scratch = None

    def _record_pending(self, reason: str) -> None:
        """Pages still queued when the run stops early (max_pages, a shutdown): recorded.

        Only without ``JOBDIR``: there the queue is thrown away; with it, the pending
        requests wait on disk for the next run and are not lost. At most
        ``KB_URL_RECORDS_PER_REASON`` are read back from the queue; the rest are counted.
        """
        spider = self.crawler.spider if self.crawler else None
        skip = getattr(spider, "skip", None)
        if self._scratch is None or skip is None or not self.has_pending_requests():
            return
        why = "max_pages" if reason == "max_pages" else "not_reached"
        limit = self.crawler.settings.getint("KB_URL_RECORDS_PER_REASON")
        count = 0
        while count < limit and (request := self.next_request()) is not None:
            if not request.meta.get("kb_page"):
                continue
            skip(
                normalize_url(request.url),
                why,
                detail=None if why == "max_pages" else reason,
                referer=request.meta.get("kb_referer"),
                depth=request.meta.get("kb_depth"),
            )
            count += 1
        rest = len(self)
        records = getattr(spider, "records", None)
        if rest and records is not None:
            records.count_unlisted(why, rest)
        if count or rest:
            # The run's total of the reason, as the records and the summary count it: pages
            # downloaded after the limit was reached are not extracted either.
            total = records.counts.get(why, 0) if records is not None else count + rest
            logger.info(
                "%d page(s) not crawled (%s; %d still queued): recorded as %s",
                max(total, count + rest), reason, count + rest, why,
            )  # fmt: skip
