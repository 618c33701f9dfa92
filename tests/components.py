"""Crawlers for component tests, built the way Scrapy's own suite builds them.

``scrapy.utils.test.get_crawler`` with this project's settings module and a real
:class:`~crawler.spiders.site.SiteSpider` read from a site file: a component gets the
crawler, settings, stats and signals it gets in a crawl, without a download.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import yaml
from scrapy import signals
from scrapy.core.engine import ExecutionEngine
from scrapy.crawler import Crawler
from scrapy.utils.test import get_crawler

import settings as project_settings
from crawler.extract import core
from crawler.extract.result import ExtractedPage
from crawler.options import ExtractOptions
from crawler.pool import ExtractionPool
from crawler.spiders.site import SiteSpider


def extract_options(**changes: Any) -> ExtractOptions:
    """ExtractOptions with the settings' defaults (KB_MIN_CHARS, KB_LANG_SAMPLE_CHARS), as a
    site file without those keys gets them, plus ``changes``."""
    defaults = {
        "min_chars": project_settings.KB_MIN_CHARS,
        "lang_sample_chars": project_settings.KB_LANG_SAMPLE_CHARS,
    }
    return ExtractOptions(**{**defaults, **changes})


def make_pool(workers: int = 0, **changes: Any) -> ExtractionPool:
    """An ExtractionPool with the settings' timeout and start method (KB_EXTRACT_TIMEOUT,
    KB_EXTRACT_START_METHOD), as the crawl builds it, plus ``changes``."""
    defaults = {
        "timeout": project_settings.KB_EXTRACT_TIMEOUT,
        "start_method": project_settings.KB_EXTRACT_START_METHOD,
    }
    return ExtractionPool(workers, **{**defaults, **changes})


def extract_page(
    html: str | bytes, url: str, options: ExtractOptions | None = None, **kwargs: Any
) -> ExtractedPage:
    """:func:`crawler.extract.core.extract_page`, with :func:`extract_options` unless given."""
    return core.extract_page(html, url, options or extract_options(), **kwargs)


def project_values(tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    """The project's settings module as a dict, state and outbox under ``tmp_path``."""
    values = {k: getattr(project_settings, k) for k in dir(project_settings) if k.isupper()}
    values.update(KB_STATE_DIR=str(tmp_path / "state"), KB_OUTBOX=str(tmp_path / "outbox"))
    return {**values, **overrides}


def site_crawler(tmp_path: Path, settings: dict[str, Any] | None = None, **site: Any) -> Crawler:
    """A crawler with this project's settings (plus ``settings``) and its spider opened on a
    site file with the ``site`` keys (``name: site``, ``start_urls`` of docs.example.com
    unless given); stats are open, nothing is downloaded."""
    site.setdefault("start_urls", ["https://docs.example.com/"])
    tmp_path.mkdir(parents=True, exist_ok=True)
    config = tmp_path / "site.yaml"
    config.write_text(yaml.safe_dump({"name": "site", **site}), encoding="utf-8")
    crawler = get_crawler(SiteSpider, project_values(tmp_path, **(settings or {})))
    crawler.spider = SiteSpider.from_crawler(crawler, config=str(config))
    crawler.stats.open_spider()
    return crawler


@asynccontextmanager
async def running_engine(crawler: Crawler) -> AsyncIterator[ExecutionEngine]:
    """``crawler.engine`` for components that reach the downloader (slots, priority queues);
    inside a running asyncio loop. Its download handlers are closed on exit."""
    crawler.engine = ExecutionEngine(crawler, lambda spider: None)
    try:
        yield crawler.engine
    finally:
        await crawler.signals.send_catch_log_async(signals.engine_stopped)
