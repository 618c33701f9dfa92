"""Process-tree measurements from /proc (Linux): RSS/PSS of a tree, its CPU time, system load.

:class:`TreeSampler` polls every ``interval`` seconds in a thread: the summed RSS (and PSS,
which counts pages shared between a parent and its forked workers once) of a process and
all its descendants, plus the CPU time of every process seen. :func:`system_cpu` reads
``/proc/stat`` so the benchmark can report how busy the machine was with *other* work.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def _stat(pid: int) -> tuple[int, float] | None:
    """(ppid, utime+stime seconds) of ``pid``."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    fields = data[data.rfind(b")") + 2 :].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / CLK_TCK


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", "rb") as fh:
            return int(fh.read().split()[1]) * PAGE_KB
    except (OSError, IndexError, ValueError):
        return 0


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as fh:
            for line in fh:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1])
    except (OSError, IndexError, ValueError):
        pass
    return 0


def descendants(root: int) -> list[int]:
    """``root`` and every process below it."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        info = _stat(int(name))
        if info is not None:
            children.setdefault(info[0], []).append(int(name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, ()))
    return out


def tree_cpu(root: int) -> float:
    """CPU seconds (user+system) used so far by the live processes of a tree."""
    total = 0.0
    for pid in descendants(root):
        info = _stat(pid)
        if info is not None:
            total += info[1]
    return total


def system_cpu() -> tuple[float, float]:
    """(busy seconds, total seconds) summed over all cores since boot, from /proc/stat."""
    with open("/proc/stat", "rb") as fh:
        fields = [int(x) for x in fh.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    total = sum(fields[:8])
    return (total - idle) / CLK_TCK, total / CLK_TCK


@dataclass
class Sample:
    t: float
    rss_mb: float
    pss_mb: float
    processes: int
    cpu_s: float
    progress: int


@dataclass
class TreeSampler:
    """Samples a process tree until :meth:`stop`; ``progress`` is called on every tick."""

    root: int
    interval: float = 0.2
    progress: Callable[[], int] | None = None
    pss: bool = True
    samples: list[Sample] = field(default_factory=list)
    cpu_by_pid: dict[int, float] = field(default_factory=dict)
    peak_rss_by_pid: dict[int, float] = field(default_factory=dict)  # MB, each process's own
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> TreeSampler:
        self.t0 = time.monotonic()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def sample(self) -> None:
        pids = descendants(self.root)
        rss = pss = 0
        alive = 0
        for pid in pids:
            info = _stat(pid)
            if info is None:
                continue
            alive += 1
            self.cpu_by_pid[pid] = info[1]
            own = _rss_kb(pid)
            rss += own
            self.peak_rss_by_pid[pid] = max(self.peak_rss_by_pid.get(pid, 0.0), own / 1024)
            if self.pss:
                pss += _pss_kb(pid)
        if not alive:
            return
        progress = self.progress() if self.progress else 0
        self.samples.append(
            Sample(
                time.monotonic() - self.t0, rss / 1024, pss / 1024, alive,
                sum(self.cpu_by_pid.values()), progress,
            )
        )  # fmt: skip

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    @property
    def peak_rss_mb(self) -> float:
        return max((s.rss_mb for s in self.samples), default=0.0)

    @property
    def peak_pss_mb(self) -> float:
        return max((s.pss_mb for s in self.samples), default=0.0)

    @property
    def max_processes(self) -> int:
        return max((s.processes for s in self.samples), default=0)

    def at_progress(self, fractions: tuple[float, ...], total: int) -> list[dict[str, Any]]:
        """Peak RSS/PSS so far when progress first reached each fraction of ``total``."""
        out = []
        for frac in fractions:
            goal = frac * total
            peak_rss = peak_pss = 0.0
            hit = None
            for s in self.samples:
                peak_rss = max(peak_rss, s.rss_mb)
                peak_pss = max(peak_pss, s.pss_mb)
                if s.progress >= goal:
                    hit = s
                    break
            if hit is None:  # never reached: report the whole run
                hit = self.samples[-1] if self.samples else None
            out.append(
                {
                    "fraction": frac,
                    "pages": int(goal),
                    "reached": bool(hit and hit.progress >= goal),
                    "t": round(hit.t, 1) if hit else None,
                    "rss_mb": round(hit.rss_mb, 1) if hit else None,
                    "peak_rss_mb": round(peak_rss, 1),
                    "peak_pss_mb": round(peak_pss, 1),
                }
            )
        return out
