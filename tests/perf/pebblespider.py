"""The site spider extracting in pebble's pool (tests/perf/pebblepool.py): benchmark only.

Apart from the pool module so that pebble's workers, which import the module of the
function they run, do not import Scrapy and the spider.
"""

from __future__ import annotations

from typing import Any

from crawler.spiders.site import SiteSpider
from tests.perf.pebblepool import PebblePool


class PebbleSiteSpider(SiteSpider):
    """The site spider, extracting in :class:`PebblePool` (benchmark only)."""

    name = "site"

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> PebbleSiteSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        if spider.pool is not None:
            s = crawler.settings
            spider.pool.close()  # never started: nothing to stop
            spider.pool = PebblePool(  # type: ignore[assignment]
                s.getint("KB_EXTRACT_WORKERS"),
                timeout=s.getfloat("KB_EXTRACT_TIMEOUT"),
                max_pending=s.getint("KB_EXTRACT_MAX_PENDING"),
                inline=s.getbool("KB_EXTRACT_INLINE"),
                start_method=s.get("KB_EXTRACT_START_METHOD"),
            )
        return spider
