"""The scheduler (crawler/scheduler.py), built from a crawler: request queues on disk even
without JOBDIR, and pages left queued at an early stop recorded."""

from __future__ import annotations

import asyncio
import logging
import tempfile
from pathlib import Path

import pytest
from scrapy import Request
from scrapy.core.scheduler import Scheduler
from scrapy.crawler import Crawler

from crawler.scheduler import DiskQueueScheduler
from tests.components import running_engine, site_crawler


def _scheduler(crawler: Crawler) -> DiskQueueScheduler:
    scheduler = DiskQueueScheduler.from_crawler(crawler)
    scheduler.open(crawler.spider)
    return scheduler


def _pages(*paths: str) -> list[Request]:
    return [Request(f"https://docs.example.com{p}", meta={"kb_page": True}) for p in paths]


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The temporary folder the scheduler's scratch queue goes to."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_the_project_uses_it(tmp_path: Path) -> None:
    crawler = site_crawler(tmp_path)
    assert crawler.settings["SCHEDULER"] == "crawler.scheduler.DiskQueueScheduler"
    assert issubclass(DiskQueueScheduler, Scheduler)


def test_without_jobdir_requests_wait_on_disk_in_a_folder_removed_at_close(
    tmp_path: Path, scratch: Path
) -> None:
    async def main() -> None:
        crawler = site_crawler(tmp_path)
        async with running_engine(crawler):
            scheduler = _scheduler(crawler)
            for request in _pages("/a", "/b", "/c"):
                assert scheduler.enqueue_request(request)
            (queue,) = scratch.iterdir()
            assert queue.name.startswith("kbcrawler-queue-")
            assert any(f.is_file() for f in queue.rglob("*"))  # the queue's files
            assert len(scheduler) == 3
            first = scheduler.next_request()
            assert first is not None and first.url == "https://docs.example.com/c"  # LIFO
            scheduler.close("finished")
            assert not queue.exists()

    asyncio.run(main())


def test_with_jobdir_the_queue_is_kept_for_the_next_run(tmp_path: Path, scratch: Path) -> None:
    jobdir = tmp_path / "job"

    async def main() -> None:
        crawler = site_crawler(tmp_path, settings={"JOBDIR": str(jobdir)})
        async with running_engine(crawler):
            scheduler = _scheduler(crawler)
            for request in _pages("/a", "/b"):
                scheduler.enqueue_request(request)
            scheduler.close("shutdown")
        assert list(scratch.iterdir()) == []  # Scrapy's own JOBDIR, no scratch folder
        crawler = site_crawler(tmp_path / "again", settings={"JOBDIR": str(jobdir)})
        async with running_engine(crawler):
            again = _scheduler(crawler)
            assert len(again) == 2
            urls = {r.url for r in iter(again.next_request, None)}
            assert urls == {"https://docs.example.com/a", "https://docs.example.com/b"}
            again.close("finished")

    asyncio.run(main())


def test_pages_left_queued_at_an_early_stop_are_recorded(
    tmp_path: Path, scratch: Path, caplog: pytest.LogCaptureFixture
) -> None:
    crawler = site_crawler(tmp_path, settings={"KB_URL_RECORDS_PER_REASON": 2})

    async def main() -> None:
        async with running_engine(crawler):
            scheduler = _scheduler(crawler)
            for request in _pages("/a", "/b", "/c"):
                scheduler.enqueue_request(request)
            scheduler.enqueue_request(Request("https://docs.example.com/sitemap.xml"))  # no page
            with caplog.at_level(logging.INFO, logger="crawler.scheduler"):
                scheduler.close("max_pages")

    asyncio.run(main())
    assert crawler.stats.get_value("skipped/max_pages") == 3  # two listed, the third counted
    assert "3 page(s) not crawled (max_pages; 3 still queued): recorded as max_pages" in (
        caplog.text
    )
