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
