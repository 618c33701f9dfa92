"""One crawl per site at a time: a kernel lock on ``KB_STATE_DIR/<site>/lock``.

The lock is ``fcntl.flock`` (exclusive, non-blocking) on the open file: the kernel holds it
for the process and drops it when the process ends, however it ends (``kill -9`` included),
so there is no stale lock to judge and no takeover race. The file is never removed (removing
it would let a run lock the old file while another creates a new one); it holds the holder's
``{"pid", "host", "since"}`` as information for the message, and nothing depends on reading it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["SiteLock"]

_HELD: set[int] = set()  # descriptors of the locks this process holds


def _close_in_child() -> None:
    """A forked child (``KB_EXTRACT_START_METHOD=fork``) shares the lock's open file:
    it closes its copy, so the lock ends with the crawl, not with its last worker."""
    for fd in _HELD:
        with contextlib.suppress(OSError):
            os.close(fd)
    _HELD.clear()


os.register_at_fork(after_in_child=_close_in_child)


class SiteLock:
    """The lock of one site's state folder.

    ``path`` is ``KB_STATE_DIR/<site>/lock`` (its folder is created). :meth:`acquire` never
    waits; :meth:`release` (or the process's end) gives it back. Raises ``OSError`` when the
    file cannot be created or opened.
    """

    def __init__(self, path: Path):
        self.path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> dict[str, Any] | None:
        """Take the lock: None when taken, else what the file says of the holder
        (``{"pid", "host", "since"}``; ``{}`` when it says nothing yet)."""
        if self._fd is not None:
            return None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            return holder
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        _HELD.add(fd)
        me = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(me).encode(), 0)
        return None

    def release(self) -> None:
        """Give the lock back (the file stays, emptied); nothing when not held."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        _HELD.discard(fd)
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _read_holder(fd: int) -> dict[str, Any]:
    try:
        holder = json.loads(os.pread(fd, 4096, 0) or b"{}")
    except (OSError, ValueError):
        return {}
    return holder if isinstance(holder, dict) else {}
