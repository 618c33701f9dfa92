"""Progress: a live display on a terminal (a pty), log lines in a log file."""

from __future__ import annotations

import errno
import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path
from typing import Any

import pytest

from crawler.extensions.progress import display_cells
from tests.crawl_runner import REPO_ROOT, crawl_env, write_site
from tests.servers.website import running_website

PAGES = 30
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def command(config: Path, *extra: str) -> list[str]:
    cmd = [sys.executable, "-m", "scrapy", "crawl", "site", "-a", f"config={config}"]
    settings = {
        "KB_PROGRESS_SECONDS": "0.5",
        "RANDOMIZE_DOWNLOAD_DELAY": "False",
        "AUTOTHROTTLE_ENABLED": "False",
        "KB_EXTRACT_WORKERS": "1",
    }
    for key, value in settings.items():
        cmd += ["-s", f"{key}={value}"]
    return cmd + list(extra)


@pytest.fixture
def slow_site(tmp_path: Path) -> Any:
    """30 sitemap pages at 0.1 s apart: the crawl lasts at least 3 s."""
    with running_website(tmp_path, gen_pages=PAGES) as site:
        config = write_site(
            tmp_path, "slow", sitemap_urls=[site.url + "/robots.txt"], allow=["/gen/"],
            follow_links=False, download_delay=0.1,
        )  # fmt: skip
        yield config


def test_a_log_file_gets_a_progress_line_every_period(tmp_path: Path, slow_site: Path) -> None:
    log = tmp_path / "crawl.log"
    proc = subprocess.run(
        command(slow_site, "--logfile", str(log)), cwd=REPO_ROOT, env=crawl_env(tmp_path),
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = log.read_text(encoding="utf-8")
    assert not ANSI.search(text)
    periodic = re.findall(r"Progress: (\d+)(?: of ~(\d+))? pages crawled .*ETA (\S+)\n", text)
    assert len(periodic) >= 3, text[-3000:]  # >= 3 s of crawl, a line every 0.5 s
    pages = [int(p) for p, _, _ in periodic]
    assert pages == sorted(pages)
    assert any(total == str(PAGES) and eta != "unknown" for _, total, eta in periodic)
    end = re.search(r"Progress: (.*) \(end\)", text)
    assert end and end.group(1).startswith(f"{PAGES} of ~{PAGES} pages crawled")
    assert f"{PAGES} documents delivered, 0 pending, ETA 0m00s" in end.group(1)


@pytest.mark.parametrize("columns", [160, 80])
def test_a_terminal_gets_a_live_display_and_no_progress_lines(
    tmp_path: Path, slow_site: Path, columns: int
) -> None:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    env = {**crawl_env(tmp_path), "TERM": "xterm-256color"}
    for inherited in ("NO_COLOR", "COLUMNS", "LINES"):  # the pty's size, not the runner's
        env.pop(inherited, None)
    proc = subprocess.Popen(
        command(slow_site), cwd=REPO_ROOT, env=env, stdin=slave, stdout=slave, stderr=slave
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError as exc:  # EIO: the child closed the terminal
            if exc.errno != errno.EIO:
                raise
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert proc.wait(timeout=240) == 0
    out = b"".join(chunks).decode("utf-8", "replace")
    plain = ANSI.sub("", out)
    assert ANSI.search(out), "no terminal control sequences: no live display"
    # The display is one line within the terminal's width (no wrap): the bar when it fits.
    lines = re.split(r"[\r\n]+", plain)
    shown = [ln for ln in lines if " queued" in ln and "ETA " in ln and "Progress:" not in ln]
    assert shown and all(len(ln.rstrip()) < columns for ln in shown), shown
    if columns == 160:
        assert re.search(rf"[1-9]\d*/{PAGES} pages crawled +━", plain), plain[-3000:]
        assert re.search(r"\d+ documents delivered, \d+ pending", plain)
    else:
        assert re.search(rf"[1-9]\d*/{PAGES} pages .*\d+ delivered, \d+ pending", plain)
    # The log goes on above the display, and no periodic progress lines are logged.
    assert "Spider closed (finished)" in plain
    assert not re.search(r"Progress: .*ETA \S+\r?\n", plain)
    assert re.search(rf"Progress: {PAGES} of ~{PAGES} pages crawled .* \(end\)", plain)


def test_display_cells_fit_the_terminal() -> None:
    n = {"pages": 1234, "total": 5000, "per_min": 35.2, "queued": 400, "delivered": 1200,
         "pending": 34, "eta_seconds": 3700.0}  # fmt: skip
    for width in range(20, 200):
        labels, bar = display_cells(n, width)
        used = sum(map(len, labels)) + bar + 2 * (len(labels) - (0 if bar else 1))
        assert used < width or labels == display_cells(n, 20)[0], (width, labels, bar)
    assert display_cells(n, 160)[1] == 30 and display_cells(n, 80)[1] == 0
    assert display_cells({**n, "total": None}, 160)[1] == 0
