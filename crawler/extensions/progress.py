"""Progress of a crawl: a live display on a terminal, one log line a period otherwise.

On a terminal (stderr is a TTY, no ``LOG_FILE``, ``KB_PROGRESS_BAR`` on) a rich progress
display sits under the log lines: pages crawled, queue, documents delivered and pending,
rate, and an ETA once the sitemaps said how many pages there are. Otherwise (cron,
scrapyd, a pipe) one ``Progress:`` log line every ``KB_PROGRESS_SECONDS`` with the same
numbers, and a last one when the crawl closes.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.asyncio import create_looping_call

from crawler.spiders import site_spider_of

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Request, Spider
    from scrapy.crawler import Crawler
    from scrapy.http import Response

logger = logging.getLogger(__name__)

BAR_REFRESH_SECONDS = 0.5


def progress_numbers(stats: dict[str, Any], pages: int, elapsed: float) -> dict[str, Any]:
    """The displayed numbers from the crawl's stats.

    ``pages``: page responses so far; ``elapsed``: seconds since the spider opened. Returns
    ``{"pages", "queued", "delivered", "pending", "per_min", "total", "eta_seconds"}`` where
    ``total`` (pages the sitemaps list, capped by ``max_pages`` by the caller) and
    ``eta_seconds`` are None while unknown.
    """

    def get(key: str) -> int:
        value = stats.get(key, 0)
        return int(value) if isinstance(value, int | float) else 0

    produced = get("kb/pages") - get("kb/pages_split") + get("kb/parts")
    delivered = get("kb/documents_posted") + get("kb/documents_written")
    pending = max(0, produced - delivered - get("kb/quarantined"))
    per_min = pages / elapsed * 60 if elapsed > 0 else 0.0
    listed = get("sitemap/pages")
    total = listed or None
    eta = None
    if total and per_min > 0:
        done = pages + get("sync/unchanged/lastmod")
        eta = max(0.0, (total - done) / per_min * 60)
    return {
        "pages": pages,
        "queued": max(0, get("scheduler/enqueued") - get("scheduler/dequeued")),
        "delivered": delivered,
        "pending": pending,
        "per_min": round(per_min, 1),
        "total": total,
        "eta_seconds": eta,
    }


def _eta(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    minutes, secs = divmod(int(seconds + 0.5), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def progress_line(n: dict[str, Any]) -> str:
    """``Progress: 120 pages crawled (35.0/min), 40 queued, ...`` (the log form)."""
    of = f" of ~{n['total']}" if n["total"] else ""
    return (
        f"Progress: {n['pages']}{of} pages crawled ({n['per_min']:.1f}/min), {n['queued']} "
        f"queued, {n['delivered']} documents delivered, {n['pending']} pending, "
        f"ETA {_eta(n['eta_seconds'])}"
    )


class Progress:
    """The extension (``EXTENSIONS``); off with ``KB_PROGRESS_SECONDS = 0``."""

    def __init__(self, crawler: Crawler):
        s = crawler.settings
        self.interval = s.getfloat("KB_PROGRESS_SECONDS")
        if self.interval <= 0:
            raise NotConfigured
        self.crawler = crawler
        self.bar = s.getbool("KB_PROGRESS_BAR") and not s.get("LOG_FILE") and _stderr_is_terminal()
        self.pages = 0
        self.started = 0.0
        self.task: Any = None
        self.live: Any = None
        self.swapped: list[tuple[logging.StreamHandler[Any], Any]] = []
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(self.response_received, signal=signals.response_received)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def response_received(self, response: Response, request: Request, spider: Spider) -> None:
        if request.meta.get("kb_page"):
            self.pages += 1

    def numbers(self) -> dict[str, Any]:
        numbers = progress_numbers(
            self.crawler.stats.get_stats(), self.pages, time.monotonic() - self.started
        )
        site_spider = site_spider_of(self.crawler.spider)  # any spider: no cap without a site
        if numbers["total"] and site_spider is not None:
            numbers["total"] = min(numbers["total"], site_spider.site.max_pages)
        return numbers

    def spider_opened(self, spider: Spider) -> None:
        self.started = time.monotonic()
        if self.bar:
            self._start_bar()
            self.task = create_looping_call(self._refresh)
            self.task.start(BAR_REFRESH_SECONDS, now=False)
        else:
            self.task = create_looping_call(self._log)
            self.task.start(self.interval, now=False)

    def spider_closed(self, spider: Spider, reason: str) -> None:
        if self.task is not None and self.task.running:
            self.task.stop()
        if self.live is not None:
            self._refresh()
            self._stop_bar()
        logger.info("%s (end)", progress_line(self.numbers()))

    def _log(self) -> None:
        logger.info("%s", progress_line(self.numbers()))

    # -- the terminal display ------------------------------------------------------------
    def _start_bar(self) -> None:
        from rich.console import Console
        from rich.live import Live

        console = Console(file=sys.stderr, stderr=True)
        self.live = Live(console=console, refresh_per_second=4, redirect_stderr=True,
                         redirect_stdout=False, transient=False)  # fmt: skip
        self.live.start()
        # Scrapy's log handler holds the real stderr: route it through rich, above the display.
        for handler in logging.getLogger().handlers:
            if isinstance(handler, logging.StreamHandler) and handler.stream is sys.__stderr__:
                self.swapped.append((handler, handler.setStream(sys.stderr)))
        self._refresh()

    def _stop_bar(self) -> None:
        for handler, stream in self.swapped:
            handler.setStream(stream)
        self.swapped.clear()
        self.live.stop()
        self.live = None

    def _refresh(self) -> None:
        if self.live is None:
            return
        from rich.progress_bar import ProgressBar
        from rich.table import Table
        from rich.text import Text

        n = self.numbers()
        labels, bar = display_cells(n, self.live.console.width)
        grid = Table.grid(padding=(0, CELL_GAP))
        cells: list[Any] = [Text(label, no_wrap=True, overflow="ellipsis") for label in labels]
        cells[0].stylize("bold")
        if bar:
            cells.insert(1, ProgressBar(total=n["total"], completed=min(n["pages"], n["total"]),
                                        width=bar))  # fmt: skip
        grid.add_row(*cells)
        self.live.update(grid)


CELL_GAP = 2  # spaces between the display's cells
BAR_WIDTHS = (30, 12)  # the bar's widths to try, widest first; none when neither fits


def display_cells(n: dict[str, Any], width: int) -> tuple[list[str], int]:
    """The terminal display's labels and bar width (0: no bar) for a ``width``-column terminal.

    ``n`` is :func:`progress_numbers`' dict. The longest labels that fit one line win; the
    bar goes first when a terminal is narrow, then the labels shorten. Past the shortest
    labels the caller truncates (rich's ellipsis): the display never wraps.
    """
    total = f"/{n['total']}" if n["total"] else ""
    eta = f"ETA {_eta(n['eta_seconds'])}"
    variants = [
        [f"{n['pages']}{total} pages crawled", f"{n['per_min']:.1f}/min", f"{n['queued']} queued",
         f"{n['delivered']} documents delivered, {n['pending']} pending", eta],
        [f"{n['pages']}{total} pages", f"{n['per_min']:.0f}/min", f"{n['queued']} queued",
         f"{n['delivered']} delivered, {n['pending']} pending", eta],
        [f"{n['pages']}{total}", f"{n['queued']} q", f"{n['delivered']} ok",
         f"{n['pending']} pend", eta],
    ]  # fmt: skip
    usable = max(1, width - 1)  # the last column: some terminals wrap on it

    def length(labels: list[str], bar: int) -> int:
        parts = len(labels) + (1 if bar else 0)
        return sum(map(len, labels)) + bar + CELL_GAP * (parts - 1)

    for bar in BAR_WIDTHS if n["total"] else ():
        if length(variants[0], bar) <= usable:
            return variants[0], bar
    for labels in variants:
        if length(labels, 0) <= usable:
            return labels, 0
    return variants[-1], 0


def _stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False
