"""A warm process pool for extraction, awaited from Scrapy's asyncio reactor.

trafilatura and langdetect are CPU-bound: run in a callback they freeze every
download and API send. The pool keeps them off the reactor thread, bounds the
pages waiting for it (back-pressure: a slow pool does not fill memory with
responses), and turns a crashed or hung worker into one failed page, not a dead
crawl.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

logger = logging.getLogger(__name__)

START_METHODS = ("spawn", "forkserver", "fork")


def check_start_method(method: str) -> None:
    """Raise ValueError, saying the choices, for a start method multiprocessing lacks."""
    if method not in START_METHODS:
        choices = ", ".join(START_METHODS)
        raise ValueError(f"KB_EXTRACT_START_METHOD is {method!r}; use one of: {choices}")


# The workers' entry points. They import crawler.pagework (trafilatura, langdetect's
# profiles: ~60 MB) only when they run, which is in a worker: never in the crawler process.


def _process_page(*args: Any) -> dict[str, Any]:
    from crawler import pagework

    return pagework.process_page(*args)


def _warm_up() -> None:
    from crawler import pagework

    pagework.warm_up()


def _ping() -> bool:
    return True


@contextlib.contextmanager
def _main_module_hidden() -> Iterator[None]:
    """Spawned workers need nothing from ``__main__``: do not make them re-import it.

    ``multiprocessing`` re-imports the parent's main module in each spawned child. Here that
    is the ``scrapy`` script or ``scrapyd.runner``, which would load Scrapy and Twisted
    (~60 MB) into every worker for nothing. The work functions live in
    :mod:`crawler.pagework`, which the workers import by name.
    """
    main = sys.modules.get("__main__")
    if main is None:
        yield
        return
    saved = {key: main.__dict__[key] for key in ("__spec__", "__file__") if key in main.__dict__}
    main.__dict__["__spec__"] = None
    main.__dict__.pop("__file__", None)
    try:
        yield
    finally:
        main.__dict__.pop("__spec__", None)
        main.__dict__.update(saved)


class PageFailed(Exception):
    """Extraction of one page failed (worker crash, timeout or error)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class ExtractionPool:
    """Runs :func:`crawler.pagework.process_page` in worker processes.

    ``workers=0`` means one per core. ``inline=True`` runs in the calling thread:
    it exists only as the benchmark's naive baseline. ``start_method`` is how worker
    processes are made: ``spawn`` (default) gives lean workers that hold only the
    extraction libraries, where ``fork`` copies the whole crawler into each one (every
    worker's RSS then counts the crawler's memory again).
    """

    def __init__(
        self,
        workers: int = 0,
        *,
        timeout: float = 60.0,
        max_pending: int = 0,
        inline: bool = False,
        start_method: str = "spawn",
        func: Callable[..., dict[str, Any]] = _process_page,
    ):
        check_start_method(start_method)
        self.workers = workers or os.cpu_count() or 1
        self.timeout = timeout
        self.inline = inline
        self.start_method = start_method
        self.func = func  # a module-level (picklable) function; tests pass their own
        self._slots = asyncio.Semaphore(max_pending or 4 * self.workers)
        self._executor: ProcessPoolExecutor | None = None
        self._generation = 0

    def start(self) -> None:
        """Start and warm the workers (imports, langdetect profiles) before pages arrive."""
        if self.inline or self._executor is not None:
            return
        context = multiprocessing.get_context(self.start_method)
        self._executor = ProcessPoolExecutor(self.workers, mp_context=context, initializer=_warm_up)
        self._generation += 1
        # Python 3.11 starts every worker on the first submit: hide __main__ around it
        # (a forked worker never re-imports it, so hiding it costs fork nothing).
        with _main_module_hidden():
            for _ in range(self.workers):
                self._executor.submit(_ping)

    async def run(self, *args: Any) -> dict[str, Any]:
        """Process one page; raises :class:`PageFailed` for this page only."""
        if self.inline:
            return self.func(*args)
        async with self._slots:
            for attempt in (1, 2):
                self.start()
                assert self._executor is not None
                generation = self._generation
                loop = asyncio.get_running_loop()
                try:
                    future = loop.run_in_executor(self._executor, self.func, *args)
                    return await asyncio.wait_for(future, self.timeout)
                except TimeoutError:
                    logger.warning("Extraction took over %.0fs; restarting workers", self.timeout)
                    self._restart(generation)
                    raise PageFailed("timeout") from None
                except BrokenProcessPool:
                    # The pool died (this page, or another one, killed a worker):
                    # one more try on fresh workers, then this page is given up.
                    self._restart(generation)
                    if attempt == 2:
                        raise PageFailed("worker_crash") from None
                except Exception as exc:  # a bug on one page must not stop the crawl
                    logger.warning("Extraction error: %s", type(exc).__name__)
                    raise PageFailed("error") from None
        raise PageFailed("worker_crash")  # pragma: no cover - loop always returns or raises

    def _restart(self, generation: int) -> None:
        """Kill the workers of ``generation`` (if still current) and start afresh lazily."""
        if generation != self._generation or self._executor is None:
            return
        executor, self._executor = self._executor, None
        processes = list(getattr(executor, "_processes", {}).values())
        for proc in processes:
            with contextlib.suppress(Exception):  # already gone
                proc.kill()
        executor.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
