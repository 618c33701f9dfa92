"""End to end: the real crawler delivering to the local knowledge-base API server.

Every scenario ends with every extracted document either accepted by the server, still
pending in the outbox, or quarantined with the API's reason — counted by the test.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
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
    assert requests and all(1 <= r["documents"] <= 100 for r in requests)
    assert len(docs) == result.stat("kb/documents_posted")
    assert all(d["metadata"]["language"] for d in docs)
    assert "kbcrawler summary:" in result.log
    assert "No KB_API_TOKEN" not in result.log
    assert result.stat("kb/credentials") == "accepted"
    assert result.reports(SITE)[-1]["failed"] is None
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
        # The report says what the exit status says; short waits (Retry-After: 1) stay quiet.
        assert result.reports(SITE)[-1]["failed"] == "undelivered (SERVICE_UNAVAILABLE)"
        assert "next attempt in" not in result.log
        # The last line names the site and a command that works for `-a config=PATH`.
        last = result.stderr.rstrip().splitlines()[-1]
        assert last.startswith(f"kbcrawler: {SITE}: the knowledge base was unavailable"), last
        command = re.search(r"send them with `([^`]+)`", last)
        assert command, last
        args = shlex.split(command[1])
        assert args[:2] == ["scrapy", "kb-flush"] and f"config={site_file}" in args

        api.configure(outage=False)
        flush = run_scrapy(args[1:], tmp_path, env=env)
        assert flush.returncode == 0, flush.stderr[-3000:]
        # kb-flush ends with crawl's verdict line.
        assert flush.stderr.splitlines()[-1] == f"kbcrawler: {SITE}: done (exit status 0)"
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
        assert docs and all(len(d["content"]) <= 1200 for d in docs)
        assert result.stat("kb/resplit_documents") >= 1
        # "N split pages" counts the pages split after the 413 too: pages of >1 document.
        per_page = Counter(d["metadata"]["source_url"] for d in docs)
        split_pages = sum(n > 1 for n in per_page.values())
        assert split_pages >= 1 and result.stat("kb/pages_split") == split_pages
        assert f"{split_pages} split pages" in result.log
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
        # The credentials check cannot be done (a 503, a dropped connection): it only warns,
        # and the import's refusal stops the crawl instead.
        ({"token": "the-right-token", "search_fail_5xx": 1}, {}, "INVALID_TOKEN", "regenerate it"),
        ({"search_drop": 1}, {"model": "no-such-model"}, "INVALID_MODEL_ID", "check chat_model_id"),
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
        result = crawl_site(_site_file(tmp_path, website, download_delay=0.5), tmp_path, env=env)
        assert result.returncode == 3, result.stderr[-3000:]
        assert code in result.stderr and hint in result.stderr
        assert result.stat("finish_reason") == f"kb_{code.lower()}"
        checked = "accepted" if code == "QUOTA_EXCEEDED" else "unchecked"
        assert result.stat("kb/credentials") == checked
        if checked == "unchecked":
            assert "Could not check the token and chat model id" in result.log
        # The summary counts the refused request; the hint names a command that works.
        assert re.search(r"in 0 batches \(\d+ requests: [1-9]\d* refused", result.log)
        assert f"kb-flush site -a config={tmp_path / (SITE + '.yaml')}" in result.log
        last = result.stderr.rstrip().splitlines()[-1]
        assert last.startswith(f"kbcrawler: {SITE}: the knowledge base refused the import"), last
        assert re.search(r"\d+ batch\(es\) wait in the outbox: once fixed, send them with `", last)
        assert last.endswith(f"-a config={tmp_path / (SITE + '.yaml')}` (exit status 3)"), last
        assert result.reports(SITE)[-1]["failed"] == code
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


# -- issue 13: a delivery is what the knowledge base confirms ------------------------------


def _summary(result: CrawlResult) -> str:
    lines = [x for x in result.log.splitlines() if "kbcrawler summary:" in x]
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize(
    ("kind", "quoted"),
    [
        ("not_json", "<html><body><h1>OK</h1>"),
        ("unknown_code", "SOMETHING_NEW"),
        ("short", '"imported": '),
        ("missing", '{"success": true}'),
    ],
)
def test_unconfirmed_answers_keep_batches_pending_and_pages_unrecorded(
    tmp_path: Path, website: Any, kind: str, quoted: str
) -> None:
    """A 200 that is not the documented success delivers nothing: exit 6, all pending, and
    the next run posts every page again (none is skipped as unchanged)."""
    site_file = _site_file(tmp_path, website)
    with running_kbapi(tmp_path, token=TOKEN, model_id=MODEL, nonsense=kind) as api:
        env = _env(tmp_path, api)
        result = crawl_site(site_file, tmp_path, env=env, settings={"KB_MAX_RETRIES": 1})
        assert result.returncode == 6, result.stderr[-3000:]
        assert "did not confirm the import" in result.stderr.rstrip().splitlines()[-1]
        assert not result.stat("kb/documents_posted") and not result.stat("kb/pages_delivered")
        assert result.stat("kb/unconfirmed") >= 2  # each batch: the send and its one retry
        assert result.stat("kb/outcome_unknown") >= result.stat("kb/unconfirmed")
        warnings = [x for x in result.log.splitlines() if "but not with the documented" in x]
        assert warnings and all("WARNING" in x and "answered 200" in x for x in warnings)
        assert all(quoted in x for x in warnings), warnings[0]
        pending = result.pending(SITE)
        _assert_all_accounted(result, [], website)
        assert result.reports(SITE)[-1]["failed"] == "undelivered (UNCONFIRMED)"
        unconfirmed = re.search(r", (\d+) unconfirmed\)", _summary(result))
        assert unconfirmed and int(unconfirmed[1]) == result.stat("kb/unconfirmed")
        _assert_no_token_anywhere(tmp_path, result)

        api.reset()  # forget what the nonsense answers stored: only confirmed sends count
        again = crawl_site(site_file, tmp_path, env=env)
        assert again.returncode == 0, again.stderr[-3000:]
        assert not again.pending(SITE) and not again.rejected(SITE)
        # Every page reached the knowledge base in this run: from the outbox, or crawled again
        # because the first run never recorded it as delivered.
        _assert_all_accounted(again, api.documents(), website)
        assert {d["title"] for d in pending} <= {d["title"] for d in api.documents()}


def test_one_unconfirmed_answer_is_retried_and_delivered(tmp_path: Path, website: Any) -> None:
    site_file = _site_file(tmp_path, website)
    with running_kbapi(
        tmp_path, token=TOKEN, model_id=MODEL, nonsense="short", nonsense_count=1
    ) as api:
        env = _env(tmp_path, api)
        result = crawl_site(site_file, tmp_path, env=env)
        assert result.returncode == 0, result.stderr[-3000:]
        assert result.stat("kb/unconfirmed") == 1 and result.stat("kb/retries") >= 1
        assert not result.pending(SITE)
        _assert_all_accounted(result, api.documents(), website)
        assert result.reports(SITE)[-1]["failed"] is None

        # An unchanged re-run says so: its pages are counted as unchanged, not as "0 pages".
        again = crawl_site(site_file, tmp_path, env=env)
        assert again.returncode == 0, again.stderr[-3000:]
        unchanged = sum(
            again.stat(f"sync/unchanged/{layer}") or 0
            for layer in ("lastmod", "304", "fingerprint")
        )
        assert unchanged >= 1
        assert f"0 pages extracted, {unchanged} unchanged, 0 documents posted" in _summary(again)


@pytest.mark.parametrize(
    ("server", "client", "code", "hint"),
    [
        ({"token": "the-right-token"}, {}, "INVALID_TOKEN", "regenerate it"),
        ({}, {"model": "no-such-model"}, "INVALID_MODEL_ID", "check chat_model_id"),
    ],
)
def test_wrong_credentials_stop_the_run_before_any_page_request(
    tmp_path: Path,
    website: Any,
    server: dict[str, Any],
    client: dict[str, str],
    code: str,
    hint: str,
) -> None:
    with running_kbapi(tmp_path, **{"token": TOKEN, "model_id": MODEL, **server}) as api:
        env = _env(tmp_path, api, model=client.get("model", MODEL))
        result = crawl_site(_site_file(tmp_path, website), tmp_path, env=env)
        searches, imports = api.searches(), api.requests()
    assert result.returncode == 3, result.stderr[-3000:]
    assert website.requests() == []  # not even robots.txt
    assert imports == []
    assert [(s["limit"], s["error"]) for s in searches] == [(1, code)]
    assert f"refused the credentials check ({code})" in result.log and hint in result.log
    last = result.stderr.rstrip().splitlines()[-1]
    assert last == (
        f"kbcrawler: {SITE}: the knowledge base refused the credentials ({code}) (exit status 3)"
    )
    assert "0 documents posted in 0 batches (1 requests: 1 refused" in _summary(result)
    assert "left pending in" not in _summary(result)
    assert not result.pending(SITE)
    assert result.reports(SITE)[-1]["failed"] == code
    _assert_no_token_anywhere(tmp_path, result)


def test_credentials_check_that_fails_only_warns(tmp_path: Path, website: Any) -> None:
    with running_kbapi(
        tmp_path, token=TOKEN, model_id=MODEL, search_fail_5xx=1, fail_status=502
    ) as api:
        result = crawl_site(_site_file(tmp_path, website), tmp_path, env=_env(tmp_path, api))
        accepted = api.documents()
    assert result.returncode == 0, result.stderr[-3000:]
    warning = [x for x in result.log.splitlines() if "Could not check the token" in x]
    assert len(warning) == 1 and "WARNING" in warning[0] and "502" in warning[0]
    assert result.stat("kb/credentials") == "unchecked"
    _assert_all_accounted(result, accepted, website)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("127.0.0.1:8766/v1", "needs an http:// or https:// scheme"),
        ("localhost:8766/v1", "needs an http:// or https:// scheme"),
        ("http:///v1", "has no host"),
        ("http://127.0.0.1:8766/", "has no API version in its path"),
    ],
)
def test_bad_api_url_is_one_line_and_exit_2(
    tmp_path: Path, website: Any, url: str, problem: str
) -> None:
    env = crawl_env(tmp_path, KB_API_URL=url, KB_API_TOKEN=TOKEN, KB_CHAT_MODEL_ID=MODEL)
    result = crawl_site(_site_file(tmp_path, website), tmp_path, env=env)
    assert result.returncode == 2
    ours = [x for x in result.stderr.splitlines() if "kbcrawler:" in x or "KB_API_URL" in x]
    assert ours == [
        f"kbcrawler: bad setting: KB_API_URL {url!r} {problem} "
        "(e.g. https://api.aismarttalk.tech/v1)"
    ]
    assert "Traceback" not in result.stderr and "Spider opened" not in result.stderr
    assert website.requests() == []


def test_long_retry_waits_are_logged_once_with_host_reason_and_time(
    tmp_path: Path, website: Any
) -> None:
    # The outage answers Retry-After: 1; waits from 0.5 s on are logged here (5 s by default).
    with running_kbapi(tmp_path, token=TOKEN, model_id=MODEL, outage=True) as api:
        host = api.url.split("//", 1)[1].split("/", 1)[0]
        result = crawl_site(
            _site_file(tmp_path, website),
            tmp_path,
            env=_env(tmp_path, api),
            settings={"KB_MAX_RETRIES": 2, "KB_LOG_WAIT_SECONDS": 0.5},
        )
    assert result.returncode == 6, result.stderr[-3000:]
    waits = [x for x in result.log.splitlines() if "next attempt in" in x]
    pattern = rf"WARNING: Knowledge base {re.escape(host)}: 503 SERVICE_UNAVAILABLE; "
    pattern += r"next attempt in 1 s \(at \d\d:\d\d:\d\d\)$"
    assert waits and all(re.search(pattern, x) for x in waits), waits[:3]
    # One line per wait: every retry waited once (the last attempt of a batch does not wait).
    assert len(waits) == result.stat("kb/retries")


def _page_documents(docs: list[dict[str, Any]]) -> dict[str, list[tuple[Any, ...]]]:
    """Each page's documents as the knowledge base holds them (without crawled_at), by part.

    Pages with a same-text twin are left out: which of the two is delivered varies by run.
    """
    twins = {p for page in X.EXPECTED_PAGES if page["alternates"] for p in page["alternates"]}
    twins |= {page["path"] for page in X.EXPECTED_PAGES if page["alternates"]}
    pages: dict[str, list[tuple[Any, ...]]] = {}
    for doc in docs:
        meta = {k: v for k, v in doc["metadata"].items() if k != "crawled_at"}
        if any(meta["source_url"].endswith(path) for path in twins):
            continue
        key = (meta.get("part", 0), doc["title"], doc["url"], doc["content"], json.dumps(meta))
        pages.setdefault(meta["source_url"], []).append(key)
    return {url: sorted(keys) for url, keys in pages.items()}


def test_split_after_413_gives_the_documents_of_a_split_up_front(
    tmp_path: Path, website: Any
) -> None:
    limit = 1000
    first, second = tmp_path / "after-413", tmp_path / "up-front"
    first.mkdir()
    second.mkdir()
    with running_kbapi(tmp_path, token=TOKEN, model_id=MODEL, max_content_chars=limit) as api:
        # Split at 1500 by the crawler, refused by the server (413), split again at 1000.
        late = crawl_site(
            _site_file(first, website, max_document_chars=1500), first, env=_env(first, api)
        )
        assert late.returncode == 0, late.stderr[-3000:]
        assert late.stat("kb/too_large") >= 1 and late.stat("kb/resplit_documents") >= 1
        assert not late.stat("kb/resplit_partial_pages")
        assert late.stat("kb/resplit_pages") >= 1  # pages of several documents, split again
        after_413 = _page_documents(api.documents())
        api.reset()
        api.configure(max_content_chars=limit)
        # Split at 1000 from the start: the server never refuses anything.
        early = crawl_site(
            _site_file(second, website, max_document_chars=limit), second, env=_env(second, api)
        )
        assert early.returncode == 0, early.stderr[-3000:]
        assert not early.stat("kb/too_large")
        up_front = _page_documents(api.documents())
    assert after_413 == up_front
    split = {url: docs for url, docs in up_front.items() if len(docs) > 1}
    assert split, "no page of the test site is longer than the limit"
    for docs in split.values():
        n = len(docs)
        metas = [json.loads(doc[4]) for doc in docs]
        assert [m["part"] for m in metas] == list(range(1, n + 1))
        assert {m["parts"] for m in metas} == {n}
        assert len({doc[1] for doc in docs}) == n  # distinct titles
        for (_, title, url, _, _), meta in zip(docs, metas, strict=True):
            assert title.endswith(f"({meta['part']}/{n})")
            assert not meta["section"] or meta["section"] in title
            assert url.split("#")[0] == meta["source_url"]
    # At least one page had several documents before the 413 and was numbered afresh.
    assert any("#" in doc[2] for docs in split.values() for doc in docs)


def test_summary_names_only_files_it_wrote(tmp_path: Path, website: Any) -> None:
    site_file = _site_file(tmp_path, website)
    env = crawl_env(tmp_path)  # no token: documents go to the outbox as JSON Lines
    nothing = run_scrapy(["kb-flush", "site", "-a", f"config={site_file}"], tmp_path, env=env)
    assert nothing.returncode == 0, nothing.stderr[-3000:]
    line = _summary(nothing)
    assert line.endswith("0 pages extracted, 0 unchanged, 0 documents written"), line
    assert not list((tmp_path / "outbox").rglob("*.jsonl"))

    written = crawl_site(site_file, tmp_path, env=env)
    assert written.returncode == 0, written.stderr[-3000:]
    named = re.search(r"(\d+) documents written to (\S+\.jsonl)$", _summary(written))
    assert named, _summary(written)
    lines = Path(named[2]).read_text(encoding="utf-8").splitlines()
    assert len(lines) == int(named[1]) == written.stat("kb/documents_written") > 0


def test_a_page_is_recorded_only_once_all_its_documents_are_confirmed(
    tmp_path: Path, website: Any
) -> None:
    """One document per batch: the guide's parts go in several batches, and the one holding
    this sentence is answered with a 200 that confirms nothing."""
    sentence = "Harbor keeps a small journal of every file it has seen"
    site_file = _site_file(tmp_path, website, max_document_chars=1000)
    guide = website.url + "/en/guide.html"
    with running_kbapi(
        tmp_path, token=TOKEN, model_id=MODEL, nonsense="short", nonsense_substring=sentence
    ) as api:
        env = _env(tmp_path, api)
        settings = {"KB_MAX_BATCH_DOCS": 1, "KB_MAX_RETRIES": 0, "KB_MAX_IN_FLIGHT": 1}
        result = crawl_site(site_file, tmp_path, env=env, settings=settings)
        assert result.returncode == 6, result.stderr[-3000:]
        confirmed = api.documents()
        guide_parts = {
            d["metadata"]["parts"]
            for d in result.pending(SITE)
            if d["metadata"]["source_url"] == guide
        }
        with sqlite3.connect(tmp_path / "state" / SITE / "state.sqlite") as db:
            recorded = {
                url for (url,) in db.execute("SELECT url FROM pages WHERE fingerprint IS NOT NULL")
            }
        # Every recorded page has all its documents confirmed; the guide is not recorded.
        by_page: dict[str, set[int]] = {}
        for doc in confirmed:
            by_page.setdefault(doc["metadata"]["source_url"], set()).add(
                doc["metadata"].get("part", 1)
            )
        assert guide not in recorded and by_page.get(guide)  # some of its parts were confirmed
        assert recorded, "no page was confirmed before the unconfirmed answer"
        for url in recorded:
            parts = {
                d["metadata"].get("parts", 1)
                for d in confirmed
                if d["metadata"]["source_url"] == url
            }
            assert by_page.get(url) == set(range(1, max(parts) + 1)), url
        assert guide_parts and max(guide_parts) >= 2  # the guide was split in several

        api.reset()
        again = crawl_site(site_file, tmp_path, env=env)
        assert again.returncode == 0, again.stderr[-3000:]
        assert not again.pending(SITE)
        # The guide was not skipped as unchanged: all its parts went out again.
        delivered = {
            d["metadata"].get("part")
            for d in api.documents()
            if d["metadata"]["source_url"] == guide
        }
        assert delivered >= set(range(1, max(guide_parts) + 1))


def test_double_ctrl_c_keeps_the_sync_state_and_writes_the_report(
    tmp_path: Path, website: Any
) -> None:
    """A second SIGINT makes Scrapy stop the reactor without closing the spider: the run
    report is still written (complete: false), exit 7, and what the API confirmed before
    is in the sync state, so the next run does not send it again."""
    site_file = _site_file(tmp_path, website)
    with running_kbapi(tmp_path, token=TOKEN, model_id=MODEL) as api:
        cmd = [sys.executable, "-m", "scrapy", "crawl", "site", "-a", f"config={site_file}",
               "-s", "KB_MAX_BATCH_DOCS=2", "-s", "AUTOTHROTTLE_ENABLED=False",
               "-s", "DOWNLOAD_DELAY=0.5", "-s", "RANDOMIZE_DOWNLOAD_DELAY=False"]  # fmt: skip
        proc = subprocess.Popen(
            cmd, cwd=REPO_ROOT, env=_env(tmp_path, api), stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert proc.stderr is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not api.documents():
            time.sleep(0.1)
        confirmed = _urls(api.documents())
        assert confirmed and proc.poll() is None, "no delivery before the crawl ended"
        api.configure(delay_seconds=30)  # the graceful close now waits on the knowledge base
        proc.send_signal(signal.SIGINT)
        log = []
        for line in proc.stderr:
            log.append(line)
            if "shutting down gracefully" in line:
                proc.send_signal(signal.SIGINT)
                break
        log += proc.stderr.readlines()
        assert proc.wait(timeout=120) == 7, "".join(log)[-3000:]
    text = "".join(log)
    assert "forcing unclean shutdown" in text
    assert "(exit status 7)" in log[-1], log[-1]
    report = CrawlResult(7, "", text, tmp_path / "outbox", tmp_path / "state").reports(SITE)[-1]
    assert report["complete"] is False and report["close_reason"] == "shutdown_forced"

    with running_kbapi(tmp_path, token=TOKEN, model_id=MODEL) as api:
        again = crawl_site(site_file, tmp_path, env=_env(tmp_path, api))
        assert again.returncode == 0, again.stderr[-3000:]
        resent = _urls(api.documents()) & confirmed
    assert not resent, resent
