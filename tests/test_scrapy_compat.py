"""crawler/scrapy_compat.py against the installed Scrapy: each undocumented internal it wraps
still has the name, signature and behaviour the wrapper relies on. A Scrapy upgrade that
changes one fails here, by name.

Also the documented Scrapy signatures our subclasses rely on (Scheduler's ``jobdir``)."""

from __future__ import annotations

import asyncio
import gzip
import inspect
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from scrapy import Request
from scrapy.core.downloader import Downloader, Slot
from scrapy.core.scheduler import Scheduler
from scrapy.extensions.throttle import AutoThrottle
from scrapy.http import Response
from scrapy.settings import Settings
from scrapy.spiders import SitemapSpider
from scrapy.utils.conf import build_component_list
from scrapy.utils.misc import load_object
from scrapy.utils.test import get_crawler

import settings as project_settings
from crawler import scrapy_compat
from crawler.scheduler import DiskQueueScheduler
from crawler.scrapy_compat import (
    DecompressedTooLarge,
    NotModifiedAutoThrottle,
    gunzip_within,
    hold_slot_delay,
)
from crawler.spiders.site import SiteSpider
from tests.crawl_runner import write_site


def test_gunzip_within_the_limit_and_past_it() -> None:
    body = b"<urlset>" + b"x" * 200_000 + b"</urlset>"
    packed = gzip.compress(body)
    assert gunzip_within(packed, max_size=len(body)) == body
    assert gunzip_within(packed, max_size=0) == body  # 0: no limit, as DOWNLOAD_MAXSIZE
    with pytest.raises(DecompressedTooLarge):
        gunzip_within(packed, max_size=len(body) - 1)
    assert gunzip_within(b"\x1f\x8b\x08 not gzip at all", max_size=1000) is None
    assert gunzip_within(b"<urlset/>", max_size=1000) is None


def test_gunzip_stops_at_the_limit_and_raises_scrapys_private_error() -> None:
    """What gunzip_within catches: Scrapy's private exception, raised by the public gunzip,
    carrying the sizes (a bomb is not inflated whole)."""
    from scrapy.utils._compression import _DecompressionMaxSizeExceeded
    from scrapy.utils.gz import gunzip

    bomb = gzip.compress(b"\0" * 50_000_000)
    with pytest.raises(_DecompressionMaxSizeExceeded) as caught:
        gunzip(bomb, max_size=1_000_000)
    assert 1_000_000 < caught.value.decompressed_size < 2_000_000
    assert caught.value.max_size == 1_000_000
    assert list(inspect.signature(gunzip).parameters) == ["data", "max_size"]


def with_downloader(check: Callable[[Downloader], None]) -> None:
    """``check(downloader)`` on Scrapy's downloader, in the running loop it wants."""
    crawler = get_crawler(settings_dict={"DOWNLOAD_DELAY": 0.25, "DOWNLOAD_DELAY_JITTER": 0.5})

    async def main() -> None:
        downloader = Downloader(crawler)
        try:
            check(downloader)
        finally:
            downloader.close()

    asyncio.run(main())


def test_downloader_slots_are_what_hold_slot_delay_expects() -> None:
    def check(downloader: Downloader) -> None:
        assert isinstance(downloader.slots, dict)
        assert isinstance(downloader.per_slot_settings, dict)

    with_downloader(check)
    slot = Slot(concurrency=1, delay=0.5, jitter=0.3)
    assert (slot.delay, slot.jitter) == (0.5, 0.3)


def test_hold_slot_delay_raises_an_existing_slot() -> None:
    """The robots.txt request created the host's slot before Crawl-delay was known."""
    with_downloader(_raises_an_existing_slot)


def _raises_an_existing_slot(downloader: Downloader) -> None:
    key, slot = downloader._get_slot(Request("http://example.com/robots.txt"))
    assert (key, slot.delay) == ("example.com", 0.25) and slot.jitter
    hold_slot_delay(downloader, "example.com", 2.0)
    assert downloader.slots["example.com"] is slot
    assert (slot.delay, slot.jitter) == (2.0, 0.0)
    assert {slot.download_delay() for _ in range(20)} == {2.0}
    hold_slot_delay(downloader, "example.com", 1.0)  # a minimum: never lowered
    assert slot.delay == 2.0


def test_hold_slot_delay_reaches_slots_scrapy_creates_later() -> None:
    """Slots are created (and dropped when idle) by Scrapy: a new one gets the delay."""
    with_downloader(_reaches_new_slots)


def _reaches_new_slots(downloader: Downloader) -> None:
    hold_slot_delay(downloader, "example.org", 3.0)
    assert "example.org" not in downloader.slots
    _, slot = downloader._get_slot(Request("https://example.org/page"))
    assert (slot.delay, slot.jitter) == (3.0, 0.0)


