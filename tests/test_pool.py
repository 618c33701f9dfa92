"""The extraction pool with real worker processes: one bad page costs one page."""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from crawler import pool as pool_module
from crawler.pool import ExtractionPool, PageFailed
from tests import pool_tasks
from tests.components import make_pool
from tests.pool_tasks import behave


def _run(coro):
    return asyncio.run(coro)


def _outcomes(pool: ExtractionPool, values: list[str]) -> list[Any]:
    """Each page's failure reason (or value), within a minute: a page must never hang."""

    async def main() -> list[Any]:
        try:
            runs = (pool.run(value) for value in values)
            return await asyncio.wait_for(asyncio.gather(*runs, return_exceptions=True), 60)
        finally:
            pool.close()
            await asyncio.wait_for(pool.wait_closed(), 60)  # every worker process ended

    return [r.reason if isinstance(r, PageFailed) else r["value"] for r in _run(main())]


@pytest.mark.parametrize("start_method", ["spawn", "forkserver", "fork"])
def test_pages_run_in_worker_processes(start_method: str) -> None:
    async def main() -> list[dict]:
        pool = make_pool(2, func=behave, start_method=start_method)
        try:
            return await asyncio.gather(*(pool.run(str(i)) for i in range(8)))
        finally:
            pool.close()

    results = _run(main())
    assert [r["value"] for r in results] == [str(i) for i in range(8)]
    assert all(r["pid"] != os.getpid() for r in results)


@pytest.mark.parametrize(
    ("value", "reason"), [("hang", "timeout"), ("crash", "worker_crash"), ("boom", "error")]
)
def test_a_bad_page_fails_alone(value: str, reason: str) -> None:
    async def main() -> tuple[str, list[dict]]:
        pool = make_pool(2, timeout=2, func=behave)
        try:
            with pytest.raises(PageFailed) as failed:
                await pool.run(value)
            # the pool still works afterwards
            after = await asyncio.gather(*(pool.run(f"ok{i}") for i in range(4)))
            return failed.value.reason, after
        finally:
            pool.close()

    got, after = _run(main())
    assert got == reason
    assert [r["value"] for r in after] == ["ok0", "ok1", "ok2", "ok3"]


def test_back_pressure_bounds_pages_waiting(tmp_path) -> None:
    gate = tmp_path / "gate"

    async def main() -> tuple[int, int, list[dict]]:
        pool = make_pool(1, max_pending=2, func=behave)
        try:
            tasks = [asyncio.ensure_future(pool.run(f"gate:{gate}")) for _ in range(6)]
            # Each task reaches the pool's bound in its first turn of the loop; no page can
            # finish before the gate opens, so what is counted then is the steady state.
            for _ in range(100):
                if pool.admitted + pool.waiting == 6:
                    break
                await asyncio.sleep(0)
            admitted, waiting = pool.admitted, pool.waiting
            gate.touch()
            return admitted, waiting, await asyncio.gather(*tasks)
        finally:
            pool.close()

    admitted, waiting, results = _run(main())
    assert (admitted, waiting) == (2, 4)  # two pages in the pool, the other four wait outside
    assert len(results) == 6


def test_inline_mode_runs_in_this_process() -> None:

    async def main() -> dict:
        return await make_pool(1, inline=True, func=behave).run("x")

    assert _run(main())["pid"] == os.getpid()


