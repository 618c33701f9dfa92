"""The project's spiders: one :class:`~crawler.spiders.site.SiteSpider` per site file."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crawler.spiders.site import SiteSpider


def site_spider_of(spider: object) -> SiteSpider | None:
    """``spider`` when it is a site file's spider (its ``site``, ``flush_only``,
    ``config_path``...), else None: another project's spider (the delivery pipeline in its
    ``ITEM_PIPELINES``) or Scrapy's default one (``scrapy shell``, ``scrapy fetch``).

    The one place components tell our spider from any other; imported late, so modules the
    spider itself imports (pipelines, extensions, middlewares) can ask it.
    """
    from crawler.spiders.site import SiteSpider

    return spider if isinstance(spider, SiteSpider) else None
