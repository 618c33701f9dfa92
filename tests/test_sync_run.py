"""The SyncRun extension (crawler/extensions/sync.py) as a component, built with Scrapy's
``get_crawler`` like Scrapy's own suite: lock, sync decisions, records, run report, forced
stop. The end-to-end crawls of the same behaviour are in tests/test_sync.py."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from scrapy import signals
from scrapy.exceptions import CloseSpider, NotConfigured
from scrapy.utils.test import get_crawler

from crawler.extensions.sync import FORCED_STOP, SyncRun, read_sync_state
from crawler.items import PageItem
from crawler.middlewares import ConditionalGetMiddleware
from crawler.runrecords import Skipped, read_url_records
from crawler.settings_check import kb_defaults
from crawler.sitelock import SiteLock
from crawler.spiders.site import SiteSpider
from pipelines.sync import SyncPipeline
from tests.crawl_runner import write_site

SITE = "component"
A, B, C = (f"https://docs.example.com/{p}" for p in ("a", "b", "c"))


def _crawler(tmp_path: Path, full: str | None = None, **settings: Any) -> Any:
    """A crawler with the SyncRun extension and a site spider (not started)."""
    crawler = get_crawler(
        SiteSpider,
        {
            **kb_defaults(),
            "EXTENSIONS_BASE": {},  # this extension alone
            "EXTENSIONS": {"crawler.extensions.sync.SyncRun": 900},
            "KB_STATE_DIR": str(tmp_path / "state"),
            **settings,
        },
    )
    config = write_site(tmp_path, SITE, start_urls=["https://docs.example.com/"])
    crawler.spider = SiteSpider.from_crawler(crawler, config=str(config), full=full)
    return crawler


def _open(tmp_path: Path, **kw: Any) -> tuple[Any, SyncRun]:
    crawler = _crawler(tmp_path, **kw)
    run = crawler.get_extension(SyncRun)
    assert run is not None
    crawler.signals.send_catch_log(signals.spider_opened, spider=crawler.spider)
    assert run.state is not None
    return crawler, run


def _close(crawler: Any, reason: str = "finished", content: bool = True) -> dict[str, Any]:
    """Close the run as the engine does (``content``: the run gave a document); its report."""
    if content:
        crawler.stats.inc_value("discovery/content_pages")
    crawler.signals.send_catch_log(signals.spider_closed, spider=crawler.spider, reason=reason)
    return json.loads(Path(crawler.stats.get_value("sync/report")).read_text(encoding="utf-8"))


def _item(url: str, text: str = "same text") -> PageItem:
    return PageItem(
        url=url,
        document={"title": "t", "content": text, "url": url, "metadata": {}},
        content_hash=f"hash-of-{text}",
        links=[C],
        etag='"v1"',
        last_modified="Mon, 01 Jan 2024 00:00:00 GMT",
        lastmod="2024-01-01",
    )


def _deliver(run: SyncRun, item: PageItem) -> None:
    """What the knowledge-base pipeline does once the API accepted every part of a page."""
    assert run.state is not None
    run.state.record_delivered(
        item.url, fingerprint=item.fingerprint, doc_ids=["doc-1"], links=item.links,
        etag=item.etag, last_modified=item.last_modified, lastmod=item.lastmod,
    )  # fmt: skip
    run.stats.inc_value("kb/pages_delivered")


def test_off_when_kb_sync_enabled_is_false_and_its_users_too(tmp_path: Path) -> None:
    crawler = _crawler(tmp_path, KB_SYNC_ENABLED=False)
    assert crawler.get_extension(SyncRun) is None
    with pytest.raises(NotConfigured):
        SyncPipeline.from_crawler(crawler)
    with pytest.raises(NotConfigured):
        ConditionalGetMiddleware.from_crawler(crawler)
    crawler.signals.send_catch_log(signals.spider_opened, spider=crawler.spider)
    assert not (tmp_path / "state").exists()  # no lock, no state, no report


def test_a_second_run_of_the_site_is_refused_until_the_first_ends(tmp_path: Path) -> None:
    first, run = _open(tmp_path)
    second = _crawler(tmp_path)
    other = second.get_extension(SyncRun)
    for _ in range(2):  # every component that asks is refused; the error is logged once
        with pytest.raises(CloseSpider) as refused:
            other.open()
        assert refused.value.reason == "already_running"
    assert second.stats.get_value("kb/run_failed") == "already_running"
    assert other.state is None and other.records is None
    other.spider_closed(second.spider, "already_running")  # nothing to finish, no report
    assert not second.stats.get_value("sync/report")
    report = _close(first)
    assert report["site"] == SITE and report["failed"] is None
    assert SiteLock(run.lock.path).acquire() is None  # released with the run


def test_duplicate_text_is_delivered_once_and_unchanged_text_not_again(tmp_path: Path) -> None:
    crawler, run = _open(tmp_path)
    pipeline = SyncPipeline.from_crawler(crawler)
    first = pipeline.process_item(_item(A))
    assert first.fingerprint.startswith("hash-of-same text:")
    with pytest.raises(Skipped) as dropped:
        pipeline.process_item(_item(B))
    assert (dropped.value.reason, dropped.value.detail) == ("duplicate", A)
    _deliver(run, first)
    _close(crawler)
    assert crawler.stats.get_value("sync/new") == 1
    assert crawler.stats.get_value("sync/duplicate_content") == 1

    crawler, run = _open(tmp_path)
    pipeline = SyncPipeline.from_crawler(crawler)
    with pytest.raises(Skipped) as dropped:  # layer 3: same text as delivered
        pipeline.process_item(_item(A))
    assert dropped.value.reason is None  # not a loss: no record line
    with pytest.raises(Skipped) as dropped:  # delivered under A by an earlier run
        pipeline.process_item(_item(B))
    assert (dropped.value.reason, dropped.value.detail) == ("duplicate", A)
    assert pipeline.process_item(_item(A, "new text")).url == A  # changed: delivered
    stats = crawler.stats.get_stats()
    assert stats["sync/unchanged/fingerprint"] == 1 and stats["sync/changed"] == 1
    _close(crawler)

    crawler, _ = _open(tmp_path, full="1")  # a full sync re-sends unchanged text
    pipeline = SyncPipeline.from_crawler(crawler)
    assert pipeline.process_item(_item(A)).url == A
    assert crawler.stats.get_value("sync/unchanged/fingerprint") is None
    _close(crawler)


def test_kb_explain_reads_the_state_the_crawl_compares_with(tmp_path: Path) -> None:
    """kb-explain asks the crawl's own state (read-only) the crawl's own questions."""
    crawler = _crawler(tmp_path)
    assert read_sync_state(tmp_path / "state", crawler.spider) is None  # no run yet
    crawler, run = _open(tmp_path)
    pipeline = SyncPipeline.from_crawler(crawler)
    delivered = pipeline.process_item(_item(A))
    _deliver(run, delivered)
    _close(crawler)
    state_file = tmp_path / "state" / SITE / "state.sqlite"
    before = state_file.read_bytes()

    state = read_sync_state(tmp_path / "state", _crawler(tmp_path).spider)
    assert state is not None
    try:
        same = state.fingerprint("hash-of-same text")
        assert same == delivered.fingerprint  # the crawl's signature
        assert state.compare(A, same) == "unchanged"
        assert state.compare(A, state.fingerprint("hash-of-new text")) == "changed"
        assert state.compare(B, same) == "new"
        assert state.delivered_elsewhere(B, same) == A  # SyncRun.duplicate_of's question
        with pytest.raises(sqlite3.OperationalError):
            state.mark_seen(B)
    finally:
        state.close()
    assert state_file.read_bytes() == before


def test_lastmod_and_304_layers_answer_from_the_delivered_version(tmp_path: Path) -> None:
    crawler, run = _open(tmp_path)
    assert not run.unchanged_by_lastmod(A, "2024-01-01")  # never delivered
    assert run.validators(A) == (None, None)
    item = SyncPipeline.from_crawler(crawler).process_item(_item(A))
    _deliver(run, item)
    _close(crawler)

    crawler, run = _open(tmp_path)
    assert run.unchanged_by_lastmod(A, "2024-01-01T00:00:00Z")
    assert not run.unchanged_by_lastmod(A, "2024-02-01")  # newer: downloaded
    assert not run.unchanged_by_lastmod(A, None)
    assert run.validators(A) == ('"v1"', "Mon, 01 Jan 2024 00:00:00 GMT")
    assert run.not_modified(A)
    stats = crawler.stats.get_stats()
    assert stats["sync/unchanged/lastmod"] == 1 and stats["sync/unchanged/304"] == 1
    assert _close(crawler)["pages_reached"] == 1  # A, seen without a download

    crawler, run = _open(tmp_path, KB_FULL_SYNC=True)
    assert not run.unchanged_by_lastmod(A, "2024-01-01")
    assert run.validators(A) == (None, None)
    assert not run.not_modified(A)
    _close(crawler)


def test_the_report_counts_the_run_and_the_records_file_lists_drops(tmp_path: Path) -> None:
    crawler, run = _open(tmp_path)
    crawler.spider.records = run.records  # as the spider's start() does
    crawler.spider.skip(C, "thin")
    exc = Skipped(f"same text as {A}", "duplicate", A)
    crawler.signals.send_catch_log(
        signals.item_dropped, item=_item(B), response=None, exception=exc, spider=crawler.spider
    )
    crawler.signals.send_catch_log(
        signals.item_dropped, item={"url": A}, response=None, exception=Skipped("u", None),
        spider=crawler.spider,
    )  # fmt: skip
    report = _close(crawler)
    assert report["close_reason"] == "finished" and report["complete"] is True
    assert report["skipped"] == {"thin": 1, "duplicate": 1}
    records = list(read_url_records(report["url_records"]))
    assert [(r["url"], r["reason"], r["detail"]) for r in records] == [
        (C, "thin", None),
        (B, "duplicate", A),
    ]
    assert crawler.stats.get_value("kb/run_failed") is None


def test_a_run_that_reached_no_content_fails_and_marks_nothing_gone(tmp_path: Path) -> None:
    crawler, run = _open(tmp_path)
    run.records.record(A, "http_404")
    report = _close(crawler, content=False)
    assert report["failed"] == "no_content" and report["complete"] is False
    assert "every page requested answered an HTTP error (1 x HTTP 404)" in (
        crawler.stats.get_value("kb/no_content")
    )


def test_forced_stop_writes_an_incomplete_report_and_releases_the_lock(tmp_path: Path) -> None:
    crawler, run = _open(tmp_path)
    item = SyncPipeline.from_crawler(crawler).process_item(_item(A))
    _deliver(run, item)
    run.forced_stop()
    report = json.loads(Path(crawler.stats.get_value("sync/report")).read_text("utf-8"))
    assert crawler.stats.get_value("finish_reason") == FORCED_STOP
    assert report["close_reason"] == FORCED_STOP and report["complete"] is False
    assert report["failed"] == f"stopped ({FORCED_STOP})"
    run.forced_stop()  # once finished, nothing more to do
    crawler, run = _open(tmp_path)  # the lock is free; the delivered page is remembered
    assert run.state is not None and run.state.delivered_fingerprint(A) == item.fingerprint
    _close(crawler)