def test_crawler_process_does_not_load_the_extraction_libraries() -> None:
    """Only the workers need trafilatura and langdetect's profiles (~60 MB)."""

    code = (
        "import sys, settings, crawler.spiders.site, crawler.commands.crawl, "
        "crawler.middlewares, pipelines.kb, pipelines.sync\n"
        "from crawler.pool import ExtractionPool\n"
        "ExtractionPool(1, timeout=60, start_method='spawn')\n"
        "print(sorted(m for m in ('trafilatura', 'langdetect', 'crawler.extract') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


def test_pages_in_line_behind_a_hung_page_are_not_lost() -> None:
    async def main() -> list[Any]:
        pool = make_pool(1, timeout=2, func=behave)
        try:
            runs = [pool.run("hang"), *(pool.run(f"next{i}") for i in range(3))]
            return await asyncio.gather(*runs, return_exceptions=True)
        finally:
            pool.close()

    hung, *rest = _run(main())
    assert isinstance(hung, PageFailed) and hung.reason == "timeout"
    assert [r["value"] for r in rest] == ["next0", "next1", "next2"]  # on the new worker


def test_a_worker_killed_between_pages_is_replaced() -> None:
    async def main() -> tuple[list[dict], list[dict], int]:
        pool = make_pool(2, func=behave)
        try:
            first = await asyncio.gather(*(pool.run(f"a{i}") for i in range(4)))
            victim = next(w.process for w in pool._pool if w.process.pid == first[0]["pid"])
            victim.kill()  # idle: no page is lost, the pool sees the end of its socket
            after = await asyncio.gather(*(pool.run(f"b{i}") for i in range(6)))
            return first, after, victim.pid
        finally:
            pool.close()

    _first, after, victim = _run(main())
    assert [r["value"] for r in after] == [f"b{i}" for i in range(6)]
    assert victim not in {r["pid"] for r in after}


def test_workers_that_cannot_start_fail_every_page_not_the_crawl(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Known by reference in this process only: a spawned worker cannot load it, the way a
    # broken install fails to import trafilatura.
    def vanishing(value: str) -> dict[str, Any]:
        return {"value": value}

    vanishing.__qualname__ = vanishing.__name__ = "vanishing"
    vanishing.__module__ = pool_tasks.__name__
    monkeypatch.setattr(pool_tasks, "vanishing", vanishing, raising=False)

    assert _outcomes(make_pool(2, func=vanishing), list("abcde")) == ["worker_crash"] * 5


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def test_workers_exit_when_the_crawler_is_killed_while_they_start() -> None:
    """kill -9 of the crawler as its workers warm up: none of them stays behind."""
    code = (
        "import asyncio, os, signal\n"
        "from crawler.pool import ExtractionPool\n"
        "async def main():\n"
        "    pool = ExtractionPool(2, timeout=60, start_method='spawn')\n"
        "    pool.start()\n"
        "    print(*(w.process.pid for w in pool._pool), flush=True)\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "asyncio.run(main())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=os.getcwd()
    )
    pids = [int(pid) for pid in out.stdout.split()]
    assert len(pids) == 2, out.stderr
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(_running(pid) for pid in pids):
        time.sleep(0.2)
    assert not [pid for pid in pids if _running(pid)]


def test_pages_fail_rather_than_wait_when_no_worker_can_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_process(self: ExtractionPool) -> None:
        raise OSError("Resource temporarily unavailable")

    monkeypatch.setattr(ExtractionPool, "_start_worker", no_process)

    assert _outcomes(make_pool(2, func=behave), list("abc")) == ["worker_crash"] * 3


def test_a_worker_started_without_a_descriptor_left_is_not_left_running(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The worker's process is up, but its socket cannot be duplicated (EMFILE)."""
    started: list[Any] = []

    def no_descriptor(self: Any, process: Any, conn: Any) -> None:
        started.append(process)
        raise OSError(24, "Too many open files")

    monkeypatch.setattr(pool_module._Worker, "__init__", no_descriptor)

    assert _outcomes(make_pool(2, func=behave), list("abc")) == ["worker_crash"] * 3
    assert started and not [p for p in started if p.is_alive()]


def test_a_closed_pool_fails_pages_and_starts_no_workers() -> None:
    async def main() -> tuple[dict, Any, int]:
        pool = make_pool(1, func=behave)
        first = await pool.run("a")
        pool.close()
        with pytest.raises(PageFailed) as late:
            await pool.run("b")
        return first, late.value.reason, len(pool._pool)

    first, reason, workers = _run(main())
    assert first["value"] == "a"
    assert (reason, workers) == ("closed", 0)


def test_big_pages_queued_behind_a_busy_worker_never_block_the_reactor(tmp_path) -> None:
    """A busy worker is handed its next pages at once; 8 MB does not fit a socket buffer,
    so a blocking write would freeze the event loop until the worker read it. Here the
    gate that lets the worker go on is opened by the event loop itself: were it frozen,
    the pages would only finish after their own 30 s wait."""
    gate = tmp_path / "gate"
    sizes = [8_000_000 + i for i in range(4)]

    async def main() -> tuple[list[dict], tuple[bool, bool], float]:
        pool = make_pool(1, func=pool_tasks.gated_size)
        warm = tmp_path / "open"
        warm.touch()
        try:
            await pool.run(str(warm), "")  # the worker is up: what follows is the pages only
            start = time.monotonic()
            runs = [asyncio.ensure_future(pool.run(str(gate), "x" * n)) for n in sizes]
            # All four handed out at once: two to the worker, two in line.
            worker = pool._pool[0]
            await _until(lambda: worker.task is not None and worker.queued is not None)
            held = (worker.task is not None, worker.queued is not None)
            gate.touch()
            results = await asyncio.wait_for(asyncio.gather(*runs), 60)
            return results, held, time.monotonic() - start
        finally:
            pool.close()

    results, held, took = _run(main())
    assert held == (True, True)
    assert [r["size"] for r in results] == sizes  # partial writes framed right, in order
    assert took < 15


def test_pages_behind_a_crashing_page_are_not_lost() -> None:
    """A page already written behind the one that kills its worker goes back in line."""
    assert _outcomes(make_pool(1, func=behave), ["crash", "a", "b", "c"]) == [
        "worker_crash",
        "a",
        "b",
        "c",
    ]


async def _until(condition: Callable[[], bool], seconds: float = 30) -> None:
    """Wait, letting the event loop run, until ``condition()`` holds; fail after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.01)


def _all_ready(pool: ExtractionPool) -> bool:
    return len(pool._pool) == pool.workers and all(w.ready for w in pool._pool)


def test_a_worker_gets_a_next_page_only_when_no_worker_is_left_without_one(tmp_path) -> None:
    """At start, pages waiting for the workers go one to each (not two to the first one
    ready), and a page does not queue behind a slow one while another worker can take it."""
    gate = tmp_path / "gate"

    async def main() -> tuple[set[int], dict, dict, bool]:
        pool = make_pool(2, func=behave)
        try:
            first = [asyncio.ensure_future(pool.run(f"gate:{gate}")) for _ in range(2)]
            await _until(lambda: _all_ready(pool))
            gate.touch()
            pids = {r["pid"] for r in await asyncio.gather(*first)}
            gate.unlink()
            slow = asyncio.ensure_future(pool.run(f"gate:{gate}"))
            await _until(lambda: any(w.task is not None for w in pool._pool))
            fast, after = await asyncio.gather(pool.run("fast"), pool.run("after"))
            still_slow = not slow.done()
            gate.touch()
            await slow
            return pids, fast, after, still_slow
        finally:
            pool.close()

    pids, fast, after, still_slow = _run(main())
    assert len(pids) == 2
    assert still_slow and fast["pid"] == after["pid"]  # both on the free worker


def test_a_page_written_to_a_worker_already_dead_is_not_charged_a_try(tmp_path) -> None:
    """An idle worker is killed (the OOM killer); the next page is written to it before the
    event loop has seen it go. That page then gets its two tries elsewhere: here the first
    one kills its worker, the second works."""
    flag = tmp_path / "flag"
    warm = tmp_path / "warm"
    warm.touch()

    async def main() -> dict:
        pool = make_pool(1, func=pool_tasks.crash_once)
        try:
            await pool.run(str(warm), "warm")
            pid = pool._pool[0].process.pid
            os.kill(pid, signal.SIGKILL)
            # Dead, and the event loop has not looked yet: wait for the exit without
            # reaping it (WNOWAIT), blocking the loop on purpose.
            os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
            return await pool.run(str(flag), "page")
        finally:
            pool.close()

    assert _run(main())["value"] == "page"


def test_results_bigger_than_a_socket_buffer_with_a_default_socket_timeout() -> None:
    """A library may call socket.setdefaulttimeout(); results must still be read whole."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(5)
    try:

        async def main() -> list[dict]:
            pool = make_pool(2, func=pool_tasks.sized)
            try:
                return await asyncio.gather(*(pool.run(20_000_000) for _ in range(3)))
            finally:
                pool.close()

        results = _run(main())
    finally:
        socket.setdefaulttimeout(previous)
    assert [len(r["value"]) for r in results] == [20_000_000] * 3


@pytest.mark.timeout(120)  # a frozen event loop cannot time itself out
@pytest.mark.parametrize(
    ("value", "reason"),
    [("half", "timeout"), ("hang_up", "worker_crash"), ("hang", "timeout")],
)
def test_a_stalled_worker_does_not_block_the_event_loop(
    value: str, reason: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker that writes half a result and stops, or closes its socket and stays, or
    never answers: the event loop goes on (a callback it runs every 50 ms keeps running,
    timed by the loop's own clock), the page fails with its reason, the next page works,
    and the stalled process is killed and collected."""
    monkeypatch.setattr(pool_module, "EXIT_GRACE", 1.0)  # a worker that will not exit

    before = {p.pid for p in multiprocessing.active_children()}

    async def main() -> tuple[str, list[float], tuple[float, float], dict]:
        loop = asyncio.get_running_loop()
        pool = make_pool(1, timeout=2, func=pool_tasks.stall)
        ticks: list[float] = []
        handle: list[asyncio.Handle] = []

        def tick() -> None:
            ticks.append(loop.time())
            handle[:] = [loop.call_later(0.05, tick)]

        try:
            await pool.run("warm")
            handle.append(loop.call_soon(tick))
            start = loop.time()
            with pytest.raises(PageFailed) as failed:
                await pool.run(value)
            span = (start, loop.time())
            handle[0].cancel()
            after = await pool.run("after")
        finally:
            pool.close()
            await asyncio.wait_for(pool.wait_closed(), 60)
        return failed.value.reason, ticks, span, after

    got, ticks, (start, end), after = _run(main())
    assert got == reason
    if reason == "timeout":
        assert end - start >= 2  # the page was stalled until its timer
    # the callback ran from the page's start to its failure, never a second apart
    assert ticks[0] - start < 1.0 and end - ticks[-1] < 1.0
    assert max(b - a for a, b in itertools.pairwise(ticks)) < 1.0
    assert after["value"] == "after"
    # every worker it started, the stalled ones too, has ended and been collected
    assert not [p for p in multiprocessing.active_children() if p.pid not in before]
