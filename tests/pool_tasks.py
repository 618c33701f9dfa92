"""Module-level functions the pool tests send to real worker processes."""

from __future__ import annotations

import os
import stat
import struct
import time
from typing import Any


def echo(value: str) -> dict[str, Any]:
    return {"value": value, "pid": os.getpid()}


def behave(value: str) -> dict[str, Any]:
    """'hang' sleeps past any timeout, 'crash' kills the worker, 'boom' raises,
    'gate:PATH' waits until PATH exists (so a test decides when pages finish)."""
    if value.startswith("gate:"):
        deadline = time.monotonic() + 30
        while not os.path.exists(value[5:]) and time.monotonic() < deadline:
            time.sleep(0.01)
    if value == "hang":
        time.sleep(60)
    if value == "crash":
        os._exit(1)
    if value == "boom":
        raise RuntimeError("bad page")
    return echo(value)


def gated_size(gate: str, padding: str) -> dict[str, Any]:
    """Waits (at most 30 s) until ``gate`` exists, then says how much it was sent."""
    deadline = time.monotonic() + 30
    while not os.path.exists(gate) and time.monotonic() < deadline:
        time.sleep(0.01)
    return {"size": len(padding), "pid": os.getpid()}


def crash_once(flag: str, value: str) -> dict[str, Any]:
    """Kills its worker the first time (it leaves ``flag``), works the second."""
    if not os.path.exists(flag):
        open(flag, "w").close()
        os._exit(1)
    return echo(value)


def sized(size: int) -> dict[str, Any]:
    """A result of ``size`` characters (bigger than a socket buffer: read in many parts)."""
    return {"value": "x" * size, "pid": os.getpid()}


def _worker_socket() -> int:
    """This worker's end of its socket with the pool: the one socket a spawned worker has."""
    fds = [int(fd) for fd in os.listdir("/proc/self/fd")]
    return next(fd for fd in fds if _is_socket(fd))


def _is_socket(fd: int) -> bool:
    try:
        return stat.S_ISSOCK(os.fstat(fd).st_mode)
    except OSError:  # the listing's own descriptor, closed by now
        return False


def stall(value: str) -> dict[str, Any]:
    """'half' writes the first part of a message (its length and 10 of its 1,000 bytes)
    and stops; 'hang_up' closes the worker's socket and stays alive; 'hang' sleeps past any
    timeout; anything else is an ordinary page. Each stalled worker stays for a minute."""
    if value in ("half", "hang_up", "hang"):
        fd = _worker_socket()
        if value == "half":
            os.write(fd, struct.pack("!i", 1000) + b"x" * 10)
        elif value == "hang_up":
            os.close(fd)
        time.sleep(60)
    return echo(value)
