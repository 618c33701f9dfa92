"""The per-URL records writer/reader (crawler/runrecords.py) and the no-content verdict."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from scrapy import exceptions as scrapy_errors
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request, Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet import error

from crawler.extensions.sync import why_no_content
from crawler.runrecords import (
    UrlRecords,
    download_failure_reason,
    read_url_records,
    records_path,
    run_reports,
)


class Stats:
    """The one StatsCollector method the writer uses."""

    def __init__(self) -> None:
        self.values: Counter[str] = Counter()

    def inc_value(self, key: str, count: int = 1, start: int = 0) -> None:
        self.values[key] += count


def test_lines_are_bounded_per_reason_and_counts_kept(tmp_path: Path) -> None:
    stats = Stats()
    path = records_path(tmp_path / "runs" / "20260101T000000Z.json")
    assert path.name == "20260101T000000Z.urls.jsonl"
    records = UrlRecords(path, 3, stats)
    for i in range(10):
        records.record(f"https://x.test/{i}", "thin", referer="https://x.test/", depth=1)
    records.record("https://x.test/robots", "robots")
    assert not records.record("https://x.test/1", "noindex")  # first reason wins
    records.record("https://x.test/sitemap.xml", "http_404", what="sitemap")
    records.count_unlisted("depth", 5)
    records.close()
    lines = list(read_url_records(path))
    assert [r["reason"] for r in lines] == ["thin"] * 3 + ["robots", "http_404"]
    assert lines[0] | {"time": None} == {
        "url": "https://x.test/0",
        "reason": "thin",
        "detail": None,
        "referer": "https://x.test/",
        "depth": 1,
        "time": None,
    }
    assert lines[-1]["what"] == "sitemap"
    assert records.counts == {"thin": 10, "robots": 1, "http_404": 1, "depth": 5}
    assert records.page_counts == {"thin": 10, "robots": 1, "depth": 5}
    assert records.unlisted == {"thin": 7, "depth": 5}
    assert stats.values == Counter(
        {"skipped/thin": 10, "skipped/robots": 1, "skipped/http_404": 1, "skipped/depth": 5}
    )
    # the reader takes the report's path too, and filters by URL
    report = tmp_path / "runs" / "20260101T000000Z.json"
    assert [r["reason"] for r in read_url_records(report, "https://x.test/robots")] == ["robots"]
    report.write_text("{}", encoding="utf-8")
    assert run_reports(tmp_path.parent, tmp_path.name) == [report]
    assert run_reports(tmp_path, "no-such-site") == []


def test_reader_skips_a_torn_last_line(tmp_path: Path) -> None:
    path = tmp_path / "x.urls.jsonl"
    path.write_text('{"url": "https://x.test/", "reason": "thin"}\n{"url": "htt', encoding="utf-8")
    assert [r["url"] for r in read_url_records(path)] == ["https://x.test/"]


def _http_error(status: int) -> HttpError:
    request = Request("https://x.test/")
    return HttpError(Response("https://x.test/", status=status, request=request), "x")


def test_download_failure_reasons() -> None:
    assert download_failure_reason(_http_error(404)) == ("http_404", None)
    assert download_failure_reason(IgnoreRequest("Forbidden by robots.txt")) == ("robots", None)
    assert download_failure_reason(IgnoreRequest("Filtered offsite request to 'a.test'")) == (
        "offsite",
        "a.test",
    )
    assert download_failure_reason(IgnoreRequest("not modified")) is None
    assert download_failure_reason(error.DNSLookupError("a.test"))[0] == "dns"
    assert download_failure_reason(error.ConnectionRefusedError())[0] == "connection"
    assert download_failure_reason(error.TCPTimedOutError())[0] == "timeout"
    assert download_failure_reason(ValueError("odd"))[0] == "download_error"
    # Scrapy >= 2.19's own download errors
    assert download_failure_reason(scrapy_errors.CannotResolveHostError("a.test"))[0] == "dns"
    assert download_failure_reason(scrapy_errors.DownloadTimeoutError("slow"))[0] == "timeout"
    refused = scrapy_errors.DownloadConnectionRefusedError("refused")
    assert download_failure_reason(refused) == ("connection", "refused")
    too_big = scrapy_errors.DownloadCancelledError("over DOWNLOAD_MAXSIZE")
    assert download_failure_reason(too_big)[0] == "too_large"


def test_why_no_content_in_order() -> None:
    first: dict[str, Any] = {"connection": ("https://x.test/", "refused")}
    assert why_no_content({"connection": 1}, {"connection": 2}, first, 0) == (
        "the site is unreachable (https://x.test/: refused)"
    )
    assert why_no_content({"robots": 4}, {"robots": 4}, {}, 1) == (
        "everything is disallowed by robots.txt (4 URL(s) refused)"
    )
    assert why_no_content({"http_404": 2, "http_410": 1}, {}, {}, 3) == (
        "every page requested answered an HTTP error (2 x HTTP 404, 1 x HTTP 410)"
    )
    assert why_no_content({"thin": 1, "noindex": 2, "robots": 1}, {}, {}, 5) == (
        "every page was skipped (noindex 2, robots 1, thin 1; see the url records)"
    )
    assert why_no_content({}, {}, {}, 1).startswith("no page was found")
