"""A warm process pool for extraction, awaited from Scrapy's asyncio reactor.

trafilatura and langdetect are CPU-bound: run in a callback they freeze every
download and API send. The pool keeps them off the reactor thread, bounds the
pages waiting for it (back-pressure: a slow pool does not fill memory with
responses), and turns a crashed or hung worker into one failed page, not a dead
crawl.

Each worker owns a socket pair with the crawler process, watched by the reactor's own
event loop (``add_reader``): a page is written to its worker's socket and the result is
read when it is ready. While pages wait, a busy worker already holds its next page in its
socket, so it does not wait for the reactor to come round between pages.

Nothing on the reactor waits for a worker. A 10 MB page does not fit a socket's buffer:
the rest is written as the worker reads. A result is read as it arrives, in as many parts
as it comes in, and handed on when whole; a worker that stops half-way through one is
caught by its page's timer like a hung page. A worker that exits is collected when the
event loop sees its process end (``Process.sentinel``), never by waiting in ``join``.

No helper threads (``concurrent.futures`` and pebble hand every page and result between
threads, which costs the reactor process CPU time per page), and a worker that dies or
hangs is known by name: only its page fails, and only it is replaced.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import multiprocessing
import os
import pickle
import signal
import socket
import struct
import sys
from collections import deque
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from typing import Any

logger = logging.getLogger(__name__)

START_METHODS = ("spawn", "forkserver", "fork")
MAX_FAILED_STARTS = 3
START_TIMEOUT = 120.0  # seconds for a worker to warm up (imports, profiles) before it is replaced


def check_start_method(method: str) -> None:
    """Raise ValueError, saying the choices, for a start method multiprocessing lacks."""
    if method not in START_METHODS:
        choices = ", ".join(START_METHODS)
        raise ValueError(f"KB_EXTRACT_START_METHOD is {method!r}; use one of: {choices}")


# The workers' side. They import crawler.extract.worker (trafilatura, langdetect's profiles:
# tens of MB) only when they run, which is in a worker: never in the crawler process.


def _process_page(*args: Any) -> Any:
    from crawler.extract import worker

    return worker.process_page(*args)


def _process_document(*args: Any) -> Any:
    from crawler.extract import worker

    return worker.process_document(*args)


def _worker_main(
    conn: Connection, func: Callable[..., Any], parent: int | None, inherited: list[int]
) -> None:
    """A worker's life: warm up, say so, then one page at a time until the socket closes.

    ``inherited`` are the crawler's ends of the workers' sockets, which a forked worker
    holds copies of: closed, so a worker still sees the end of file when the crawler closes.
    """
    from crawler.extract import worker

    for fd in inherited:
        with contextlib.suppress(OSError):
            os.close(fd)
    # Ctrl-C reaches the whole process group: the crawler stops gracefully and closes the
    # pool; a worker must not die mid-page with a traceback of its own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    worker.warm_up(parent)
    try:
        conn.send_bytes(b"")  # ready
    except OSError:
        return  # the crawler is gone already
    trim = _malloc_trim()
    while True:
        try:
            data = conn.recv_bytes()
            call, args = pickle.loads(data)
        except (EOFError, OSError):
            return  # the crawler closed the pool, or is gone
        size = len(data)
        del data
        try:
            reply = pickle.dumps((True, (call or func)(*args)), pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # a bug on one page: the crawler logs it, the worker goes on
            reply = pickle.dumps((False, type(exc).__name__), pickle.HIGHEST_PROTOCOL)
        del args
        try:
            conn.send_bytes(reply)
        except OSError:
            return
        del reply
        if size >= BIG_PAGE_BYTES:
            release_memory(trim)


BIG_PAGE_BYTES = 512 * 1024
"""After a page this big (pickled), a worker gives the memory of its tree back at once."""


def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim`` (None elsewhere): returns freed heap pages to the system."""
    try:
        import ctypes

        return ctypes.CDLL("libc.so.6").malloc_trim  # type: ignore[no-any-return]
    except (OSError, AttributeError):
        return None


def release_memory(trim: Callable[[int], int] | None) -> None:
    """Free what one big page left behind: cycles (lxml proxies, the converter's buffers),
    then the heap's free pages. The tree of a big page takes many times its size; freed but
    kept by malloc, it would stay in the worker's RSS until the next big page. Big pages
    only (it takes a few milliseconds)."""
    gc.collect()
    if trim is not None:
        trim(0)


