"""Incremental sync, the item stage: duplicate and unchanged pages are dropped here, before
the knowledge-base pipeline splits and sends them.

The decisions, the sync state, the site lock and the run report belong to the
:class:`crawler.extensions.sync.SyncRun` extension; this pipeline asks it about each item.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scrapy.exceptions import NotConfigured

from crawler.extensions.sync import SyncRun
from crawler.items import page_of
from crawler.runrecords import Skipped

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Spider
    from scrapy.crawler import Crawler


class SyncPipeline:
    """Drops duplicate and unchanged pages (:class:`~crawler.runrecords.Skipped`).

    Off (``NotConfigured``) without the :class:`SyncRun` extension.
    """

    def __init__(self, crawler: Crawler, run: SyncRun):
        self.crawler = crawler
        self.run = run

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        run = crawler.get_extension(SyncRun)
        if run is None:
            raise NotConfigured("the SyncRun extension is off")
        return cls(crawler, run)

    def process_item(self, item: Any, spider: Spider | None = None) -> Any:
        # Any item itemadapter reads; another project's becomes the PageItem it stands for.
        item = page_of(
            item,
            site=self.crawler.spider.name,
            lang_sample_chars=self.crawler.settings.getint("KB_LANG_SAMPLE_CHARS"),
        )
        item.fingerprint = self.run.fingerprint(item.content_hash)
        owner = self.run.duplicate_of(item.url, item.content_hash, item.fingerprint)
        if owner is not None:  # the same text already delivered under another URL stays there
            raise Skipped(f"same text as {owner}: {item.url}", "duplicate", owner)
        if self.run.unchanged_by_fingerprint(
            item.url, item.fingerprint, links=item.links, etag=item.etag,
            last_modified=item.last_modified, lastmod=item.lastmod,
        ):  # fmt: skip
            raise Skipped(f"unchanged: {item.url}", None)
        return item
