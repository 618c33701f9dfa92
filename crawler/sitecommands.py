"""What the operator commands (``kb-check``, ``kb-explain``, ``kb-search``, ``kb-query``) share:
finding a site's spider and the absolute state and outbox folders.

They run without a crawler process (no reactor, no Scrapy logging set-up) and print to
stdout; a user mistake is one line on stderr and exit status 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from scrapy.utils.misc import load_object

from crawler.config import ConfigError
from crawler.paths import resolve_path

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings

    from crawler.spiders.site import SiteSpider

EXIT_USAGE = 2


class UnknownSite(ConfigError):
    """No spider of that name (no ``settings/sites/<name>.yaml``)."""


def config_error_line(exc: ConfigError) -> str:
    """The one line a command prints for a bad or unknown site (as ``scrapy crawl`` does)."""
    if isinstance(exc, UnknownSite):
        return f"kbcrawler: {exc}"
    return f"kbcrawler: bad site file: {exc}"


def site_spider(settings: BaseSettings, name: str, config: str | None = None) -> SiteSpider:
    """The spider ``scrapy crawl <name>`` would run (its rules, no crawler attached).

    ``name`` is a site (``settings/sites/<name>.yaml``), or ``site`` with ``config`` a path.
    Raises :class:`ConfigError` (one line) for an unknown site or a bad site file.
    """
    loader = load_object(settings["SPIDER_LOADER_CLASS"]).from_settings(settings.frozencopy())
    if name not in loader.list():
        raise UnknownSite(
            f"no site named {name!r} (`scrapy list` shows the sites; or use: site -a config=PATH)"
        )
    spidercls = loader.load(name)
    spider = spidercls(config=config)
    if spider.full_sync is None:
        spider.full_sync = settings.getbool("KB_FULL_SYNC")
    return spider


def state_dir(settings: BaseSettings) -> Path:
    """``KB_STATE_DIR`` as an absolute path (see :mod:`crawler.paths`)."""
    return resolve_path(settings.get("KB_STATE_DIR"))


def outbox_dir(settings: BaseSettings) -> Path:
    """``KB_OUTBOX`` as an absolute path (see :mod:`crawler.paths`)."""
    return resolve_path(settings.get("KB_OUTBOX"))
