"""``scrapy kb-search`` and ``scrapy kb-query`` against the test API, after a real crawl."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.crawl_runner import crawl_env, crawl_site, run_scrapy, write_site
from tests.servers.kbapi import running_kbapi
from tests.servers.website import running_website

SITE = "searched"


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> Any:
    tmp = tmp_path_factory.mktemp("search")
    with running_website(tmp) as site, running_kbapi(tmp) as api:
        config = write_site(
            tmp, SITE, start_urls=[site.url + "/"], max_depth=1, chat_model_id=api.model_id
        )
        env = crawl_env(tmp, KB_API_URL=api.url, KB_API_TOKEN=api.token)
        result = crawl_site(config, tmp, env=env)
        assert result.returncode == 0, result.stderr[-3000:]
        yield tmp, site, api, config, env


def kb(crawled: Any, *args: str, env: dict[str, str] | None = None) -> Any:
    tmp, _, _, config, default_env = crawled
    command, *rest = args
    return run_scrapy(
        [command, "site", "-a", f"config={config}", *rest], tmp, env=env or default_env
    )


def test_search_prints_titles_urls_and_relevance(crawled: Any) -> None:
    _, site, _, _, _ = crawled
    result = kb(crawled, "kb-search", "conflict")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].endswith(f'document(s) for "conflict" in {SITE}\'s knowledge base:')
    assert lines[1].startswith("  1. 1.00  ")
    assert lines[2].strip().startswith(site.url + "/") and "[doc_" in lines[2]
    data = json.loads(kb(crawled, "kb-search", "conflict", "--json", "--limit", "2").stdout)
    assert 1 <= len(data) <= 2
    assert all(d["url"].startswith(site.url) and d["id"].startswith("doc_") for d in data)
    assert data[0]["relevance"] == 1.0


def test_query_prints_the_answer_and_its_sources_with_urls_from_the_sync_state(
    crawled: Any,
) -> None:
    _, site, api, _, _ = crawled
    result = kb(crawled, "kb-query", "How do I install Harbor?", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["answer"].startswith("According to ")
    # /chat/query answers sources without a URL (as documented): it comes from our state.
    by_id = {d["id"]: d["url"] for d in api.documents()}
    assert data["sources"] and all(s["url"] == by_id[s["id"]] for s in data["sources"])
    text = kb(crawled, "kb-query", "How do I install Harbor?").stdout
    assert text.startswith("Answer:\n  According to ") and "Sources (" in text
    assert site.url in text


def test_no_match_is_not_an_error(crawled: Any) -> None:
    result = kb(crawled, "kb-search", "zzqxv-nothing")
    assert result.returncode == 0
    assert result.stdout.startswith('0 document(s) for "zzqxv-nothing"')


def test_no_token_and_refusals_are_one_clear_line(crawled: Any, tmp_path: Path) -> None:
    tmp, _, _, _, env = crawled
    no_token = {k: v for k, v in env.items() if k != "KB_API_TOKEN"}
    result = kb(crawled, "kb-search", "harbor", env=no_token)
    assert result.returncode == 2
    assert "kbcrawler: KB_API_TOKEN is not set" in result.stderr
    bad_token = {**env, "KB_API_TOKEN": "wrong-token"}
    result = kb(crawled, "kb-query", "harbor?", env=bad_token)
    assert result.returncode == 3
    assert "kbcrawler: the knowledge base refused (INVALID_TOKEN): the API token was refused" in (
        result.stderr
    )
    assert "wrong-token" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
    other = write_site(tmp_path, "other", start_urls=["https://x.org/"], chat_model_id="nope")
    result = run_scrapy(["kb-search", "site", "-a", f"config={other}", "x"], tmp, env=env)
    assert result.returncode == 3 and "(INVALID_MODEL_ID)" in result.stderr


def test_search_rides_out_a_server_error_and_a_dropped_connection(crawled: Any) -> None:
    _, _, api, _, _ = crawled
    api.configure(search_fail_5xx=1, fail_status=502, search_drop=1)
    try:
        result = kb(crawled, "kb-search", "conflict", "--json")
        searches = api.searches()
    finally:
        api.configure(search_fail_5xx=0, search_drop=0, fail_status=503)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout), "no document found after the retries"
    assert [(s.get("fault"), s["status"]) for s in searches[-3:]] == [
        ("drop", None),
        ("fail_5xx", 502),
        (None, 200),
    ]


def test_search_through_an_outage_is_unavailable_exit_6(crawled: Any) -> None:
    _, _, api, _, _ = crawled
    before = len(api.searches())
    api.configure(outage=True)
    try:
        tmp, _, _, config, env = crawled
        result = run_scrapy(
            ["kb-search", "site", "-a", f"config={config}", "conflict"], tmp, env=env,
            settings={"KB_MAX_RETRIES": 1},
        )  # fmt: skip
        tried = len(api.searches()) - before
    finally:
        api.configure(outage=False)
    assert result.returncode == 6
    assert result.stderr.strip().splitlines()[-1] == (
        "kbcrawler: the knowledge base is unavailable (HTTP_503: Service Unavailable)"
    )
    assert tried == 2  # the first try and KB_MAX_RETRIES=1 retry
