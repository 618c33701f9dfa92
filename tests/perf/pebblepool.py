"""pebble's ``ProcessPool`` behind :class:`crawler.pool.ExtractionPool`'s interface.

The candidate the pool benchmark measures against our own pool (issue 15, point 5):
``python -m tests.perf --pools ours,pebble`` crawls with each in turn. The crawl picks it
through ``-s SPIDER_MODULES=tests.perf.pebblespider``: the site spider with this pool in
place of ours, everything else unchanged. Needs ``pip install
pebble`` (not a dependency of the crawler: the measurement kept our pool).

pebble runs three threads in the crawler process (task scheduler, pool manager polling
every 0.1 s for timeouts and dead workers, result reader); a result reaches the event loop
through ``asyncio.wrap_future`` (``call_soon_threadsafe``).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from pebble import ProcessExpired, ProcessPool

from crawler.pool import (
    BIG_PAGE_BYTES,
    PageFailed,
    _main_module_hidden,
    _malloc_trim,
    _process_document,
    _process_page,
    check_start_method,
    release_memory,
)


def _warm_up(parent: int | None) -> None:
    """pebble's initializer: the same warm-up as our pool's workers."""
    from crawler.extract import worker

    worker.warm_up(parent)


def _call(func: Callable[..., Any], *args: Any) -> Any:
    """Run one page in a pebble worker, then free a big page's memory like our workers."""
    try:
        return func(*args)
    finally:
        size = sum(len(a) for a in args if isinstance(a, str | bytes))
        if size >= BIG_PAGE_BYTES:
            release_memory(_malloc_trim())


def _noop() -> None:
    return None


class PebblePool:
    """``run``/``run_document``/``start``/``close`` of ExtractionPool, on pebble."""

    def __init__(
        self,
        workers: int = 0,
        *,
        timeout: float = 60.0,
        max_pending: int = 0,
        inline: bool = False,
        start_method: str = "spawn",
        func: Callable[..., Any] = _process_page,
    ):
        check_start_method(start_method)
        self.workers = workers or os.cpu_count() or 1
        self.timeout = timeout
        self.inline = inline
        self.func = func
        self._slots = asyncio.Semaphore(max_pending or 4 * self.workers)
        self._pool = ProcessPool(
            self.workers,
            initializer=_warm_up,
            initargs=(None if start_method == "forkserver" else os.getpid(),),
            context=multiprocessing.get_context(start_method),
        )
        self._started = False

    def start(self) -> None:
        """Start the workers now (pebble starts them on the first task)."""
        if self.inline or self._started:
            return
        self._started = True
        with _main_module_hidden():
            self._pool.schedule(_noop)

    async def run(self, *args: Any, call: Callable[..., Any] | None = None) -> Any:
        """One page; raises PageFailed (timeout, worker_crash, error) for this page only."""
        if self.inline:
            return (call or self.func)(*args)
        async with self._slots:
            self.start()
            for _attempt in (1, 2):
                future = self._pool.schedule(
                    _call, args=(call or self.func, *args), timeout=self.timeout
                )
                try:
                    return await asyncio.wrap_future(future)
                except FutureTimeout:
                    raise PageFailed("timeout") from None
                except ProcessExpired:
                    continue
                except Exception as exc:
                    raise PageFailed("error") from exc
            raise PageFailed("worker_crash")

    async def run_document(self, *args: Any) -> Any:
        return await self.run(*args, call=_process_document)

    def close(self) -> None:
        self._pool.stop()
        self._pool.join(timeout=10)
