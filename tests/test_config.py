"""Site files: one clear line per mistake, before any request; `scrapy list` / `crawl`."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.config import ConfigError, load_site_file, packaged_site_files
from tests.crawl_runner import run_scrapy

GOOD = "start_urls: [https://docs.example.com/]\n"


def _load(tmp_path: Path, text: str) -> None:
    path = tmp_path / "docs.yaml"
    path.write_text(text, encoding="utf-8")
    load_site_file(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            GOOD + "follow_link: true\n",
            "docs.yaml: follow_link: unknown key (did you mean follow_links?)",
        ),
        (GOOD + "max_depth: deep\n", "docs.yaml: max_depth: must be a whole number (got 'deep')"),
        (GOOD + "allow: ['([a-z']\n", "docs.yaml: allow: invalid regex '([a-z'"),
        ("name: docs\n", "docs.yaml: give start_urls or sitemap_urls (or both)"),
        ("start_urls: [docs.example.com]\n", "start_urls: 'docs.example.com' is not an absolute"),
        (
            "start_urls: [ftp://x.org/]\n",
            "start_urls: 'ftp://x.org/' is not an absolute http(s) URL",
        ),
        (GOOD + "language: english\n", "language: 'english' is neither 'auto' nor an ISO 639-1"),
        (
            GOOD + "metadata: {tags: [a, b]}\n",
            "metadata.tags: must be a single value (text, number, true/false or empty), not a list",
        ),
        (GOOD + "max_document_chars: 50\n", "max_document_chars: must be at least 1000 (got 50)"),
        (GOOD + "follow_links: maybe\n", "follow_links: must be true or false (got 'maybe')"),
        (GOOD + "allowed_domains: ['https://x.org/']\n", "is not a host name"),
        (
            "start_urls: [https://a.org/\n",
            "docs.yaml: not valid YAML at line 2, column 1: expected ',' or ']', but got "
            "'<stream end>', while parsing a flow sequence started at line 1, column 13",
        ),
        ("- just\n- a list\n", "must be a mapping of keys"),
    ],
)
def test_mistakes_give_one_line_naming_file_and_key(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, text)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_defaults_and_derived_values(tmp_path: Path) -> None:
    path = tmp_path / "docs.yaml"
    path.write_text(GOOD + "sitemap_urls: [https://cdn.example.com/sitemap.xml]\n")
    site = load_site_file(path)
    assert site.name == "docs"
    assert site.domains == ["cdn.example.com", "docs.example.com"]
    assert site.follow_links and site.max_document_chars is None  # KB_MAX_DOCUMENT_CHARS decides
    assert site.with_settings(None).max_document_chars == 20000
    assert site.forced_language is None


def test_packaged_example_site_is_listed() -> None:
    assert "books" in packaged_site_files()


def test_scrapy_list_shows_site_files(tmp_path: Path) -> None:
    result = run_scrapy(["list"], tmp_path)
    assert result.returncode == 0
    assert "books" in result.stdout.split() and "site" in result.stdout.split()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["crawl", "site"], "the 'site' spider needs a site file"),
        (["crawl", "site", "-a", "config=/nonexistent.yaml"], "cannot read site file"),
        (["crawl", "nosuchsite"], "no site named 'nosuchsite'"),
        (
            ["crawl", "books", "-s", "KB_EXTRACT_START_METHOD=threads"],
            "kbcrawler: bad setting: KB_EXTRACT_START_METHOD is 'threads'; "
            "use one of: spawn, forkserver, fork",
        ),
    ],
)
def test_crawl_refuses_bad_input_with_one_line(
    tmp_path: Path, args: list[str], message: str
) -> None:
    result = run_scrapy(args, tmp_path)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_site_file_exits_before_any_request(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("start_urls: [http://127.0.0.1:9/]\nmax_pages: -3\n")
    result = run_scrapy(["crawl", "site", "-a", f"config={path}"], tmp_path)
    assert result.returncode == 2
    line = f"kbcrawler: bad site file: {path}: max_pages: must be at least 1 (got -3)"
    assert result.stderr.count("kbcrawler: bad site file") == 1 and line in result.stderr
    assert "Spider opened" not in result.stderr and "Traceback" not in result.stderr


def test_every_problem_is_listed_in_plain_words(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, GOOD + "max_depth: deep\nmax_pages: -3\nfollow_link: true\n")
    message = str(err.value)
    assert "\n" not in message and "more problem" not in message
    for part in ("max_depth: must be a whole number", "max_pages: must be at least 1",
                 "follow_link: unknown key"):  # fmt: skip
        assert part in message
    assert "Input should" not in message and "validation error" not in message


def test_a_single_value_where_a_list_is_expected_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "one.yaml"
    path.write_text(
        "start_urls: https://docs.example.com/\nallowed_domains: docs.example.com\n"
        "deny: /changelog/\nsitemap_urls: https://docs.example.com/sitemap.xml\n"
    )
    site = load_site_file(path)
    assert site.start_urls == ["https://docs.example.com/"]
    assert site.sitemap_urls == ["https://docs.example.com/sitemap.xml"]
    assert site.allowed_domains == ["docs.example.com"] and site.deny == ["/changelog/"]


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("KB_MAX_BATCH_DOCS", "abc", "expected a whole number from 1 to 100"),
        ("KB_EXTRACT_WORKERS", "-1", "expected a whole number of at least 0"),
        ("KB_FLUSH_SECONDS", "soon", "expected a number of at least 0.01"),
        ("KB_FULL_SYNC", "perhaps", "expected true or false"),
        ("KB_MAX_PAGES", "0", "expected a whole number of at least 1"),
        ("KB_MAX_DEPTH", "-1", "expected a whole number of at least 0"),
    ],
)
def test_a_bad_setting_is_one_line_and_exit_2(
    tmp_path: Path, name: str, value: str, message: str
) -> None:
    result = run_scrapy(["crawl", "books"], tmp_path, settings={name: value})
    assert result.returncode == 2, result.stderr[-2000:]
    assert f"kbcrawler: bad setting: {name}={value}: {message}" in result.stderr
    assert "Traceback" not in result.stderr and "Spider opened" not in result.stderr


def test_unknown_kb_settings_are_warned_about(tmp_path: Path) -> None:
    result = run_scrapy(
        ["kb-check", "books", "-s", "KB_MAX_BACH_DOCS=3", "-s", "KB_API_TOKEN=secret-value"],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert (
        "kbcrawler: warning: unknown setting KB_MAX_BACH_DOCS (did you mean KB_MAX_BATCH_DOCS?)"
        in result.stderr
    )
    assert "KB_API_TOKEN is not a setting: set it in the environment" in result.stderr
    assert "secret-value" not in result.stderr + result.stdout