def test_scheduler_takes_a_jobdir(tmp_path: Path) -> None:
    """Documented: Scheduler(dupefilter, jobdir=None, ...); the disk queues live there."""
    assert list(inspect.signature(Scheduler.__init__).parameters)[1:3] == ["dupefilter", "jobdir"]
    crawler = get_crawler(settings_dict={"JOBDIR": str(tmp_path / "job")})
    scheduler = DiskQueueScheduler.from_crawler(crawler)
    assert scheduler._scratch is None
    assert Path(scheduler.dqdir).parent == tmp_path / "job"


def test_scheduler_without_jobdir_gets_a_scratch_jobdir() -> None:
    """(Queueing on disk and removal at close: tests/test_scheduler.py.)"""
    scheduler = DiskQueueScheduler.from_crawler(get_crawler())
    scratch = Path(scheduler._scratch)
    try:
        assert scratch.name.startswith("kbcrawler-queue-")
        assert Path(scheduler.dqdir).parent == scratch and Path(scheduler.dqdir).is_dir()
    finally:
        shutil.rmtree(scratch)


def test_the_adapter_is_the_only_importer_of_scrapy_internals() -> None:
    root = Path(scrapy_compat.__file__).parents[1]
    for path in [*root.glob("crawler/**/*.py"), *root.glob("pipelines/**/*.py")]:
        if path.name == "scrapy_compat.py":
            continue
        text = path.read_text(encoding="utf-8")
        assert "scrapy.utils._" not in text, path
        assert ".downloader.slots" not in text and "per_slot_settings" not in text, path
        assert "_dqdir" not in text, path


def test_site_spider_names_do_not_collide_with_sitemapspiders_attributes(tmp_path: Path) -> None:
    """SiteSpider subclasses SitemapSpider, whose __init__/from_crawler set private instance
    attributes (``_cbs``, ``_follow``, ``_max_size``, ...): one named like a SiteSpider method
    would hide the method (a ``_follow`` did)."""
    config = write_site(tmp_path, "compat", start_urls=["https://docs.example.com/"])
    values = {k: getattr(project_settings, k) for k in dir(project_settings) if k.isupper()}
    crawler = get_crawler(SiteSpider, values)
    spider = SiteSpider.from_crawler(crawler, config=str(config))
    assert isinstance(spider, SitemapSpider)
    own = {name for name in vars(spider) if name.startswith("_")}
    assert {"_cbs", "_follow", "_max_size", "_warn_size"} <= own  # what Scrapy sets today
    methods = {n for c in SiteSpider.__mro__ if c is not SitemapSpider for n in vars(c)}
    assert not own & methods
    assert spider.sitemap_filter is not None and list(spider.sitemap_filter([{"loc": "x"}]))


def _delay_after(throttle_class: type[AutoThrottle], status: int) -> float:
    """A slot's delay after one fast answer (10 ms) with ``status``, from 0.5 s."""
    crawler = get_crawler(settings_dict={"AUTOTHROTTLE_ENABLED": True})
    throttle = throttle_class(crawler)
    throttle.mindelay, throttle.maxdelay = 0.0, 30.0  # what _spider_opened sets
    slot = Slot(concurrency=1, delay=0.5, jitter=0.0)
    throttle._adjust_delay(slot, 0.01, Response("https://example.com/", status=status))
    return slot.delay


def test_autothrottle_lets_only_a_200_lower_the_delay() -> None:
    """Scrapy's policy the override relies on: _adjust_delay(slot, latency, response), and
    a 304 does not lower the delay there (if Scrapy changes either, this fails)."""
    assert list(inspect.signature(AutoThrottle._adjust_delay).parameters) == [
        "self", "slot", "latency", "response",
    ]  # fmt: skip
    assert _delay_after(AutoThrottle, 200) < 0.5
    assert _delay_after(AutoThrottle, 304) == 0.5


def test_a_304_lowers_the_delay_as_a_200_does_and_errors_still_do_not() -> None:
    assert _delay_after(NotModifiedAutoThrottle, 304) == _delay_after(AutoThrottle, 200) < 0.5
    assert _delay_after(NotModifiedAutoThrottle, 404) == 0.5
    assert _delay_after(NotModifiedAutoThrottle, 503) == 0.5


def test_the_project_runs_the_304_aware_autothrottle() -> None:
    settings = Settings()
    settings.setmodule(project_settings)
    enabled = build_component_list(settings.getwithbase("EXTENSIONS"))
    assert NotModifiedAutoThrottle in map(load_object, enabled)
    assert AutoThrottle not in map(load_object, enabled)
