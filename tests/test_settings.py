"""Every ``KB_*`` setting is real: one source of defaults (settings/__init__.py), and the
settings that back site-file keys change a real crawl; a site file's own key wins.

The crawls run the real ``scrapy crawl`` against the local test website (one server for
the module), with the setting given as ``-s`` and the key left out of the site file. Each
site file's ``allow`` keeps its crawl to the few pages it is about (the site's sitemaps,
found through robots.txt, list many more).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from scrapy.crawler import Crawler
from scrapy.settings import Settings
from scrapy.utils.test import get_crawler

import settings as project_settings
from crawler.config import SETTING_OF_KEY, SettingError, parse_site_config
from crawler.options import ExtractOptions, site_options
from crawler.settings_check import check_kb_settings, kb_defaults
from crawler.spiders.site import SiteSpider
from tests.crawl_runner import REPO_ROOT, crawl_site, run_scrapy, write_site
from tests.servers import site_expectations as X
from tests.servers.website import running_website

GOOD = "start_urls: [https://docs.example.com/]\n"
LINKS = [r"/many-links\.html", r"/link-target/"]
THIN_PAGE = X.LINK_TARGET.format(i=1)  # one short paragraph (about 300 characters of text)
FULL_PAGE = "/en/guide.html"  # a long guide (several thousand characters)


@pytest.fixture(scope="module")
def website(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with running_website(tmp_path_factory.mktemp("website")) as site:
        yield site


# -- one source of defaults --------------------------------------------------------------------
@pytest.mark.parametrize(("key", "setting"), sorted(SETTING_OF_KEY.items()))
def test_a_key_left_out_takes_its_setting_and_a_key_given_wins(key: str, setting: str) -> None:
    plain = parse_site_config(GOOD, "d.yaml", "d")
    assert getattr(plain, key) is None  # the site model holds no default of its own
    project = getattr(project_settings, setting)
    assert getattr(plain.with_settings(None), key) == project
    assert getattr(plain.with_settings(Settings()), key) == project  # no KB_* at all
    run = Settings({setting: str(project + 1000)}, priority="cmdline")
    assert getattr(plain.with_settings(run), key) == project + 1000
    given = parse_site_config(GOOD + f"{key}: {project + 7}\n", "d.yaml", "d")
    assert getattr(given.with_settings(run), key) == project + 7  # the site file wins


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("KB_MAX_PAGES", "0", "KB_MAX_PAGES=0: expected a whole number of at least 1"),
        ("KB_MAX_DOCUMENT_CHARS", "50", "expected a whole number of at least 1000"),
        ("KB_MAX_DEPTH", "deep", "KB_MAX_DEPTH=deep: expected a whole number of at least 0"),
        ("KB_MIN_CHARS", "-1", "KB_MIN_CHARS=-1: expected a whole number of at least 0"),
    ],
)
def test_a_bad_setting_behind_a_key_is_one_line(setting: str, value: str, message: str) -> None:
    plain = parse_site_config(GOOD, "d.yaml", "d")
    with pytest.raises(SettingError) as err:
        plain.with_settings({setting: value})
    assert message in str(err.value) and "\n" not in str(err.value)


def test_the_spider_takes_the_crawl_settings_for_keys_its_site_file_leaves_out(
    tmp_path: Path,
) -> None:
    """``from_crawler`` (every crawl, scrapyd job and ``scrapy parse``) decides the values."""
    config = write_site(tmp_path, "docs", start_urls=["https://docs.example.com/"], max_depth=3)
    crawler = get_crawler(SiteSpider, {**kb_defaults(), "KB_MAX_PAGES": "7", "KB_MIN_CHARS": 50})
    spider = SiteSpider.from_crawler(crawler, config=str(config))
    try:
        assert (spider.site.max_pages, spider.site.max_depth) == (7, 3)
        assert spider.options.min_chars == 50  # the extraction workers get it
        assert spider.site.max_document_chars == project_settings.KB_MAX_DOCUMENT_CHARS
    finally:
        spider.pool.close()


def test_the_site_files_delay_and_user_agent_win_over_the_command_line(tmp_path: Path) -> None:
    """``download_delay`` and ``user_agent`` given in the site file win over ``-s`` (a scrapyd
    job's ``setting=``), as every site key wins over its setting; left out, ``-s`` stands."""
    (tmp_path / "given").mkdir()
    (tmp_path / "left").mkdir()
    given = write_site(
        tmp_path / "given", "docs", start_urls=["https://docs.example.com/"],
        download_delay=0.5, user_agent="site-agent/1",
    )  # fmt: skip
    left_out = write_site(tmp_path / "left", "docs", start_urls=["https://docs.example.com/"])
    for config, expected in ((given, (0.5, "site-agent/1")), (left_out, (2.0, "cmdline/1"))):
        settings = Settings(kb_defaults(), priority="project")
        settings.set("DOWNLOAD_DELAY", 2.0, priority="cmdline")
        settings.set("USER_AGENT", "cmdline/1", priority="cmdline")
        crawler = Crawler(SiteSpider, settings)  # not yet frozen, as in `scrapy crawl`
        spider = SiteSpider.from_crawler(crawler, config=str(config))
        try:
            assert (
                crawler.settings.getfloat("DOWNLOAD_DELAY"),
                crawler.settings.get("USER_AGENT"),
            ) == expected
        finally:
            spider.pool.close()


def test_progress_seconds_zero_is_accepted() -> None:
    """``KB_PROGRESS_SECONDS=0`` turns progress off, as documented (it was refused)."""
    assert check_kb_settings(Settings({"KB_PROGRESS_SECONDS": "0"})) == ([], [])


def test_extraction_option_defaults_are_the_settings() -> None:
    """The extraction workers cannot read settings/__init__.py, so ExtractOptions has no
    copy of KB_MIN_CHARS or KB_LANG_SAMPLE_CHARS: the crawl's options carry the settings."""
    with pytest.raises(TypeError):
        ExtractOptions()  # type: ignore[call-arg]
    site = parse_site_config(GOOD, "d.yaml", "d").with_settings(None)
    options = site_options(site, Settings(kb_defaults()))
    assert options.min_chars == project_settings.KB_MIN_CHARS
    assert options.lang_sample_chars == project_settings.KB_LANG_SAMPLE_CHARS
    run = Settings({**kb_defaults(), "KB_LANG_SAMPLE_CHARS": 1234})
    assert site_options(site, run).lang_sample_chars == 1234


def test_every_kb_setting_is_read_by_the_code() -> None:
    """A ``KB_*`` name declared in settings/__init__.py but read nowhere would do nothing."""
    sources = [
        path.read_text(encoding="utf-8")
        for folder in ("crawler", "pipelines")
        for path in (REPO_ROOT / folder).rglob("*.py")
        if path.name != "settings_check.py"  # its bounds table names settings, reads none
    ]
    unread = [name for name in kb_defaults() if not any(f'"{name}"' in s for s in sources)]
    assert not unread


# -- each setting changes a real crawl --------------------------------------------------------
def _records(tmp_path: Path, site: str) -> list[str]:
    return [
        line
        for path in (tmp_path / "state" / site / "runs").glob("*.urls.jsonl")
        for line in path.read_text(encoding="utf-8").splitlines()
    ]


def test_kb_max_pages_caps_the_crawl(website: Any, tmp_path: Path) -> None:
    start = website.url + X.MANY_LINKS.format(n=12)  # 13 pages
    config = write_site(tmp_path, "paged", start_urls=[start], allow=LINKS)
    result = crawl_site(config, tmp_path, settings={"KB_MAX_PAGES": 3})
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stat("extract/pages") == 3
    assert "max_pages (3) reached" in result.stderr
    assert len(result.documents("paged")) <= 3


def test_a_site_key_wins_over_the_setting(website: Any, tmp_path: Path) -> None:
    start = website.url + X.MANY_LINKS.format(n=12)
    config = write_site(tmp_path, "own", start_urls=[start], allow=LINKS, max_pages=5)
    result = crawl_site(config, tmp_path, settings={"KB_MAX_PAGES": 2})
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stat("extract/pages") == 5


@pytest.mark.parametrize(("depth", "pages"), [(0, 1), (2, 5)])
def test_kb_max_depth_limits_link_depth(
    website: Any, tmp_path: Path, depth: int, pages: int
) -> None:
    """The calendar links each month to the previous and next one, without end: depth d
    reaches 2d+1 months (the default, 5, would reach 11)."""
    config = write_site(
        tmp_path, "deep", start_urls=[website.url + X.CALENDAR_START], allow=["/calendar/"]
    )
    result = crawl_site(config, tmp_path, settings={"KB_MAX_DEPTH": depth})
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stat("extract/pages") == pages
    beyond = [r for r in _records(tmp_path, "deep") if '"reason": "depth"' in r]
    assert len(beyond) == 2  # the two months just beyond
    assert all(f'"depth": {depth + 1},' in r for r in beyond)


def test_kb_min_chars_makes_a_page_thin(website: Any, tmp_path: Path) -> None:
    """Both pages are delivered at the default (200): 1,000 makes the short one thin."""
    config = write_site(
        tmp_path, "thin", follow_links=False,
        start_urls=[website.url + THIN_PAGE, website.url + FULL_PAGE],
        allow=[re.escape(THIN_PAGE), re.escape(FULL_PAGE)],
    )  # fmt: skip
    result = crawl_site(config, tmp_path, settings={"KB_MIN_CHARS": 1000})
    assert result.returncode == 0, result.stderr[-2000:]
    urls = {d["url"] for d in result.documents("thin")}
    assert urls == {website.url + FULL_PAGE}
    assert result.stat("skipped/thin") == 1
    assert any(THIN_PAGE in r and '"thin"' in r for r in _records(tmp_path, "thin"))


def test_kb_max_document_chars_sets_the_split_size(website: Any, tmp_path: Path) -> None:
    start = website.url + X.BIG_PAGE.format(kb=40)
    config = write_site(tmp_path, "split", start_urls=[start], allow=[r"/big\.html"])
    result = crawl_site(config, tmp_path, settings={"KB_MAX_DOCUMENT_CHARS": 3000})
    assert result.returncode == 0, result.stderr[-2000:]
    docs = result.documents("split")
    sizes = [len(d["content"]) for d in docs]
    # 40 KB of HTML holds well over 20,000 characters of text: at the default it would be
    # two parts; at 3,000 it is many, each close to the limit.
    assert sum(sizes) > 20_000
    assert max(sizes) <= 3000 and len(docs) >= sum(sizes) // 3000
    assert {d["metadata"]["parts"] for d in docs} == {len(docs)}


def test_kb_explain_sees_the_setting_as_the_crawl_does(website: Any, tmp_path: Path) -> None:
    """The operator commands read the site before any crawler exists: same effective values."""
    config = write_site(tmp_path, "explained", start_urls=[website.url + FULL_PAGE])
    args = ["kb-explain", "site", "-a", f"config={config}", website.url + FULL_PAGE]
    result = run_scrapy(args, tmp_path, settings={"KB_MIN_CHARS": 100_000})
    assert result.returncode == 0, result.stderr[-2000:]
    assert "shorter than min_chars (100000)" in result.stdout
    bad = run_scrapy(args, tmp_path, settings={"KB_MAX_PAGES": 0})
    assert bad.returncode == 2
    assert "kbcrawler: bad setting: KB_MAX_PAGES=0: expected a whole number" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_kb_check_live_caps_its_estimate_by_the_setting_unless_the_site_gives_it(
    website: Any, tmp_path: Path
) -> None:
    sitemap = [website.url + X.SITEMAP_PAGES]
    plain = write_site(tmp_path, "plain", sitemap_urls=sitemap, follow_links=False)
    own = write_site(tmp_path, "own", sitemap_urls=sitemap, follow_links=False, max_pages=5)
    for config, pages in ((plain, 3), (own, 5)):
        result = run_scrapy(
            ["kb-check", "--live", "site", "-a", f"config={config}"], tmp_path,
            settings={"KB_MAX_PAGES": 3},
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-2000:]
        assert f"estimate of a full run: {pages} pages (max_pages)" in result.stdout


@pytest.mark.parametrize("setting", ["KB_STATE_DIR", "KB_OUTBOX"])
def test_a_state_dir_or_outbox_that_cannot_be_written_is_one_line(
    website: Any, tmp_path: Path, setting: str
) -> None:
    """Before: an unwritable KB_STATE_DIR ended in tracebacks and exit status 1, an
    unwritable KB_OUTBOX in a traceback per page, every document lost, and exit status 0."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    config = write_site(tmp_path, "nowrite", start_urls=[website.url + FULL_PAGE])
    website.reset_log()
    result = crawl_site(config, tmp_path, settings={setting: blocker / "kb"})
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last == f"kbcrawler: bad setting: {setting}={blocker / 'kb'}: {blocker} is not a folder"
    assert website.requests() == []
