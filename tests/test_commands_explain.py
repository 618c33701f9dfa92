"""``scrapy kb-explain``: driven as an operator would, after a real crawl into the test API."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from crawler.runrecords import read_url_records
from tests.crawl_runner import CrawlResult, crawl_env, crawl_site, run_scrapy, write_site
from tests.servers.kbapi import running_kbapi
from tests.servers.website import running_website

SITE = "explained"


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> Any:
    tmp = tmp_path_factory.mktemp("explain")
    with running_website(tmp) as site, running_kbapi(tmp) as api:
        config = write_site(
            tmp, SITE, start_urls=[site.url + "/"], max_depth=3, max_pages=200,
            deny=["/calendar/"], chat_model_id=api.model_id,
        )  # fmt: skip
        env = crawl_env(tmp, KB_API_URL=api.url, KB_API_TOKEN=api.token)
        result = crawl_site(config, tmp, env=env)
        assert result.returncode == 0, result.stderr[-3000:]
        yield tmp, site, api, config, env


def explain(crawled: Any, path: str, *extra: str) -> CrawlResult:
    tmp, site, _, config, env = crawled
    url = path if path.startswith("http") else site.url + path
    return run_scrapy(["kb-explain", "site", "-a", f"config={config}", url, *extra], tmp, env=env)


def line_of(result: CrawlResult, rule: str) -> str:
    found = [ln for ln in result.stdout.splitlines() if f" {rule}  " in ln]
    assert found, result.stdout
    return found[0]


def test_a_delivered_unchanged_page_shows_its_history_and_document(crawled: Any) -> None:
    _, _, api, _, _ = crawled
    result = explain(crawled, "/en/guide.html")
    assert result.returncode == 0, result.stderr
    ids = [d["id"] for d in api.documents() if d["url"].endswith("/en/guide.html")]
    assert len(ids) == 1
    assert line_of(result, "unchanged").lstrip().startswith("NO")
    assert "unchanged since the last sync, delivered 20" in result.stdout
    assert f"document ids: {ids[0]}" in result.stdout
    assert "depth" in result.stdout and "1 link(s) from the start URLs" in result.stdout
    assert "Documents it would produce: 1" in result.stdout
    assert "1. Getting Started with Harbor" in result.stdout
    assert "language en, " in result.stdout and "| # Getting Started with Harbor" in result.stdout
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("path", "rule", "words"),
    [
        ("/private/internal-notes.html", "robots.txt", "disallows it for our user agent"),
        ("/en/noindex.html", "noindex", "asks not to be indexed"),
        ("/en/thin.html", "thin or empty", "shorter than min_chars (200)"),
        ("/en/guide-print.html", "canonical", "/en/guide.html, which is crawled instead"),
        ("/calendar/2026/01", "allow/deny", "matches deny '/calendar/'"),
        ("/files/manual.pdf", "HTML", "not an HTML page (application/pdf)"),
        ("/missing-page.html", "download", "HTTP 404"),
        ("/go-offsite", "download", "redirects to http://127.0.0.2:"),
        ("http://docs.example.org/x.html", "allowed domains", "is not within allowed_domains"),
    ],
)
def test_each_rule_that_stops_a_page_is_named(
    crawled: Any, path: str, rule: str, words: str
) -> None:
    result = explain(crawled, path)
    assert result.returncode == 0, result.stderr
    line = line_of(result, rule)
    assert line.lstrip().startswith("NO") and words in line
    assert f"Verdict: not delivered ({rule}: " in result.stdout
    assert "Documents it would produce" not in result.stdout


def test_the_same_text_under_another_url_is_a_duplicate(crawled: Any) -> None:
    _, _, api, _, _ = crawled
    delivered = {d["url"].rsplit("/", 1)[1] for d in api.documents()}
    twin = "faq-copy.html" if "faq.html" in delivered else "faq.html"
    result = explain(crawled, f"/en/{twin}")
    line = line_of(result, "duplicate")
    assert line.lstrip().startswith("NO") and "the same text was delivered under" in line


def test_json_output_for_scripts(crawled: Any) -> None:
    result = explain(crawled, "/en/thin.html", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["delivered"] is False and data["reason"].startswith("thin or empty")
    assert {c["rule"] for c in data["checks"]} >= {"allowed domains", "robots.txt", "noindex"}
    assert data["history"]["state"]["last_seen"]
    page = json.loads(explain(crawled, "/en/faq.html?utm_source=x", "--json").stdout)
    assert page["normalized_url"].endswith("/en/faq.html")


def test_a_new_page_would_be_delivered_with_its_parts(crawled: Any) -> None:
    result = explain(crawled, "/big.html?kb=60", "--json")
    data = json.loads(result.stdout)
    assert data["delivered"] is True, data["reason"]
    assert data["history"]["state"] is None
    docs = data["documents"]
    assert len(docs) >= 3
    assert all(d["chars"] <= 20000 and d["language"] == "en" for d in docs)
    assert [d["metadata"]["part"] for d in docs] == list(range(1, len(docs) + 1))


def test_mistakes_are_one_line(crawled: Any, tmp_path: Path) -> None:
    tmp, _, _, _, env = crawled
    result = run_scrapy(["kb-explain", "nosuchsite", "https://x.org/"], tmp, env=env)
    assert result.returncode == 2 and "no site named 'nosuchsite'" in result.stderr
    assert "Traceback" not in result.stderr
    result = run_scrapy(["kb-explain", "books", "not-a-url"], tmp, env=env)
    assert result.returncode == 2 and "is not an http(s) URL" in result.stderr


def test_the_runs_per_url_records_are_shown(crawled: Any) -> None:
    result = explain(crawled, "/en/thin.html")
    assert re.search(
        r"run \d{8}T\d{6}Z: not delivered: thin - main text shorter than min_chars", result.stdout
    ), result.stdout
    data = json.loads(explain(crawled, "/private/internal-notes.html", "--json").stdout)
    assert [r["reason"] for r in data["history"]["runs"]] == ["robots"]


ROBOTS_CASES = {
    "": "thin",
    "a.html": "thin",  # X-Robots-Tag for images only
    "b.html": "thin",  # X-Robots-Tag for another bot
    "c.html": "noindex",  # X-Robots-Tag: noindex
    "d.html": "noindex",  # X-Robots-Tag: kbcrawler: noindex
    "e.html": "noindex",  # <meta name="kbcrawler" content="noindex">
    "f.html": "thin",  # meta tags for another bot and for snippets
}


def test_kb_explain_and_the_crawl_give_the_same_reason(tmp_path: Path) -> None:
    """One rule decides (crawler/extract/skip.py), with the same options: the site file's
    content_selector (here each page's <h1> only, so every page is thin) counts in kb-explain
    too, and a noindex page is noindex whether its header or its meta says so."""
    with running_website(tmp_path) as site:
        base = site.url + "/cases/robots-tags/"
        config = write_site(
            tmp_path, "agree", start_urls=[base], allow=["/cases/robots-tags/"],
            content_selector="h1",
        )  # fmt: skip
        env = crawl_env(tmp_path)
        result = crawl_site(config, tmp_path, env=env)
        assert "Traceback" not in result.stderr, result.stderr[-3000:]
        (report,) = result.reports("agree")
        crawl = {
            r["url"].removeprefix(base): r["reason"]
            for r in read_url_records(report["url_records"])
        }
        assert {page: crawl.get(page) for page in ROBOTS_CASES} == ROBOTS_CASES
        for page, reason in ROBOTS_CASES.items():
            args = ["kb-explain", "site", "-a", f"config={config}", base + page, "--json"]
            data = json.loads(run_scrapy(args, tmp_path, env=env).stdout)
            rule = "noindex" if reason == "noindex" else "thin or empty"
            assert data["delivered"] is False and data["reason"].startswith(rule), (page, data)
