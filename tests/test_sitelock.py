"""The site lock (crawler/sitelock.py): a kernel lock, exclusive across processes, released
by the kernel when its holder dies (``kill -9`` included), never by judging a file stale."""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from crawler.sitelock import SiteLock

ROUNDS = 200
RACERS = 4


def _race(path: str, rounds: int, barrier: Any, results: Any, index: int) -> None:
    """One racer: every round, all racers try at once; the holder releases after all tried."""
    won = []
    for _ in range(rounds):
        lock = SiteLock(Path(path))
        barrier.wait()
        won.append(lock.acquire() is None)
        barrier.wait()  # every racer has tried while the winner still holds it
        lock.release()
    results.put((index, won))


def test_racing_processes_never_both_hold_the_lock(tmp_path: Path) -> None:
    """RACERS processes try for the lock at the same moment, ROUNDS times: each round,
    exactly one holds it (never two: no takeover race; never none: no leftover holder)."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(RACERS, timeout=60)
    results = ctx.Queue()
    path = str(tmp_path / "site" / "lock")
    racers = [
        ctx.Process(target=_race, args=(path, ROUNDS, barrier, results, i)) for i in range(RACERS)
    ]
    for racer in racers:
        racer.start()
    won = dict(results.get(timeout=120) for _ in racers)
    for racer in racers:
        racer.join(timeout=30)
        assert racer.exitcode == 0
    holders = [sum(won[i][r] for i in range(RACERS)) for r in range(ROUNDS)]
    assert holders == [1] * ROUNDS
    assert len({i for i in range(RACERS) for r in range(ROUNDS) if won[i][r]}) > 1


HOLDER = """
import os, signal, sys
from pathlib import Path
from crawler.sitelock import SiteLock

lock = SiteLock(Path(sys.argv[1]))
assert lock.acquire() is None
child = 0
if sys.argv[2] == "fork":  # as KB_EXTRACT_START_METHOD=fork's workers: a copy of the process
    ready_r, ready_w = os.pipe()
    child = os.fork()
    if child == 0:  # the at-fork hooks have run by now: say so, then wait
        os.write(ready_w, b"x")
        signal.pause()
        os._exit(0)
    os.read(ready_r, 1)  # the child closed its copy of the lock before the test goes on
print(child, flush=True)
signal.pause()
"""


def _holder(tmp_path: Path, fork_child: bool = False) -> tuple[subprocess.Popen[str], int]:
    """A process that holds the lock (and a forked child of it, if asked) until killed."""
    mode = "fork" if fork_child else "plain"
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path / "lock"), mode],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()  # printed once the lock is taken
    assert line.strip().isdigit(), f"the holder did not take the lock ({proc.poll()})"
    return proc, int(line)


def test_lock_held_by_another_process_names_it_and_a_kill_9_releases_it(tmp_path: Path) -> None:
    proc, _ = _holder(tmp_path)
    lock = SiteLock(tmp_path / "lock")
    try:
        holder = lock.acquire()
        assert holder is not None and holder["pid"] == proc.pid
        assert not lock.held
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert lock.acquire() is None  # no stale lock left behind: the kernel released it
    assert lock.held
    lock.release()


def test_a_forked_child_does_not_keep_the_lock_after_its_parent_is_killed(
    tmp_path: Path,
) -> None:
    proc, child = _holder(tmp_path, fork_child=True)
    try:
        proc.kill()
        proc.wait(timeout=30)
        os.kill(child, 0)  # the forked child still lives...
        assert SiteLock(tmp_path / "lock").acquire() is None  # ...without the lock
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)


def test_release_keeps_the_file_and_a_lock_can_be_taken_again(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "lock"
    first = SiteLock(path)
    assert first.acquire() is None
    assert first.acquire() is None  # already held: nothing to do
    second = SiteLock(path)  # another open file: refused, even in the same process
    holder = second.acquire()
    assert holder == json.loads(path.read_text(encoding="utf-8"))
    assert holder is not None and holder["pid"] == os.getpid()
    first.release()
    first.release()  # not held: nothing to do
    assert path.exists() and path.read_text(encoding="utf-8") == ""
    assert second.acquire() is None
    second.release()
