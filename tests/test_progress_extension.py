"""The progress extension (crawler/extensions/progress.py), built from a crawler.

test_progress.py runs real crawls (a log file, a terminal); here the extension is driven
through Scrapy's signals on the project's settings.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from scrapy import Request, signals
from scrapy.exceptions import NotConfigured
from scrapy.http import Response

from crawler.extensions import progress
from crawler.extensions.progress import Progress
from tests.components import site_crawler


def test_progress_is_off_with_a_zero_period(tmp_path: Path) -> None:
    crawler = site_crawler(tmp_path, settings={"KB_PROGRESS_SECONDS": 0})
    with pytest.raises(NotConfigured):
        Progress.from_crawler(crawler)


@pytest.mark.parametrize(
    ("settings", "bar"),
    [({}, True), ({"LOG_FILE": "crawl.log"}, False), ({"KB_PROGRESS_BAR": False}, False)],
)
def test_the_live_display_only_on_a_terminal_without_a_log_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: dict[str, object], bar: bool
) -> None:
    monkeypatch.setattr(progress, "_stderr_is_terminal", lambda: True)
    assert Progress.from_crawler(site_crawler(tmp_path, settings=settings)).bar is bar


class _Lines(logging.Handler):
    """Collects the extension's log lines; sets ``seen`` at the first periodic one."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []
        self.seen = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())
        if not record.getMessage().endswith("(end)"):
            self.seen.set()


def test_without_a_terminal_a_line_every_period_and_one_at_the_end(tmp_path: Path) -> None:
    settings = {"KB_PROGRESS_SECONDS": 0.05, "LOG_FILE": str(tmp_path / "crawl.log")}
    crawler = site_crawler(tmp_path, settings=settings, max_pages=10)
    ext = Progress.from_crawler(crawler)
    assert ext.bar is False
    stats = crawler.stats
    stats.set_value("sitemap/pages", 40)  # the sitemaps list 40; max_pages caps it at 10
    stats.set_value("kb/pages", 3)
    stats.set_value("kb/documents_posted", 2)
    handler = _Lines()
    logger = logging.getLogger(progress.__name__)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)

    async def main() -> None:
        crawler.signals.send_catch_log(signals.spider_opened, spider=crawler.spider)
        for url, page in [("/a", True), ("/b", True), ("/robots.txt", False), ("/c", True)]:
            request = Request("https://docs.example.com" + url, meta={"kb_page": page})
            crawler.signals.send_catch_log(
                signals.response_received, response=Response(request.url), request=request,
                spider=crawler.spider,
            )  # fmt: skip
        await asyncio.wait_for(handler.seen.wait(), timeout=30)
        crawler.signals.send_catch_log(
            signals.spider_closed, spider=crawler.spider, reason="finished"
        )

    try:
        asyncio.run(main())
    finally:
        logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)
    periodic = [x for x in handler.lines if not x.endswith("(end)")]
    assert periodic and periodic[0].startswith("Progress: 3 of ~10 pages crawled (")
    assert "2 documents delivered, 1 pending" in periodic[0]
    assert handler.lines[-1].startswith("Progress: 3 of ~10 pages crawled (")
    assert handler.lines[-1].endswith(" (end)")
    assert ext.task is not None and not ext.task.running  # the period stops with the spider
