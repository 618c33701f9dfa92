"""End to end: the real crawler delivering to the local knowledge-base API server.

Every scenario ends with every extracted document either accepted by the server, still
pending in the outbox, or quarantined with the API's reason — counted by the test.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.crawl_runner import REPO_ROOT, CrawlResult, crawl_env, crawl_site, run_scrapy, write_site
from tests.servers import site_expectations as X
from tests.servers.kbapi import running_kbapi
from tests.servers.website import running_website

SITE = "kbsite"
TOKEN = "tok-3f9a7c1e5b2d4e6f8a0b"
MODEL = "model-42"


@pytest.fixture
def website(tmp_path: Path) -> Any:
    with running_website(tmp_path) as site:
        yield site


def _site_file(tmp_path: Path, website: Any, **keys: Any) -> Path:
    base = {"start_urls": [website.url + "/"], "max_depth": 2, "max_pages": 100}
    return write_site(tmp_path, SITE, **{**base, **keys})


def _env(tmp_path: Path, api: Any, token: str = TOKEN, model: str = MODEL) -> dict[str, str]:
    return crawl_env(tmp_path, KB_API_URL=api.url, KB_API_TOKEN=token, KB_CHAT_MODEL_ID=model)


def _urls(docs: list[dict[str, Any]]) -> set[str]:
    return {d["metadata"]["source_url"] for d in docs}


def _expected_urls(website: Any) -> set[str]:
    """Pages the crawl must deliver at depth <= 2 (one of each duplicate group)."""
    urls = set()
    for page in X.EXPECTED_PAGES:
        urls.add(website.url + page["path"] if page["path"] != "/" else website.url + "/")
    return urls


def _assert_all_accounted(
    result: CrawlResult, accepted: list[dict[str, Any]], website: Any
) -> None:
    """Each expected page is accepted, pending or quarantined; nothing else is missing."""
    delivered = _urls(accepted) | _urls(result.pending(SITE))
    delivered |= {r["document"]["metadata"]["source_url"] for r in result.rejected(SITE)}
    missing = set()
    for page in X.EXPECTED_PAGES:
        paths = [page["path"], *page["alternates"]]
        if not any(website.url + p in delivered for p in paths):
            missing.add(page["path"])
    assert not missing, missing


def _assert_no_token_anywhere(tmp_path: Path, result: CrawlResult) -> None:
    assert TOKEN not in result.stderr and TOKEN not in result.stdout
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.suffix in {".json", ".jsonl", ".log", ".sqlite", ".yaml"}:
            assert TOKEN.encode() not in path.read_bytes(), path


def test_happy_path_posts_everything_in_batches(tmp_path: Path, website: Any) -> None:
    with running_kbapi(tmp_path, token=TOKEN, model_id=MODEL) as api:
        result = crawl_site(_site_file(tmp_path, website), tmp_path, env=_env(tmp_path, api))
        docs, requests = api.documents(), api.requests()
        accepted = docs
    assert result.returncode == 0, result.stderr[-3000:]
    _assert_all_accounted(result, accepted, website)
    assert not result.pending(SITE) and not result.rejected(SITE)
    assert all(1 <= r["documents"] <= 100 for r in requests)
    assert len(docs) == result.stat("kb/documents_posted")
    assert all(d["metadata"]["language"] for d in docs)
    assert "kbcrawler summary:" in result.log
    assert "No KB_API_TOKEN" not in result.log
    _assert_no_token_anywhere(tmp_path, result)


def test_rate_limit_is_kept_and_429_honoured(tmp_path: Path, website: Any) -> None:
    # The client keeps to 120/min; the server allows 4 per 2 s, so it must answer 429 with
    # Retry-After sometimes — and every batch still lands.
    with running_kbapi(
        tmp_path, token=TOKEN, model_id=MODEL, rate_per_min=4, window_seconds=2
    ) as api:
        result = crawl_site(
            _site_file(tmp_path, website),
            tmp_path,
            env=_env(tmp_path, api),
            settings={"KB_MAX_BATCH_DOCS": 2, "KB_IMPORT_RATE_PER_MIN": 600},
        )
        requests, accepted = api.requests(), api.documents()
    assert result.returncode == 0, result.stderr[-3000:]
    assert any(r["status"] == 429 for r in requests)
    assert result.stat("kb/rate_limited") >= 1
    _assert_all_accounted(result, accepted, website)
    assert not result.pending(SITE)


def test_client_rate_limiter_avoids_429(tmp_path: Path, website: Any) -> None:
    with running_kbapi(
        tmp_path, token=TOKEN, model_id=MODEL, rate_per_min=10, window_seconds=5
    ) as api:
        result = crawl_site(
            _site_file(tmp_path, website),
            tmp_path,
            env=_env(tmp_path, api),
            settings={"KB_MAX_BATCH_DOCS": 3, "KB_IMPORT_RATE_PER_MIN": 120},
        )
        requests, accepted = api.requests(), api.documents()
    assert result.returncode == 0, result.stderr[-3000:]
    assert not [r for r in requests if r["status"] == 429]
    starts = sorted(r["time"] for r in requests)
    # 120/min = one request start every 0.5 s; arrival times jitter with connection set-up,
    # so judge the rate over the whole run, not the single smallest gap.
    assert len(starts) >= 5
    assert (len(starts) - 1) / (starts[-1] - starts[0]) <= 2.1
    _assert_all_accounted(result, accepted, website)


def test_server_errors_and_dropped_connections_are_retried(tmp_path: Path, website: Any) -> None:
    with running_kbapi(tmp_path, token=TOKEN, model_id=MODEL, fail_5xx=3, drop=2) as api:
        result = crawl_site(_site_file(tmp_path, website), tmp_path, env=_env(tmp_path, api))
        requests, accepted = api.requests(), api.documents()
    assert result.returncode == 0, result.stderr[-3000:]
    assert sum(1 for r in requests if r["fault"] in ("fail_5xx", "drop")) == 5
    assert result.stat("kb/retries") >= 5
    assert not result.pending(SITE)
    _assert_all_accounted(result, accepted, website)


def test_timeout_after_sending_is_resent(tmp_path: Path, website: Any) -> None:
    with running_kbapi(
        tmp_path, token=TOKEN, model_id=MODEL, delay_seconds=3, delay_count=1
    ) as api:
        result = crawl_site(
            _site_file(tmp_path, website),
            tmp_path,
            env=_env(tmp_path, api),
            settings={"KB_REQUEST_TIMEOUT": 1},
        )
        accepted = api.documents()
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stat("kb/outcome_unknown") >= 1
    assert not result.pending(SITE)
    _assert_all_accounted(result, accepted, website)


def test_outage_keeps_batches_pending_then_kb_flush_delivers(tmp_path: Path, website: Any) -> None:
    site_file = _site_file(tmp_path, website)
    with running_kbapi(tmp_path, token=TOKEN, model_id=MODEL, outage=True) as api:
        env = _env(tmp_path, api)
        result = crawl_site(site_file, tmp_path, env=env, settings={"KB_MAX_RETRIES": 2})
        assert result.returncode == 6, result.stderr[-3000:]
        assert "unavailable" in result.stderr
        pending = result.pending(SITE)
        assert pending and not api.documents()
        _assert_all_accounted(result, api.documents(), website)

        api.configure(outage=False)
        flush = run_scrapy(["kb-flush", "site", "-a", f"config={site_file}"], tmp_path, env=env)
        assert flush.returncode == 0, flush.stderr[-3000:]
        assert not flush.pending(SITE)
        assert {d["title"] for d in api.documents()} == {d["title"] for d in pending}
        assert flush.stat("kb/documents_posted") == len(pending)


def test_document_too_large_splits_smaller_and_remembers(tmp_path: Path, website: Any) -> None:
    with running_kbapi(tmp_path, token=TOKEN, model_id=MODEL, max_content_chars=1200) as api:
        env = _env(tmp_path, api)
        result = crawl_site(_site_file(tmp_path, website), tmp_path, env=env)
        assert result.returncode == 0, result.stderr[-3000:]
        assert result.log.count("DOCUMENT_TOO_LARGE): splitting at") == 1
        docs = api.documents()
        assert all(len(d["content"]) <= 1200 for d in docs)
        assert result.stat("kb/resplit_documents") >= 1
        _assert_all_accounted(result, api.documents(), website)
        assert not result.pending(SITE) and not result.rejected(SITE)
        limits = json.loads((tmp_path / "state" / SITE / "limits.json").read_text())
        assert limits["max_document_chars"] <= 1200

        # The next run splits at the learned limit from the start: no 413 at all.
        api.reset()
        api.configure(max_content_chars=1200)
        again = crawl_site(
            _site_file(tmp_path, website), tmp_path, env=env, settings={"KB_FULL_SYNC": True}
        )
        assert again.returncode == 0, again.stderr[-3000:]
        assert not [r for r in api.requests() if r["status"] == 413]
        # Split by the extraction workers at the learned limit, none left to the pipeline.
        assert again.stat("kb/pages_split") >= 1
        assert again.stat("kb/pages_split_by_worker") == again.stat("kb/pages_split")
        assert all(len(d["content"]) <= 1200 for d in api.documents())


def test_invalid_request_bisects_and_quarantines(tmp_path: Path, website: Any) -> None:
    bad = "Harbor keeps a small journal of every file it has seen"  # only in the guide
    with running_kbapi(tmp_path, token=TOKEN, model_id=MODEL, invalid_substring=bad) as api:
        result = crawl_site(_site_file(tmp_path, website), tmp_path, env=_env(tmp_path, api))
        docs = accepted = api.documents()
    assert result.returncode == 0, result.stderr[-3000:]
    rejected = result.rejected(SITE)
    assert len(rejected) == 1
    assert rejected[0]["reason"]["code"] == "INVALID_REQUEST"
    assert "invalid characters" in rejected[0]["reason"]["message"]
    assert rejected[0]["document"]["url"].endswith("/en/guide.html")
    assert not any(bad in d["content"] for d in docs)
    assert result.stat("kb/bisections") >= 1
    _assert_all_accounted(result, accepted, website)


def test_partial_import_quarantines_refused_documents(tmp_path: Path, website: Any) -> None:
    refuse = "Sicherungen"  # the German page
    with running_kbapi(tmp_path, token=TOKEN, model_id=MODEL, reject_substring=refuse) as api:
        result = crawl_site(_site_file(tmp_path, website), tmp_path, env=_env(tmp_path, api))
        accepted = api.documents()
    assert result.returncode == 0, result.stderr[-3000:]
    rejected = result.rejected(SITE)
    assert rejected and all(refuse in r["document"]["content"] for r in rejected)
    assert all(r["reason"]["code"] == "INVALID_DOCUMENT" for r in rejected)
    assert result.stat("kb/quarantined") == len(rejected)
    _assert_all_accounted(result, accepted, website)


@pytest.mark.parametrize(
    ("server", "client", "code", "hint"),
    [
        ({"token": "the-right-token"}, {}, "INVALID_TOKEN", "regenerate it"),
        ({}, {"model": "no-such-model"}, "INVALID_MODEL_ID", "check chat_model_id"),
        ({"quota_exceeded": True}, {}, "QUOTA_EXCEEDED", "upgrade the plan"),
    ],
)
def test_fatal_answers_stop_the_crawl_and_keep_everything(
    tmp_path: Path,
    website: Any,
    server: dict[str, Any],
    client: dict[str, str],
    code: str,
    hint: str,
) -> None:
    options = {"token": TOKEN, "model_id": MODEL, **server}
    with running_kbapi(tmp_path, **options) as api:
        env = _env(tmp_path, api, model=client.get("model", MODEL))
        result = crawl_site(_site_file(tmp_path, website, download_delay=0.2), tmp_path, env=env)
        assert result.returncode == 3, result.stderr[-3000:]
        assert code in result.stderr and hint in result.stderr
        assert result.stat("finish_reason") == f"kb_{code.lower()}"
        assert not api.documents()
        pending = result.pending(SITE)
        assert pending
        # stopped promptly: far fewer pages than the site has
        assert result.stat("extract/pages") < 20
        _assert_no_token_anywhere(tmp_path, result)

        # Fixed configuration: the next run first delivers what was pending.
        api.configure(token=TOKEN, model_id=MODEL, quota_exceeded=False)
        again = crawl_site(_site_file(tmp_path, website), tmp_path, env=_env(tmp_path, api))
        assert again.returncode == 0, again.stderr[-3000:]
        assert "left pending by earlier runs" in again.log
        assert not again.pending(SITE)
        delivered = {d["title"] for d in api.documents()}
        assert {d["title"] for d in pending} <= delivered


def test_missing_model_id_is_a_clear_error(tmp_path: Path, website: Any) -> None:
    with running_kbapi(tmp_path) as api:
        env = crawl_env(tmp_path, KB_API_URL=api.url, KB_API_TOKEN=TOKEN)
        result = crawl_site(_site_file(tmp_path, website), tmp_path, env=env)
    assert result.returncode == 3
    assert "No chat model id" in result.stderr


def test_kill_9_loses_nothing(tmp_path: Path, website: Any) -> None:
    """Kill the crawler while batches are in flight; the next run delivers them."""
    site_file = _site_file(tmp_path, website)
    with running_kbapi(tmp_path, token=TOKEN, model_id=MODEL, delay_seconds=2) as api:
        env = _env(tmp_path, api)
        cmd = [sys.executable, "-m", "scrapy", "crawl", "site", "-a", f"config={site_file}",
               "-s", "KB_MAX_BATCH_DOCS=3", "-s", "AUTOTHROTTLE_ENABLED=False"]  # fmt: skip
        proc = subprocess.Popen(
            cmd, cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        pending_dir = tmp_path / "outbox" / SITE / "pending"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(list(pending_dir.glob("*.json"))) < 2:
            time.sleep(0.1)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        left = list(pending_dir.glob("*.json"))
        assert left, "the crawl was killed before any batch was written"

        api.configure(delay_seconds=0)
        again = crawl_site(site_file, tmp_path, env=env)
        assert again.returncode == 0, again.stderr[-3000:]
        assert not again.pending(SITE)
        _assert_all_accounted(again, api.documents(), website)
