"""Per-URL records of a run: every URL requested or refused and not delivered, with its reason.

Each run writes, beside its run report ``KB_STATE_DIR/<site>/runs/<stamp>.json``, the file
``KB_STATE_DIR/<site>/runs/<stamp>.urls.jsonl``: one JSON object per line, UTF-8::

    {"url": "https://docs.example.com/print/guide", "reason": "canonical",
     "detail": "https://docs.example.com/guide", "referer": "https://docs.example.com/",
     "depth": 2, "time": "2026-11-29T18:40:12Z"}

- ``url``: the URL as requested (normalized, see :func:`crawler.urls.normalize_url`).
- ``reason``: one of :data:`REASONS` (or an extraction skip reason the extractor adds).
- ``detail``: what the reason is about, or null: the preferred URL (``canonical``,
  ``duplicate``, ``redirect``), the refused host or rule, the content type, the error text.
- ``referer``: the page (or sitemap) the URL was found on, or null (start URLs).
- ``depth``: link depth (0 = start URL or sitemap entry), or null when unknown.
- ``what``: present and ``"sitemap"`` for sitemap/robots.txt URLs; absent for pages.

A URL has at most one line per run (the first reason wins). Lines are bounded: past
``KB_URL_RECORDS_PER_REASON`` lines of one reason, further URLs of that reason are only
counted (the run report's ``skipped_unlisted``). The counts per reason are the stats
``skipped/<reason>`` and the run report's ``skipped``: listed lines plus unlisted ones.

:func:`read_url_records`, :func:`run_reports` and :func:`runs_dir` are the reading side
(``kb-explain``).
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from scrapy.exceptions import DropItem

if TYPE_CHECKING:
    from collections.abc import Iterator

    from scrapy.statscollectors import StatsCollector

__all__ = [
    "REASONS",
    "RECORDS_SUFFIX",
    "REFUSALS",
    "UrlRecords",
    "download_failure_reason",
    "read_url_records",
    "records_path",
    "run_reports",
    "runs_dir",
    "url_key",
]

RECORDS_SUFFIX = ".urls.jsonl"

REASONS: dict[str, str] = {
    "robots": "disallowed by robots.txt",
    "offsite": "on a host the site file does not allow (link or redirect)",
    "private_address": "a loopback/private address the site file does not name",
    "denied": "refused by the site file's allow/deny rules",
    "depth": "linked only beyond max_depth",
    "max_pages": "not extracted: the run stopped at max_pages",
    "not_reached": "still queued when the run stopped (detail: the close reason)",
    "noindex": "robots meta tag or X-Robots-Tag noindex",
    "canonical": "rel=canonical names another URL of the crawl, which was delivered",
    "duplicate": "same main text as another URL (detail), which was delivered",
    "redirect": "redirected to another URL (detail)",
    "thin": "main text shorter than min_chars",
    "empty": "no main text",
    "not_html": "not an HTML page (detail: the content type)",
    "too_large": "larger than DOWNLOAD_MAXSIZE (a linked document: max_document_bytes)",
    "http_<status>": "the server answered this HTTP status (after retries)",
    "timeout": "no answer in DOWNLOAD_TIMEOUT (after retries)",
    "dns": "the host name does not resolve",
    "connection": "the connection failed (refused, reset, TLS)",
    "download_error": "another download error (detail)",
    "extraction_failed": "the extraction worker failed (detail: why)",
    "render_failed": "the browser could not render the page (detail: why; render_js)",
    "parse_error": "the HTML (or a linked PDF/DOCX) could not be parsed",
    "no_text": "a linked document without text (a scanned PDF)",
    "dropped": "dropped by an item pipeline (detail: its message)",
    "item_error": "an item pipeline raised an error on it (detail)",
    "spider_error": "the spider's callback raised an error on it (detail)",
}
"""Reasons and what they mean (README "Per-URL records" lists the same)."""

REFUSALS = frozenset({"robots", "offsite", "private_address"})
"""Reasons of a request refused before its download: not a download failure, not rendered
again, and no doubt on the page's last delivered version."""

_DEDUPE_FACTOR = 20  # remember this many URLs per per-reason line budget (memory bound)


def runs_dir(state_dir: str | Path, site: str) -> Path:
    """``KB_STATE_DIR/<site>/runs``: run reports (``*.json``) and records (``*.urls.jsonl``)."""
    return Path(state_dir) / site / "runs"


def run_reports(state_dir: str | Path, site: str) -> list[Path]:
    """The site's run reports (``<stamp>.json``), oldest first; ``[]`` when none."""
    folder = runs_dir(state_dir, site)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("*.json") if not p.name.endswith(RECORDS_SUFFIX))


def records_path(report_path: str | Path) -> Path:
    """The records file beside a run report: ``<stamp>.json`` -> ``<stamp>.urls.jsonl``."""
    path = Path(report_path)
    return path.with_name(path.name.removesuffix(".json") + RECORDS_SUFFIX)


def read_url_records(path: str | Path, url: str | None = None) -> Iterator[dict[str, Any]]:
    """Records of one run, in order; only those of ``url`` when given.

    ``path`` is a ``*.urls.jsonl`` file (or its run report ``*.json``). Lines that are
    not JSON objects (a run killed mid-write) are skipped. Raises ``OSError`` when the
    file cannot be read.
    """
    path = Path(path)
    if path.name.endswith(".json"):
        path = records_path(path)
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and (url is None or record.get("url") == url):
                yield record


