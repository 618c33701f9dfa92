"""An incremental run of an unchanged real site, side by side: Scrapy's AutoThrottle against
kbcrawler's NotModifiedAutoThrottle (crawler/scrapy_compat.py), from the same sync state.

    python docs/benchmarks/incremental_throttle.py [--root /usr/share/doc/postgresql-doc-15/html]
        [--depth 1] [--rounds 2]

Serves ``--root`` with Python's http.server on 127.0.0.1 (it answers If-Modified-Since with
304) and runs the test knowledge-base API (tests/servers/kbapi.py), crawls the site once,
delivering every page (the sync state then holds their validators),
then, per round and in turn, copies that state and runs the same crawl again with each
AutoThrottle. Every page is then answered 304 (or skipped by its lastmod); what differs is
the delay AutoThrottle keeps between requests. Prints wall seconds and requests per run.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRAPYS = {  # the project's extensions, with Scrapy's own AutoThrottle
    "scrapy.extensions.throttle.AutoThrottle": 0,
    "crawler.scrapy_compat.NotModifiedAutoThrottle": None,
}
THROTTLES: dict[str, str | None] = {"scrapy": None, "kbcrawler": None}


def crawl(site_file: Path, state: Path, outbox: Path, extensions: str | None) -> dict:
    """One ``scrapy crawl``: its wall seconds and the stats it dumped."""
    cmd = [sys.executable, "-m", "scrapy", "crawl", "site", "-a", f"config={site_file}",
           "-s", f"KB_STATE_DIR={state}", "-s", f"KB_OUTBOX={outbox}",
           "-s", "LOG_LEVEL=INFO"]  # fmt: skip
    if extensions:
        cmd += ["-s", f"EXTENSIONS={extensions}"]
    start = time.monotonic()
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env=_env())
    took = time.monotonic() - start
    if done.returncode not in (0, 8):
        sys.exit(f"crawl failed ({done.returncode}): {done.stderr[-2000:]}")
    return {"seconds": round(took, 2), **{k: _stat(done.stderr, v) for k, v in STATS.items()}}


STATS = {"requests": "downloader/request_count", "not_modified": "sync/unchanged/304"}


def _stat(log: str, name: str) -> int:
    """A number from the stats Scrapy dumps at the end of the log (0 when absent)."""
    for line in log.splitlines():
        if f"'{name}':" in line:
            return int(line.rsplit(":", 1)[1].strip(" ,}"))
    return 0


API: dict[str, str] = {}


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    return {**env, **API, "PYTHONPATH": str(REPO)}


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def _serve(server: http.server.HTTPServer) -> str:
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", default="/usr/share/doc/postgresql-doc-15/html")
    parser.add_argument("--depth", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    import settings
    from tests.servers.kbapi import running_kbapi

    THROTTLES["scrapy"] = json.dumps({**settings.EXTENSIONS, **SCRAPYS})

    handler = functools.partial(_Quiet, directory=args.root)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    base = _serve(server)
    with (
        tempfile.TemporaryDirectory(prefix="kb-throttle-") as tmp,
        running_kbapi(Path(tmp), token="bench-token", model_id="bench-model") as api,
    ):
        API.update(KB_API_URL=api.url, KB_API_TOKEN="bench-token", KB_CHAT_MODEL_ID="bench-model")
        work = Path(tmp)
        site_file = work / "bench.yaml"
        site_file.write_text(
            f"name: bench\nstart_urls: ['{base}index.html']\nmax_depth: {args.depth}\n",
            encoding="utf-8",
        )
        first = crawl(site_file, work / "state0", work / "outbox", None)
        print(f"first run: {first['requests']} requests in {first['seconds']} s")
        results: dict[str, list[dict]] = {name: [] for name in THROTTLES}
        for round_ in range(args.rounds):
            order = list(THROTTLES) if round_ % 2 == 0 else list(reversed(THROTTLES))
            for name in order:
                run_dir = work / f"{name}{round_}"
                shutil.copytree(work / "state0", run_dir / "state")
                result = crawl(site_file, run_dir / "state", work / "outbox", THROTTLES[name])
                results[name].append(result)
                line = f"{result['requests']} requests ({result['not_modified']} answered 304)"
                print(f"round {round_ + 1} {name:>9}: {line} in {result['seconds']} s")
    server.shutdown()
    print(json.dumps(results))


if __name__ == "__main__":
    main()
