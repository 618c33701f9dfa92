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

from scrapy.core.scheduler import Scheduler

logger = logging.getLogger(__name__)


class DiskQueueScheduler(Scheduler):
    _scratch: str | None = None

    def _dqdir(self, jobdir: str | None) -> str | None:
        if jobdir:
            return super()._dqdir(jobdir)
        self._scratch = tempfile.mkdtemp(prefix="kbcrawler-queue-")
        return self._scratch

    def close(self, reason: str):
        try:
            return super().close(reason)
        finally:
            if self._scratch is not None:
                shutil.rmtree(self._scratch, ignore_errors=True)
                self._scratch = None