def download_failure_reason(exc: BaseException) -> tuple[str, str | None] | None:
    """(reason, detail) of a request's errback exception; None when it is no loss.

    HTTP errors give ``http_<status>``; Scrapy's robots.txt and offsite middlewares'
    ``IgnoreRequest`` give ``robots`` / ``offsite``; network errors give ``dns``,
    ``timeout``, ``connection``, ``too_large`` (DOWNLOAD_MAXSIZE cancels the download).
    Our own middlewares put ``(reason, detail)`` in ``request.meta["kb_refused"]`` instead
    (the caller reads it first); an ``IgnoreRequest`` without it is "not modified" (304).
    """
    from scrapy import exceptions as scrapy_errors
    from scrapy.exceptions import IgnoreRequest
    from scrapy.spidermiddlewares.httperror import HttpError
    from twisted.internet import defer, error
    from twisted.web._newclient import ResponseFailed, ResponseNeverReceived

    if isinstance(exc, HttpError):
        return f"http_{exc.response.status}", None
    if isinstance(exc, IgnoreRequest):
        message = str(exc)
        if message.startswith("Forbidden by robots.txt"):
            return "robots", None
        if message.startswith("Filtered offsite request"):
            return "offsite", message.partition(" to ")[2].strip("'") or None
        return None
    # Scrapy >= 2.19 raises its own download errors; older ones and the http2 handler
    # raise Twisted's. Both are mapped.
    kinds: tuple[tuple[str, tuple[str, ...], tuple[type[BaseException], ...]], ...] = (
        ("dns", ("CannotResolveHostError",), (error.DNSLookupError,)),
        (
            "timeout",
            ("DownloadTimeoutError",),
            (defer.TimeoutError, error.TimeoutError, error.TCPTimedOutError),
        ),
        ("too_large", ("DownloadCancelledError",), (defer.CancelledError,)),
        (
            "connection",
            ("DownloadConnectionRefusedError", "DownloadFailedError", "ResponseDataLossError"),
            (error.ConnectError, error.ConnectionLost, ResponseFailed, ResponseNeverReceived),
        ),
    )
    for reason, scrapy_names, twisted_types in kinds:
        scrapy_types = tuple(
            t for t in (getattr(scrapy_errors, n, None) for n in scrapy_names) if t is not None
        )
        if isinstance(exc, scrapy_types + twisted_types):
            return reason, str(exc) or None
    return "download_error", f"{type(exc).__name__}: {exc}"


class Skipped(DropItem):
    """``DropItem`` that says why, for the records (``reason`` None: not a loss, e.g. unchanged)."""

    def __init__(self, message: str, reason: str | None, detail: str | None = None):
        super().__init__(message, log_level="DEBUG")
        self.reason = reason
        self.detail = detail


def url_key(url: str) -> int:
    """A compact 64-bit key of a URL (blake2b), for memory-light sets of URLs."""
    return int.from_bytes(hashlib.blake2b(url.encode("utf-8"), digest_size=8).digest(), "big")


class UrlRecords:
    """The writer: one per run, shared by the spider, middlewares and pipelines.

    ``path`` None counts without writing (no sync state). Every :meth:`record` increments
    the stat ``skipped/<reason>``; the first ``per_reason`` URLs of a reason get a line.
    """

    def __init__(self, path: Path | None, per_reason: int, stats: StatsCollector):
        self.path = path
        self.per_reason = max(0, per_reason)
        self.stats = stats
        self.counts: dict[str, int] = {}
        self.page_counts: dict[str, int] = {}  # the same, without sitemap/robots.txt URLs
        self.unlisted: dict[str, int] = {}
        self.first: dict[str, tuple[str, str | None]] = {}  # reason -> (url, detail)
        self._seen: set[int] = set()
        self._max_seen = max(1000, self.per_reason * _DEDUPE_FACTOR)
        self._fh: IO[str] | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = path.open("w", encoding="utf-8")

    def record(
        self,
        url: str,
        reason: str,
        *,
        detail: Any = None,
        referer: str | None = None,
        depth: int | None = None,
        what: str | None = None,
    ) -> bool:
        """Account for one URL not delivered; False when it already was (first reason wins)."""
        key = url_key(url)
        if key in self._seen:
            return False
        if len(self._seen) < self._max_seen:
            self._seen.add(key)
        count = self.counts.get(reason, 0) + 1
        self.counts[reason] = count
        if reason not in self.first or (what is None and reason not in self.page_counts):
            # the first record of each reason, a page's rather than a sitemap's
            self.first[reason] = (url, None if detail is None else str(detail))
        if what is None:
            self.page_counts[reason] = self.page_counts.get(reason, 0) + 1
        self.stats.inc_value(f"skipped/{reason}")
        if self._fh is None or count > self.per_reason:
            self.unlisted[reason] = self.unlisted.get(reason, 0) + 1
            return True
        line: dict[str, Any] = {
            "url": url,
            "reason": reason,
            "detail": None if detail is None else str(detail),
            "referer": referer,
            "depth": depth,
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        if what:
            line["what"] = what
        self._fh.write(json.dumps(line, ensure_ascii=False) + "\n")
        return True

    def count_unlisted(self, reason: str, n: int) -> None:
        """``n`` page URLs of ``reason`` counted without lines (past a caller's own bound)."""
        if n <= 0:
            return
        for table in (self.counts, self.page_counts, self.unlisted):
            table[reason] = table.get(reason, 0) + n
        self.stats.inc_value(f"skipped/{reason}", n)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
