"""The extraction pool with real worker processes: one bad page costs one page."""

from __future__ import annotations

import asyncio

import pytest

from crawler.pool import ExtractionPool, PageFailed
from tests.pool_tasks import behave


def _run(coro):
    return asyncio.run(coro)


@pytest.mark.parametrize("start_method", ["spawn", "forkserver", "fork"])
def test_pages_run_in_worker_processes(start_method: str) -> None:
    async def main() -> list[dict]:
        pool = ExtractionPool(2, func=behave, start_method=start_method)
        try:
            return await asyncio.gather(*(pool.run(str(i)) for i in range(8)))
        finally:
            pool.close()

    import os

    results = _run(main())
    assert [r["value"] for r in results] == [str(i) for i in range(8)]
    assert all(r["pid"] != os.getpid() for r in results)


@pytest.mark.parametrize(
    ("value", "reason"), [("hang", "timeout"), ("crash", "worker_crash"), ("boom", "error")]
)
def test_a_bad_page_fails_alone(value: str, reason: str) -> None:
    async def main() -> tuple[str, list[dict]]:
        pool = ExtractionPool(2, timeout=2, func=behave)
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
        pool = ExtractionPool(1, max_pending=2, func=behave)
        try:
            tasks = [asyncio.ensure_future(pool.run(f"gate:{gate}")) for _ in range(6)]
            await asyncio.sleep(0.05)  # every task has run up to the semaphore
            # No page can finish before the gate opens, so this is the steady state.
            free, waiting = pool._slots._value, len(pool._slots._waiters or ())
            gate.touch()
            return free, waiting, await asyncio.gather(*tasks)
        finally:
            pool.close()

    free, waiting, results = _run(main())
    assert (free, waiting) == (0, 4)  # two pages in the pool, the other four wait outside
    assert len(results) == 6


def test_inline_mode_runs_in_this_process() -> None:
    import os

    async def main() -> dict:
        return await ExtractionPool(1, inline=True, func=behave).run("x")

    assert _run(main())["pid"] == os.getpid()


def test_crawler_process_does_not_load_the_extraction_libraries() -> None:
    """Only the workers need trafilatura and langdetect's profiles (~60 MB)."""
    import subprocess
    import sys

    code = (
        "import sys, settings, crawler.spiders.site, crawler.commands.crawl, "
        "crawler.middlewares, pipelines.kb, pipelines.sync\n"
        "from crawler.pool import ExtractionPool\n"
        "ExtractionPool(1)\n"
        "print(sorted(m for m in ('trafilatura', 'langdetect', 'crawler.extract') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"