@contextlib.contextmanager
def _main_module_hidden() -> Iterator[None]:
    """Spawned workers need nothing from ``__main__``: do not make them re-import it.

    ``multiprocessing`` re-imports the parent's main module in each spawned child. Here that
    is the ``scrapy`` script or ``scrapyd.runner``, which would load Scrapy and Twisted
    (tens of MB) into every worker for nothing. The work functions live in
    :mod:`crawler.extract.worker`, which the workers import by name.
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


class _WorkerGone(Exception):
    """The worker died with the page: the page, or something else (a kill, the OOM killer)."""


_Entry = tuple[bytes, "asyncio.Future[Any]"]  # a pickled page and who awaits its result
_LONG = struct.pack("!i", -1)  # a message's length follows in 8 bytes (over 2 GiB)
EXIT_GRACE = 10.0  # seconds for a worker that should exit to do so before it is killed


def _header(size: int) -> bytes:
    """The length :meth:`Connection.recv_bytes` reads before a message (4 bytes, or -1 and 8)."""
    return struct.pack("!iQ", -1, size) if size > 0x7FFFFFFF else struct.pack("!i", size)


class _Worker:
    """One worker process, the crawler's end of its socket, and the pages it holds."""

    def __init__(self, process: multiprocessing.process.BaseProcess, conn: Connection):
        self.process = process
        self.conn = conn  # the worker's socket as multiprocessing made it (closed with it)
        self.fd = conn.fileno()
        # Pages are written and results read through a duplicate, with MSG_DONTWAIT: never
        # a blocking read or write. (A default timeout set by any library would make
        # ``sock.send`` wait for room: none here.)
        self.sock = socket.socket(fileno=os.dup(self.fd))
        self.sock.settimeout(None)
        self.header = bytearray()  # the length of the message coming in, as far as it came
        self.body: bytearray | None = None  # that message, once its length is known
        self.received = 0  # bytes of ``body`` already read
        self.ready = False  # warmed up
        self.alive = True
        self.task: asyncio.Future[Any] | None = None  # the page it works on
        self.queued: _Entry | None = None  # its next page, written behind that one
        # What its socket could not take yet, and whose page it is.
        self.unsent: deque[tuple[memoryview, _Entry]] = deque()
        self.writing = False  # the event loop watches its socket for room to write the rest
        self.timer: asyncio.TimerHandle | None = None  # KB_EXTRACT_TIMEOUT for its page

    def detach(self, loop: asyncio.AbstractEventLoop | None) -> None:
        """No more pages, timers, reads or writes for this worker; its socket is closed."""
        self.alive = False
        if self.timer is not None:
            self.timer.cancel()
        if loop is not None and not loop.is_closed():
            loop.remove_reader(self.fd)
            loop.remove_writer(self.fd)
        self.unsent.clear()
        self.sock.close()
        self.conn.close()

    def read(self) -> tuple[list[bytearray], bool]:
        """The whole messages its socket holds now, and whether the worker closed it.

        Never waits: reads what has arrived, keeps a message's first part until the rest
        comes. Messages are framed as :meth:`Connection.send_bytes` frames them (see
        :func:`_header`).
        """
        messages: list[bytearray] = []
        while True:
            try:
                if self.body is None:
                    need = 12 if self.header[:4] == _LONG else 4
                    chunk = self.sock.recv(need - len(self.header), socket.MSG_DONTWAIT)
                    if not chunk:
                        return messages, True
                    self.header += chunk
                    if len(self.header) < need or self.header == _LONG:
                        continue
                    long = need == 12
                    (size,) = struct.unpack_from("!Q" if long else "!i", self.header, 4 * long)
                    self.header.clear()
                    self.body, self.received = bytearray(size), 0
                if self.received < len(self.body):
                    view = memoryview(self.body)[self.received :]
                    got = self.sock.recv_into(view, 0, socket.MSG_DONTWAIT)
                    if not got:
                        return messages, True
                    self.received += got
                if self.received == len(self.body):
                    messages.append(self.body)
                    self.body = None
            except (BlockingIOError, InterruptedError):
                return messages, False
            except OSError:  # reset: the worker is gone
                return messages, True


