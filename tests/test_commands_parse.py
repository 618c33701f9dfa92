"""``scrapy parse`` on a site: no extra flags, and ``-O`` writes the documents as posted."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from crawler.commands.parse import site_for_url
from tests.crawl_runner import REPO_ROOT, crawl_env, crawl_site, write_site
from tests.servers.website import running_website

KEYS = {"title", "content", "url", "metadata"}


def project_with_site(tmp_path: Path, base: str) -> Path:
    """A copy of the project whose settings/sites/ has ``local.yaml`` for the test website."""
    project = tmp_path / "project"
    shutil.copytree(REPO_ROOT / "settings", project / "settings")
    shutil.copy(REPO_ROOT / "scrapy.cfg", project / "scrapy.cfg")
    site = {"start_urls": [base + "/"], "allow": [r"/big\.html"], "max_document_chars": 20000}
    (project / "settings" / "sites" / "local.yaml").write_text(yaml.safe_dump(site))
    return project


def parse(project: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "scrapy", "parse", *args, "-s", "KB_EXTRACT_WORKERS=1"]
    env = {**env, "PYTHONPATH": f"{project}:{REPO_ROOT}"}
    return subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True, timeout=240)


def without_time(doc: dict[str, Any]) -> dict[str, Any]:
    return {**doc, "metadata": {k: v for k, v in doc["metadata"].items() if k != "crawled_at"}}


def test_the_site_of_a_url_is_chosen_by_the_crawls_host_rule() -> None:
    """``scrapy parse URL`` picks the packaged site whose spider would crawl URL: Scrapy's
    OffsiteMiddleware decides, as in the crawl (a host with a trailing dot is not matched)."""
    assert site_for_url("https://books.toscrape.com/catalogue/") == "books"
    assert site_for_url("https://www.books.toscrape.com/") == "books"  # a subdomain
    assert site_for_url("https://toscrape.com/") is None
    assert site_for_url("https://books.toscrape.com./catalogue/") is None
    assert site_for_url("mailto:books@toscrape.com") is None


def test_parse_prints_and_writes_the_documents_a_crawl_posts(tmp_path: Path) -> None:
    env = crawl_env(tmp_path)
    with running_website(tmp_path) as site:
        url = site.url + "/big.html?kb=50"
        project = project_with_site(tmp_path, site.url)
        out = tmp_path / "documents.jsonl"
        named = parse(project, env, "--spider", "local", url, "-O", str(out))
        found = parse(project, env, url)  # no --spider: the site whose domain holds the URL
        config = write_site(
            tmp_path, "local", start_urls=[url], allow=[r"/big\.html"], follow_links=False
        )
        crawl = crawl_site(config, tmp_path, env=env)
    assert named.returncode == 0, named.stderr[-3000:]
    assert "Cannot find callback" not in named.stderr and "Traceback" not in named.stderr
    assert "Deprecat" not in named.stderr + found.stderr  # no "returned a Deferred" warning
    assert "# Scraped Items" in named.stdout and "Large Reference Page (50 KB)" in named.stdout
    assert found.returncode == 0 and "Large Reference Page (50 KB)" in found.stdout
    written = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(written) >= 2 and all(set(d) == KEYS for d in written)
    assert [d["metadata"]["part"] for d in written] == list(range(1, len(written) + 1))
    assert crawl.returncode == 0, crawl.stderr[-3000:]
    posted = crawl.documents("local")
    assert [without_time(d) for d in written] == [without_time(d) for d in posted]
    # parse never touches the sync state or the outbox: the crawl's run is the only one.
    assert len(crawl.reports("local")) == 1
    assert len(list((tmp_path / "outbox" / "local").glob("*.jsonl"))) == 1


def test_parse_takes_the_settings_a_crawl_takes_and_says_a_bad_one_in_one_line(
    tmp_path: Path,
) -> None:
    """``-s KB_MAX_DOCUMENT_CHARS`` splits as the crawl would; a bad value was a traceback
    (the spider's from_crawler raising SettingError) and exit status 1."""
    env = crawl_env(tmp_path)
    with running_website(tmp_path) as site:
        url = site.url + "/big.html?kb=50"
        config = write_site(tmp_path, "local", start_urls=[url], allow=[r"/big\.html"])
        args = ["--spider", "site", "-a", f"config={config}", url]
        small = parse(REPO_ROOT, env, *args, "-s", "KB_MAX_DOCUMENT_CHARS=5000")
        bad = parse(REPO_ROOT, env, *args, "-s", "KB_MAX_DOCUMENT_CHARS=abc")
        requests = site.requests()
    assert small.returncode == 0, small.stderr[-3000:]
    assert "(1/" in small.stdout and "(10/" in small.stdout  # about 50 KB in 5000-char parts
    assert bad.returncode == 2, bad.stderr[-3000:]
    assert "Traceback" not in bad.stderr
    assert bad.stderr.strip().splitlines()[-1] == (
        "kbcrawler: bad setting: KB_MAX_DOCUMENT_CHARS=abc: expected a whole number of at "
        "least 1000"
    )
    assert len([r for r in requests if r["path"].startswith("/big.html")]) == 1  # small's
