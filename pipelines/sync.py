"""Incremental sync, the item stage: duplicate and unchanged pages are dropped here, before
the knowledge-base pipeline splits and sends them.

The decisions, the sync state, the site lock and the run report belong to the
:class:`crawler.extensions.sync.SyncRun` extension; this pipeline asks it about each item.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy.exceptions import NotConfigured

from crawler.extensions.sync import SyncRun
from crawler.runrecords import Skipped

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Spider
    from scrapy.crawler import Crawler

    from crawler.items import PageItem


class SyncPipeline:
    """Drops duplicate and unchanged pages (:class:`~crawler.runrecords.Skipped`).

    Off (``NotConfigured``) without the :class:`SyncRun` extension.
    """

    def __init__(self, run: SyncRun):
        self.run = run

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        run = crawler.get_extension(SyncRun)
        if run is None:
            raise NotConfigured("the SyncRun extension is off")
        return cls(run)

    def process_item(self, item: PageItem, spider: Spider | None = None) -> PageItem:
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
