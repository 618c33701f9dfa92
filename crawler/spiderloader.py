"""One spider per site file, so ``scrapy list`` and ``scrapy crawl <site>`` just work.

Site files are read with importlib.resources (see :mod:`crawler.config`), which also
works from the zipped egg scrapyd runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy.spiderloader import SpiderLoader

from crawler.config import packaged_site_files
from crawler.spiders.site import SiteSpider

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.settings import BaseSettings


class SiteSpiderLoader(SpiderLoader):
    """Scrapy's loader, plus a :class:`SiteSpider` subclass for each site file."""

    def __init__(self, settings: BaseSettings):
        super().__init__(settings)
        for stem in packaged_site_files():
            if stem in self._spiders:
                continue  # a hand-written spider of that name wins
            self._spiders[stem] = site_spider_class(stem)

    def list(self) -> list[str]:
        return sorted(self._spiders)


def site_spider_class(stem: str) -> type[Spider]:
    """A named subclass bound to ``settings/sites/<stem>.yaml``."""
    return type(
        f"SiteSpider_{stem}",
        (SiteSpider,),
        {"name": stem, "site_file": stem, "__module__": SiteSpider.__module__},
    )
