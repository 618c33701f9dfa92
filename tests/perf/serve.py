"""A fast static server for the benchmark site: nginx when installed, else a threaded stdlib one.

Both log one line per request to ``access.log`` (so the benchmark can follow a crawl's
progress) and run as their own process tree (so their CPU time is measured apart from the
crawler's). ``python -m tests.perf.serve DOCROOT --port N --log FILE`` is the stdlib
fallback; from Python use :func:`start_server`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".xml": "application/xml",
    ".txt": "text/plain",
}

NGINX_CONF = """
worker_processes 1;
daemon off;
master_process on;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
{user}
events {{ worker_connections 4096; }}
http {{
    types {{ text/html html; application/xml xml; text/plain txt; }}
    default_type application/octet-stream;
    charset utf-8;
    access_log {log};
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    keepalive_timeout 120s;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        etag off;
        if_modified_since off;
    }}
}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class StaticServer:
    kind: str  # "nginx" or "python"
    url: str
    process: subprocess.Popen[bytes]
    access_log: Path
    tmp: Path
    docroot: Path
    _offset: int = 0
    _count: int = 0

    @property
    def pid(self) -> int:
        return self.process.pid

    def served(self) -> int:
        """Requests logged so far (the log is read incrementally)."""
        try:
            with open(self.access_log, "rb") as fh:
                fh.seek(self._offset)
                data = fh.read()
        except OSError:
            return self._count
        complete = data.rfind(b"\n") + 1
        self._count += data.count(b"\n", 0, complete)
        self._offset += complete
        return self._count

    def reset_log(self) -> None:
        """Forget the log (between runs); nginx re-opens it on SIGUSR1."""
        self.access_log.write_bytes(b"")
        self._offset = self._count = 0
        if self.kind == "nginx":
            self.process.send_signal(signal.SIGUSR1)
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT if self.kind == "nginx" else signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)


def _wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"static server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url + "/robots.txt", timeout=2) as resp:
                resp.read()
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("static server did not come up")


def start_server(docroot: Path, *, prefer: str = "nginx", port: int | None = None) -> StaticServer:
    """Serve ``docroot`` on 127.0.0.1; ``prefer='python'`` skips nginx."""
    port = port or free_port()
    tmp = Path(tempfile.mkdtemp(prefix="kbperf-srv-"))
    log = tmp / "access.log"
    log.touch()
    url = f"http://127.0.0.1:{port}"
    nginx = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.path.exists(p)), None
    )
    if prefer == "nginx" and nginx:
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (tmp / sub).mkdir()
        os.chmod(tmp, 0o755)
        user = "user root root;" if os.geteuid() == 0 else ""
        conf = tmp / "nginx.conf"
        conf.write_text(
            NGINX_CONF.format(tmp=tmp, log=log, port=port, root=docroot.resolve(), user=user)
        )
        process = subprocess.Popen(
            [nginx, "-p", str(tmp), "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=open(tmp / "stderr.log", "wb"),  # noqa: SIM115
        )
        kind = "nginx"
    else:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.perf.serve", str(docroot), "--port", str(port),
             "--log", str(log)],
            cwd=REPO_ROOT,
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        kind = "python"
    server = StaticServer(kind, url, process, log, tmp, docroot)
    try:
        _wait_ready(url, process)
    except Exception:
        server.stop()
        raise
    server.reset_log()
    return server


# -- stdlib fallback ---------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like nginx
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        target = (self.server.docroot / path.lstrip("/")).resolve()
        body = None
        if target.is_relative_to(self.server.docroot) and target.is_file():
            body = target.read_bytes()
        self.server.log.write(f"{path}\n")
        if body is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        ctype = CONTENT_TYPES.get(target.suffix, "application/octet-stream")
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, port: int, docroot: Path, log: Path):
        super().__init__(("127.0.0.1", port), _Handler)
        self.docroot = docroot.resolve()
        self.log = open(log, "a", buffering=1)  # noqa: SIM115 - one line per request


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Threaded static server for the benchmark")
    parser.add_argument("docroot", type=Path)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log", type=Path, required=True)
    args = parser.parse_args(argv)
    server = _Server(args.port, args.docroot, args.log)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
