"""End to end: incremental sync across runs of the real crawler (test site + local API)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.crawl_runner import REPO_ROOT, crawl_env, crawl_site, write_site
from tests.servers.kbapi import running_kbapi
from tests.servers.website import running_website

SITE = "syncsite"
TOKEN = "sync-token-123456"
EDITED = [
    "/en/guide.html",  # sitemap + links
    "/fr/guide.html",
    "/en/release-notes.html",  # gzipped sitemap only
    "/en/advanced.html",  # links only
    "/ja/guide.html",
]


@pytest.fixture
def env(tmp_path: Path) -> Any:
    with running_website(tmp_path) as site, running_kbapi(tmp_path, token=TOKEN) as api:
        environ = crawl_env(
            tmp_path, KB_API_URL=api.url, KB_API_TOKEN=TOKEN, KB_CHAT_MODEL_ID="test-model"
        )
        yield site, api, environ


def _site_file(tmp_path: Path, site: Any, **keys: Any) -> Path:
    base = {"start_urls": [site.url + "/"], "max_depth": 3, "max_pages": 100}
    return write_site(tmp_path, SITE, **{**base, **keys})


def _content_downloads(site: Any) -> list[str]:
    """Pages the site served in full (200 on an HTML page), this run."""
    return [
        r["path"]
        for r in site.requests()
        if r["status"] == 200 and r["path"].endswith((".html", "/")) and "sitemap" not in r["path"]
    ]


def _run(tmp_path: Path, site: Any, api: Any, environ: dict[str, str], **kw: Any) -> Any:
    site.reset_log()
    api.reset()
    settings = kw.pop("settings", {})
    result = crawl_site(_site_file(tmp_path, site, **kw), tmp_path, env=environ, settings=settings)
    return result, api.documents(), _content_downloads(site)


def test_unchanged_second_run_posts_nothing_and_edits_are_reposted(
    tmp_path: Path, env: Any
) -> None:
    site, api, environ = env
    first, docs1, downloads1 = _run(tmp_path, site, api, environ)
    assert first.returncode == 0, first.stderr[-3000:]
    assert len(docs1) >= 20
    assert first.reports(SITE)[-1]["new"] >= 20

    second, docs2, downloads2 = _run(tmp_path, site, api, environ)
    assert second.returncode == 0, second.stderr[-3000:]
    assert docs2 == [], [d["url"] for d in docs2]
    assert second.stat("sync/unchanged/lastmod") >= 10  # layer 1: not even downloaded
    assert second.stat("sync/unchanged/304") >= 5  # layer 2: conditional GET
    # Only what layers 1-2 could not rule out is downloaded again (non-delivered pages).
    assert len(downloads2) <= len(downloads1) // 3, downloads2
    report = second.reports(SITE)[-1]
    assert report["new"] == 0 and report["changed"] == 0 and report["documents_posted"] == 0

    for path in EDITED:
        site.edit(path, "A paragraph added by the editor to check that changes are synced.")
    third, docs3, _ = _run(tmp_path, site, api, environ)
    assert third.returncode == 0, third.stderr[-3000:]
    reposted = {d["metadata"]["source_url"].removeprefix(site.url) for d in docs3}
    assert reposted == set(EDITED)
    assert all(
        "added by the editor" in d["content"] for d in docs3 if d["metadata"].get("parts", 1) == 1
    )
    assert third.reports(SITE)[-1]["changed"] == len(EDITED)

    full, docs4, _ = _run(tmp_path, site, api, environ, settings={"KB_FULL_SYNC": True})
    assert full.returncode == 0
    # everything is posted again (the calendar trap's reach may vary with crawl order)
    urls1 = {d["url"] for d in docs1 if "/calendar/" not in d["url"]}
    assert urls1 <= {d["url"] for d in docs4}


def test_site_file_change_resends_everything(tmp_path: Path, env: Any) -> None:
    site, api, environ = env
    first, docs1, _ = _run(tmp_path, site, api, environ)
    assert first.returncode == 0
    changed, docs2, _ = _run(tmp_path, site, api, environ, metadata={"team": "docs"})
    assert changed.returncode == 0, changed.stderr[-3000:]
    assert len(docs2) == len(docs1)
    assert all(d["metadata"]["team"] == "docs" for d in docs2)


def test_removed_pages_are_gone_after_two_complete_runs(tmp_path: Path, env: Any) -> None:
    site, api, environ = env
    first, _, _ = _run(tmp_path, site, api, environ)
    assert first.returncode == 0
    removed = ["/en/advanced.html", "/it/novita.html"]
    for path in removed:
        site.remove(path)

    short, _, _ = _run(tmp_path, site, api, environ, max_pages=3)
    assert short.returncode == 0
    assert short.reports(SITE)[-1]["complete"] is False
    assert short.reports(SITE)[-1]["gone"] == []

    once, _, _ = _run(tmp_path, site, api, environ)
    assert once.returncode == 0, once.stderr[-3000:]
    assert once.reports(SITE)[-1]["gone"] == []  # missed once: not yet gone

    twice, _, _ = _run(tmp_path, site, api, environ)
    assert twice.returncode == 0, twice.stderr[-3000:]
    gone = twice.reports(SITE)[-1]["gone"]
    gone_paths = {g["url"].removeprefix(site.url) for g in gone}
    # /es/rendimiento.html is only linked from the advanced page: it disappears with it.
    assert set(removed) <= gone_paths <= {*removed, "/es/rendimiento.html"}
    assert all(g["document_ids"] and g["document_ids"][0].startswith("doc_") for g in gone)
    assert "disappeared from the site" in twice.log


def test_shrink_guard_trips_when_the_site_answers_403(tmp_path: Path, env: Any) -> None:
    site, api, environ = env
    first, _, _ = _run(tmp_path, site, api, environ)
    assert first.returncode == 0
    site.set_mode(403)
    blocked, docs, _ = _run(tmp_path, site, api, environ)
    assert blocked.returncode == 5, blocked.stderr[-3000:]
    assert "403/429/5xx" in blocked.stderr
    assert docs == []
    report = blocked.reports(SITE)[-1]
    assert report["failed"] == "error_share" and report["gone"] == []
    for _ in range(2):  # even after more blocked runs, nothing is marked gone
        again, _, _ = _run(tmp_path, site, api, environ)
        assert again.returncode == 5 and again.reports(SITE)[-1]["gone"] == []


def test_shrink_guard_trips_when_reach_drops(tmp_path: Path, env: Any) -> None:
    site, api, environ = env
    first, _, _ = _run(tmp_path, site, api, environ)
    assert first.returncode == 0
    shrunk, _, _ = _run(tmp_path, site, api, environ, allow=[r"/fr/|/$"], follow_links=True)
    assert shrunk.returncode == 5, shrunk.stderr[-3000:]
    assert "under 50% of the last good run" in shrunk.stderr
    assert shrunk.reports(SITE)[-1]["gone"] == []


def test_second_concurrent_crawl_refuses(tmp_path: Path, env: Any) -> None:
    site, _api, environ = env
    site_file = _site_file(tmp_path, site, download_delay=0.5)
    cmd = [sys.executable, "-m", "scrapy", "crawl", "site", "-a", f"config={site_file}"]
    slow = subprocess.Popen(
        cmd, cwd=REPO_ROOT, env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    lock = tmp_path / "state" / SITE / "lock"
    try:
        # The lock file names its holder once the lock is taken (information only).
        deadline = time.monotonic() + 30
        while _lock_holder(lock) != slow.pid and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _lock_holder(lock) == slow.pid
        second = crawl_site(site_file, tmp_path, env=environ)
        assert second.returncode == 4, second.stderr[-3000:]
        assert "Another crawl of 'syncsite' is running" in second.stderr
        assert f"pid {slow.pid}" in second.stderr
        assert second.stat("downloader/request_count") in (None, 0)
        assert second.stat("kb/run_failed") == "already_running"
    finally:
        slow.kill()  # SIGKILL: no clean-up runs; the kernel drops its lock
        slow.wait()
    assert lock.exists()  # the file stays; the lock went with the process
    third = crawl_site(_site_file(tmp_path, site), tmp_path, env=environ)  # without the delay
    assert third.returncode == 0, third.stderr[-3000:]
    assert _lock_holder(lock) is None  # released (and emptied) at the end of the run


def _lock_holder(lock: Path) -> int | None:
    try:
        return json.loads(lock.read_text(encoding="utf-8") or "{}").get("pid")
    except (OSError, ValueError):
        return None


def test_a_skipped_page_is_judged_again_not_counted_unchanged(tmp_path: Path) -> None:
    """A thin page settles no document: the next run fetches it in full and skips it again
    (recorded ``thin``, exit status 8 like the first run), never a 304 "unchanged" page that
    would turn a run that reached no content into exit status 0."""
    with running_website(tmp_path) as site:
        site_file = write_site(
            tmp_path, SITE, start_urls=[site.url + "/en/thin.html"],
            allow=[r"/en/thin\.html$"], follow_links=False,
        )  # fmt: skip
        runs = []
        for _ in range(2):
            site.reset_log()
            runs.append(crawl_site(site_file, tmp_path))
            statuses = [r["status"] for r in site.requests() if r["path"] == "/en/thin.html"]
            assert statuses == [200], statuses
    for run in runs:
        assert run.returncode == 8, run.stderr[-3000:]
        assert run.stat("sync/unchanged/304") is None
        report = run.reports(SITE)[-1]
        assert report["skipped"].get("thin") == 1, report["skipped"]
        assert report["failed"] == "no_content"