class ExtractionPool:
    """Runs :func:`crawler.extract.worker.process_page` in worker processes.

    ``workers=0`` means one per core. ``timeout`` is the seconds one page may take
    before its worker is replaced (``KB_EXTRACT_TIMEOUT``). ``inline=True`` runs in the
    calling thread: it exists only as the benchmark's naive baseline. ``start_method`` is
    how worker processes are made (``KB_EXTRACT_START_METHOD``): ``spawn`` gives lean
    workers that hold only the extraction libraries, where ``fork`` copies the whole
    crawler into each one (every worker's RSS then counts the crawler's memory again).

    A page goes to a free worker at once, or waits in line. While pages wait (one for every
    worker), a busy worker is also given its next page, behind the one it works on: it reads
    it the moment it has written its result, without waiting for the reactor to come round
    (a worker waiting is a core doing nothing). See :meth:`_dispatch`.
    """

    def __init__(
        self,
        workers: int = 0,
        *,
        timeout: float,
        max_pending: int = 0,
        inline: bool = False,
        start_method: str,
        func: Callable[..., Any] = _process_page,
    ):
        check_start_method(start_method)
        self.workers = workers or os.cpu_count() or 1
        self.timeout = timeout
        self.inline = inline
        self.start_method = start_method
        self.func = func  # a module-level (picklable) function; tests pass their own
        # Pages in the pool: being extracted, or waiting in line for a free worker.
        self._slots = asyncio.Semaphore(max_pending or 4 * self.workers)
        self.admitted = 0  # pages in the pool now (at most max_pending)
        self.waiting = 0  # pages waiting outside for room in the pool (back-pressure)
        self._line: deque[_Entry] = deque()
        self._pool: list[_Worker] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self._broken = False  # workers die as they start: every page fails at once
        self._failed_starts = 0  # workers in a row that died before they were ready
        # Processes of retired workers, until the event loop sees them end.
        self._exiting: dict[multiprocessing.process.BaseProcess, asyncio.Future[None]] = {}

    def start(self) -> None:
        """Start and warm the workers (imports, langdetect profiles) before pages arrive.

        Called from the reactor's event loop, which then watches the workers' sockets.
        """
        if self.inline or self._loop is not None or self._closed:
            return
        self._loop = asyncio.get_running_loop()
        for _ in range(self.workers):
            self._spawn()

    def _spawn(self) -> None:
        """Start one worker; a failure to start one counts as a failed start."""
        try:
            self._start_worker()
        except OSError as exc:  # out of processes, memory or file descriptors
            logger.error("Could not start an extraction worker: %s", exc)
            self._failed_starts += 1
            self._check_broken(no_worker_left=not self._pool)

    def _start_worker(self) -> None:
        assert self._loop is not None
        context = multiprocessing.get_context(self.start_method)
        conn, child = context.Pipe(duplex=True)
        # Only a forked worker has copies of the crawler's descriptors.
        inherited = (
            [fd for w in self._pool for fd in (w.fd, w.sock.fileno())] + [conn.fileno()]
            if self.start_method == "fork"
            else []
        )
        process = context.Process(
            target=_worker_main,
            # A forkserver's workers are the forkserver's children (it exits with us).
            args=(
                child,
                self.func,
                None if self.start_method == "forkserver" else os.getpid(),
                inherited,
            ),
            name="kbcrawler-extract",
            daemon=True,
        )
        try:
            with _main_module_hidden():
                process.start()
        except BaseException:
            conn.close()
            raise
        finally:
            child.close()
        try:
            worker = _Worker(process, conn)  # dups the socket: no descriptor left, maybe
        except OSError:
            process.kill()
            self._collect(process, EXIT_GRACE)
            conn.close()
            raise
        self._pool.append(worker)
        self._loop.add_reader(worker.fd, self._readable, worker)
        # A worker stuck warming up (an import that hangs) is replaced like a hung page.
        worker.timer = self._loop.call_later(
            max(self.timeout, START_TIMEOUT), self._lost, worker, True
        )

    async def run(self, *args: Any, call: Callable[..., Any] | None = None) -> Any:
        """Process one page: ``func(*args)`` (or ``call(*args)``) in a worker; returns
        what it returns, whatever its type (pickled both ways: the pool never looks
        inside). Raises :class:`PageFailed` for this page only.

        ``call`` is another module-level function for the workers to run instead of the
        pool's (a linked document's :func:`crawler.extract.worker.process_document`).
        """
        if self.inline:
            return (call or self.func)(*args)
        self.waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self.waiting -= 1
        self.admitted += 1
        try:
            return await self._admitted_run(args, call)
        finally:
            self.admitted -= 1
            self._slots.release()

    async def _admitted_run(self, args: tuple[Any, ...], call: Callable[..., Any] | None) -> Any:
        """:meth:`run` once the page has its room in the pool."""
        if self._closed:
            raise PageFailed("closed")
        self.start()
        assert self._loop is not None
        payload = pickle.dumps((call, args), pickle.HIGHEST_PROTOCOL)
        for _attempt in (1, 2):
            if self._broken:
                break
            future: asyncio.Future[Any] = self._loop.create_future()
            entry = (payload, future)
            self._line.append(entry)
            self._dispatch()
            try:
                ok, value = await future
            except _WorkerGone:
                continue  # maybe not this page's fault: one more try on another worker
            except asyncio.CancelledError:
                with contextlib.suppress(ValueError):
                    self._line.remove(entry)  # its HTML does not wait in line for nothing
                raise
            if not ok:
                logger.warning("Extraction error: %s", value)
                raise PageFailed("error")
            return value
        raise PageFailed("worker_crash")

    async def run_document(self, *args: Any) -> Any:
        """:meth:`run` for a linked document: :func:`crawler.extract.worker.process_document`'s
        arguments and result."""
        return await self.run(*args, call=_process_document)

    def _dispatch(self) -> None:
        """Give the pages in line to the free workers; with pages to spare, one more to each
        busy worker, written behind its current page (it will not wait for us between the two).
        Spare means a page for every worker: a page written behind a slow one waits for it, so
        it is done only when no worker would be left without one."""
        for prefetch in (False, True):
            for worker in list(self._pool):  # a worker found dead here is replaced in the list
                if len(self._line) < (self.workers if prefetch else 1):
                    break
                if not (worker.ready and worker.alive):
                    continue
                if worker.task is None or (prefetch and worker.queued is None):
                    self._give(worker)

    def _give(self, worker: _Worker) -> None:
        """Write the next page in line (still wanted) to a worker: its current or its next."""
        assert self._loop is not None
        while self._line:
            payload, future = entry = self._line.popleft()
            if future.done():
                continue  # cancelled while in line
            if worker.task is None:
                worker.task = future
                worker.timer = self._loop.call_later(self.timeout, self._expired, worker)
            else:
                worker.queued = entry
            worker.unsent.append((memoryview(_header(len(payload))), entry))
            worker.unsent.append((memoryview(payload), entry))
            self._write(worker)
            return

    def _write(self, worker: _Worker) -> None:
        """Write what the worker's socket takes now; the event loop calls again for the rest."""
        assert self._loop is not None
        while worker.unsent:
            chunk, entry = worker.unsent[0]
            try:
                sent = worker.sock.send(chunk, socket.MSG_DONTWAIT)
            except BlockingIOError:
                sent = 0
            except OSError:
                self._lost(worker)
                return
            if sent < len(chunk):
                worker.unsent[0] = (chunk[sent:], entry)
                if not worker.writing:
                    worker.writing = True
                    self._loop.add_writer(worker.fd, self._write, worker)
                return
            worker.unsent.popleft()
        if worker.writing:  # (each add or remove is a system call: only when it changes)
            worker.writing = False
            self._loop.remove_writer(worker.fd)

    def _readable(self, worker: _Worker) -> None:
        """A worker wrote: part of a message, or whole ones (ready, a page's result), or
        it closed its socket (it died)."""
        messages, closed = worker.read()
        for data in messages:
            if not worker.alive:  # retired meanwhile (a write to it failed): its pages are
                return  # back in line already
            self._received(worker, data)
        if closed:
            self._lost(worker)

    def _received(self, worker: _Worker, data: bytearray) -> None:
        """A worker's whole message: it is ready, or its page's result."""
        assert self._loop is not None
        if worker.timer is not None:
            worker.timer.cancel()
            worker.timer = None
        task, worker.task = worker.task, None
        if not worker.ready:
            worker.ready = True
            self._failed_starts = 0
            self._broken = False
        elif task is not None and not task.done():  # done: its page was cancelled meanwhile
            try:
                task.set_result(pickle.loads(data))
            except Exception:
                task.set_exception(PageFailed("error"))
        if worker.queued is not None:  # already in its socket: it works on it now
            worker.task = worker.queued[1]
            worker.queued = None
            worker.timer = self._loop.call_later(self.timeout, self._expired, worker)
        self._dispatch()

    def _expired(self, worker: _Worker) -> None:
        """A page took longer than KB_EXTRACT_TIMEOUT: it fails, its worker is replaced."""
        logger.warning("Extraction took over %.0fs; restarting that worker", self.timeout)
        task, worker.task = worker.task, None
        if task is not None and not task.done():
            task.set_exception(PageFailed("timeout"))
        self._lost(worker, kill=True)

    def _lost(self, worker: _Worker, kill: bool = False) -> None:
        """Retire a worker that died (or is killed here): its page fails, a new one starts.

        A page it never started (its next page, or one not wholly written to it: it was dead
        already) goes back to the front of the line, and that does not count as a try.
        """
        if not worker.alive:
            return
        unstarted = [entry for _, entry in worker.unsent]
        worker.detach(self._loop)
        if kill:
            with contextlib.suppress(Exception):
                worker.process.kill()
        self._collect(worker.process, EXIT_GRACE)  # it is dead or dying
        task, worker.task = worker.task, None
        current = next((e for e in unstarted if task is not None and e[1] is task), None)
        if current is None and task is not None and not task.done():
            task.set_exception(_WorkerGone())
        back = [entry for entry in (current, worker.queued) if entry is not None]
        worker.queued = None
        self._line.extendleft(reversed(back))
        self._pool.remove(worker)
        if not worker.ready:
            self._failed_starts += 1
        if self._closed or self._check_broken():
            return
        self._spawn()
        self._dispatch()

    def _check_broken(self, no_worker_left: bool = False) -> bool:
        """Fail every page at once, rather than respawn forever or leave pages waiting, when
        MAX_FAILED_STARTS workers in a row died as they started (a broken install: trafilatura
        will not import) and no working one is left, or when no worker could be started."""
        if not no_worker_left and (
            self._failed_starts < MAX_FAILED_STARTS or any(w.ready for w in self._pool)
        ):
            return False
        if not self._broken:
            logger.error("Extraction workers exit as they start; every page fails")
        self._broken = True
        line, self._line = self._line, deque()
        for _, future in line:
            if not future.done():
                future.set_exception(_WorkerGone())
        return True

    def close(self) -> None:
        """Stop the workers: their sockets close, they finish and exit (or are killed)."""
        self._closed = True
        workers, self._pool = self._pool, []
        for worker in workers:
            worker.detach(self._loop)
            busy = worker.task is not None or not worker.ready
            pages = [worker.task, worker.queued[1] if worker.queued else None]
            for future in pages:
                if future is not None and not future.done():
                    future.set_exception(PageFailed("closed"))
            if busy:  # its page is given up: no need to wait for it
                with contextlib.suppress(Exception):
                    worker.process.kill()
        for _, future in self._line:
            if not future.done():
                future.set_exception(PageFailed("closed"))
        self._line.clear()
        for worker in workers:  # idle workers see the end of file and exit
            self._collect(worker.process, EXIT_GRACE)

    async def wait_closed(self) -> None:
        """Return once every worker process retired so far (all, after :meth:`close`) has
        ended and been collected; one that outlives ``EXIT_GRACE`` seconds is killed."""
        while self._exiting:
            await asyncio.gather(*self._exiting.values())

    def _collect(self, process: multiprocessing.process.BaseProcess, grace: float) -> None:
        """Collect a retired worker's process when it ends, without waiting for it: the
        event loop watches its ``sentinel`` (readable once it exited); still running after
        ``grace`` seconds, it is killed. Without a running event loop (a pool closed
        outside one), waiting blocks nobody: it is joined here."""
        loop = self._loop
        if loop is None or loop.is_closed() or not loop.is_running():
            process.join(grace)
            if process.exitcode is None:
                process.kill()
                process.join(5)
            return
        if process.exitcode is not None or process in self._exiting:
            return
        done = loop.create_future()
        self._exiting[process] = done
        sentinel = process.sentinel
        killer = loop.call_later(grace, process.kill)

        def ended() -> None:
            with contextlib.suppress(ValueError, OSError):
                loop.remove_reader(sentinel)
            if process.exitcode is None:
                # Its descriptors close just before it can be collected: a moment more.
                loop.call_later(0.01, ended)
                return
            killer.cancel()
            self._exiting.pop(process, None)
            if not done.done():
                done.set_result(None)

        loop.add_reader(sentinel, ended)
