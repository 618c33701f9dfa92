"""JavaScript rendering (``render_js``): the app-shell check, and real crawls with the system's
Chromium through scrapy-playwright against the test website's /cases/js/ pages.

The browser tests need Chromium at ``KB_BROWSER_PATH``'s default (Debian's ``chromium``,
installed by ``.ci/run``); without it they are skipped with that reason. The tests of
``render_js: never`` and of a missing browser need none and always run.
"""

from __future__ import annotations

import glob
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from crawler.appshell import app_shell_reason
from crawler.config import ConfigError, parse_site_config
from crawler.extract.result import ExtractedPage, PageResult
from crawler.render import RenderPolicy, is_document_url, playwright_version, render_prefix
from crawler.runrecords import read_url_records
from settings import KB_BROWSER_PATH
from tests.crawl_runner import (
    REPO_ROOT,
    CrawlResult,
    crawl_env,
    crawl_site,
    run_scrapy,
    write_site,
)
from tests.servers.website import JS_TEXT, running_website

# In CI (.ci/run installs Chromium) a missing browser fails the tests instead.
needs_chromium = pytest.mark.skipif(
    not os.access(KB_BROWSER_PATH, os.X_OK) and not os.environ.get("CI"),
    reason=f"no Chromium at {KB_BROWSER_PATH} (apt-get install chromium; .ci/run installs it)",
)
RENDERED = "exists only once the page's script has run in a browser"
assert RENDERED in JS_TEXT


# -- the app-shell check (pure) -----------------------------------------------------------
@pytest.mark.parametrize(
    ("html", "reason"),
    [
        # create-react-app: empty #root and a <noscript> asking for JavaScript
        (
            '<html><head><script src="/main.js"></script></head><body><noscript>You need to '
            'enable JavaScript to run this app.</noscript><div id="root"></div></body></html>',
            "mount_point",
        ),
        # Next.js / Nuxt mount points holding only a loading placeholder
        ('<body><div id="__next"><div class="spinner">Loading…</div></div></body>', "mount_point"),
        ('<body><div id="__nuxt"></div><script src="/a.js"></script></body>', "mount_point"),
        ("<body><app-root></app-root><script src=main.js></script></body>", "mount_point"),
        # no mount id, but the <noscript> says the page needs JavaScript
        (
            '<body><div class="shell"></div><noscript>Please enable JavaScript.</noscript></body>',
            "noscript",
        ),
        # scripts and no content element with text
        ('<body><div class="p"><span>Hi</span></div><script>go()</script></body>', "scripts_only"),
        # an XML declaration (lxml refuses it in a str): still checked
        ('<?xml version="1.0" encoding="utf-8"?><html><body><div id="app"></div></body></html>',
         "mount_point"),
    ],
)  # fmt: skip
def test_app_shells_are_recognized(html: str, reason: str) -> None:
    assert app_shell_reason(html) == reason


@pytest.mark.parametrize(
    "html",
    [
        # a thin static page with analytics and a tracking pixel in <noscript>
        "<body><script>ga()</script><noscript><img src=/p.gif></noscript>"
        "<main><h1>Contact</h1><p>Write to us.</p></main></body>",
        # a server-rendered Next.js page: the mount point holds the text
        '<body><div id="__next"><main><h1>Docs</h1><p>'
        + "Rendered on the server with plenty of text. " * 3
        + '</p></main></div><script src="/_next/app.js"></script></body>',
        # no scripts at all
        "<body><div>tiny</div></body>",
        "",
        "<!-- only a comment -->",
    ],
)
def test_static_pages_are_not_shells(html: str) -> None:
    assert app_shell_reason(html) is None


def test_app_shell_check_is_cheap() -> None:
    """A thin page with 300 kB of inline script: well under the cost of extracting it."""
    html = (
        '<html><body><div id="root"></div><script>'
        + "var x = 1;" * 30_000
        + "</script><p>Footer</p></body></html>"
    )
    app_shell_reason(html)
    start = time.process_time()  # this process's CPU time: other load on the machine is not ours
    for _ in range(20):
        assert app_shell_reason(html) == "mount_point"
    assert (time.process_time() - start) / 20 < 0.02  # seconds per page


def test_render_prefix_and_documents() -> None:
    assert render_prefix("https://h.example/app/users/42") == "https://h.example/app/users/"
    assert render_prefix("https://h.example/app/") == "https://h.example/app/"
    assert render_prefix("https://h.example") == "https://h.example/"
    assert is_document_url("https://h.example/files/Manual.PDF")
    assert is_document_url("https://h.example/a/report.docx?download=1")
    assert not is_document_url("https://h.example/pdf/guide.html")


def _policy(mode: str) -> RenderPolicy:
    from scrapy.utils.test import get_crawler

    site = parse_site_config(f"start_urls: [https://a.example/]\nrender_js: {mode}\n", "s", "s")
    return RenderPolicy(site, 5.0, get_crawler())


def extracted(skip_reason: str | None, app_shell: str | None = None) -> PageResult:
    """A worker's result for a page with this skip reason and application-shell verdict."""
    page = ExtractedPage("https://a.example/x", skip_reason=skip_reason)
    return PageResult(page, app_shell=app_shell)


def test_render_policy_decisions() -> None:
    always = _policy("always")
    assert always.request_meta("https://a.example/guide")["kb_render"] == "always"
    assert always.request_meta("https://a.example/guide")["playwright"] is True
    assert always.request_meta("https://a.example/files/a.pdf") == {}  # never the browser
    auto = _policy("auto")
    shell = extracted("thin", "mount_point")
    assert auto.request_meta("https://a.example/app/one") == {}  # plain HTTP first
    assert auto.after_extraction("https://a.example/app/one", shell, None) == "mount_point"
    assert auto.request_meta("https://a.example/app/two")["kb_render"] == "prefix"
    assert auto.request_meta("https://a.example/other/two") == {}
    # a rendered page still thin: that prefix goes back to plain HTTP, shells there included
    assert auto.after_extraction("https://a.example/app/two", extracted("thin"), "prefix") is None
    assert auto.request_meta("https://a.example/app/three") == {}
    assert auto.after_extraction("https://a.example/app/three", shell, None) is None
    # a page with enough text is never rendered, whatever its HTML looks like
    full = extracted(None)
    assert auto.after_extraction("https://a.example/b/page", full, None) is None
    assert auto.crawler.stats.get_value("render/auto/mount_point") == 1


def test_render_keys_are_validated() -> None:
    site = parse_site_config("start_urls: [https://a.example/]\n", "s.yaml", "s")
    assert (site.render_js, site.wait_for) == ("never", None)
    site = parse_site_config(
        "start_urls: [https://a.example/]\nrender_js: auto\nwait_for: '#app article'\n",
        "s.yaml",
        "s",
    )
    assert (site.render_js, site.wait_for) == ("auto", "#app article")
    # Rendering shapes the documents (a re-send); the default leaves existing sites' as they are.
    plain = parse_site_config("start_urls: [https://a.example/]\n", "s.yaml", "s")
    assert "render" not in plain.document_signature()
    assert site.document_signature()["render"] == ["auto", "#app article"]
    with pytest.raises(ConfigError, match=r"render_js: must be one of 'never', 'auto' or 'always'"):
        parse_site_config("start_urls: [https://a.example/]\nrender_js: yes\n", "s.yaml", "s")
    with pytest.raises(ConfigError, match=r"wait_for: invalid CSS selector 'div\['"):
        parse_site_config("start_urls: [https://a.example/]\nwait_for: 'div['\n", "s.yaml", "s")
    with pytest.raises(ConfigError, match=r"wait_for: only used with render_js: auto or always"):
        parse_site_config("start_urls: [https://a.example/]\nwait_for: main\n", "s.yaml", "s")


# -- crawls -------------------------------------------------------------------------------
def _browsers(mark: str) -> dict[int, bytes]:
    """Browser and Playwright driver processes started under the test's environment ``mark``:
    {pid: command line}."""
    found = {}
    for folder in glob.glob("/proc/[0-9]*"):
        try:
            with open(f"{folder}/environ", "rb") as env, open(f"{folder}/cmdline", "rb") as cmd:
                command = cmd.read()
                if f"RENDER_TEST_MARK={mark}".encode() in env.read() and (
                    b"chrom" in command or b"playwright" in command
                ):
                    found[int(folder.rsplit("/", 1)[1])] = command
        except OSError:  # gone meanwhile, or not ours
            continue
    return found


def _until(check: Any, timeout: float) -> Any:
    """Polls ``check()`` until it is truthy or ``timeout`` seconds passed; its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def _crawl(tmp: Path, name: str, mark: str, settings: Any = None, **keys: Any) -> CrawlResult:
    keys.setdefault("allow", ["/cases/js/"])  # the rest of the site (robots.txt's sitemaps)
    config = write_site(tmp, name, **keys)
    env = crawl_env(tmp, RENDER_TEST_MARK=mark)
    return crawl_site(config, tmp, env=env, settings=settings)


def _records(result: CrawlResult, site: str, base: str) -> dict[str, dict[str, Any]]:
    (report,) = result.reports(site)
    return {r["url"].removeprefix(base): r for r in read_url_records(report["url_records"])}


@pytest.fixture(scope="module")
def website(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with running_website(tmp_path_factory.mktemp("js-website")) as site:
        yield site


@needs_chromium
def test_auto_renders_app_shells_and_nothing_else(website: Any, tmp_path: Path) -> None:
    website.reset_log()
    mark = uuid.uuid4().hex
    result = _crawl(
        tmp_path, "jsauto", mark, start_urls=[website.url + "/cases/js/"], render_js="auto"
    )
    assert result.returncode == 0, result.log[-3000:]
    docs = {d["url"].removeprefix(website.url): d for d in result.documents("jsauto")}
    assert set(docs) == {"/cases/js/", "/cases/js/app/", "/cases/js/app/settings",
                         "/cases/js/inline.html"}  # fmt: skip
    for path in ("/cases/js/app/", "/cases/js/app/settings", "/cases/js/inline.html"):
        assert RENDERED in docs[path]["content"], path  # the text the scripts wrote
    assert "fetched this text from its own server" in docs["/cases/js/app/"]["content"]
    records = _records(result, "jsauto", website.url)
    assert records["/cases/js/contact.html"]["reason"] == "thin"  # static: not rendered
    assert result.stat("render/pages") == 3
    assert result.stat("render/auto/mount_point") == 1  # /cases/js/app/
    assert result.stat("render/auto/prefix") == 1  # /cases/js/app/settings, straight away
    assert result.stat("render/auto/scripts_only") == 1  # /cases/js/inline.html
    assert result.stat("render/auto/noscript") is None
    (report,) = result.reports("jsauto")
    browser = subprocess.run(
        [KB_BROWSER_PATH, "--version"], capture_output=True, text=True, check=True
    ).stdout
    version = re.search(r"\d+\.\d+\.\d+\.\d+", browser)
    assert version is not None
    assert report["render"]["browser"] == f"chromium {version.group(0)}"
    assert report["render"]["playwright"] == playwright_version()
    # Plain HTTP first, the browser only for the shells; images never loaded.
    paths = website.requested_paths()
    assert paths.count("/cases/js/") == 1
    assert paths.count("/cases/js/contact.html") == 1
    assert paths.count("/cases/js/app/") == 2  # static, then rendered
    assert paths.count("/cases/js/app/settings") == 1  # rendered straight away (prefix)
    assert "/cases/js/app/content.html" in paths  # the application's own API call
    assert "/img/logo.png" not in paths
    assert _until(lambda: not _browsers(mark), 10) is True  # closed with the crawl


def test_never_installs_no_browser(website: Any, tmp_path: Path) -> None:
    """The default: Scrapy's own download handlers, no Playwright, app shells stay thin."""
    website.reset_log()
    result = _crawl(tmp_path, "jsnever", "never", start_urls=[website.url + "/cases/js/"])
    assert result.returncode == 0, result.log[-3000:]
    docs = {d["url"].removeprefix(website.url) for d in result.documents("jsnever")}
    assert docs == {"/cases/js/"}
    records = _records(result, "jsnever", website.url)
    for path in ("/cases/js/app/", "/cases/js/inline.html", "/cases/js/contact.html"):
        assert records[path]["reason"] in ("thin", "empty"), path
    assert "scrapy-playwright" not in result.log
    assert "playwright" not in result.log.lower().split("dumping scrapy stats")[-1]
    assert result.stat("render/pages") is None
    assert "/cases/js/app/content.html" not in website.requested_paths()
    assert "render" not in result.reports("jsnever")[0]


@needs_chromium
def test_always_waits_for_selector_and_records_failures(website: Any, tmp_path: Path) -> None:
    website.reset_log()
    base = website.url
    result = _crawl(
        tmp_path, "jsalways", uuid.uuid4().hex,
        start_urls=[base + p for p in ("/cases/js/inline.html", "/cases/js/broken.html",
                                       "/files/manual.pdf")],
        allow=["/cases/js/", "/files/"], follow_links=False,
        render_js="always", wait_for="article",
        settings={"KB_RENDER_TIMEOUT": "3"},
    )  # fmt: skip
    assert result.returncode == 0, result.log[-3000:]
    (doc,) = result.documents("jsalways")
    assert doc["url"] == base + "/cases/js/inline.html"
    assert RENDERED in doc["content"]
    records = _records(result, "jsalways", base)
    broken = records["/cases/js/broken.html"]
    assert broken["reason"] == "render_failed"
    assert "wait_for_selector" in broken["detail"]
    assert "Timeout 3000ms" in broken["detail"]
    # A document is fetched over plain HTTP, never through the browser.
    assert records["/files/manual.pdf"] == {**records["/files/manual.pdf"], "reason": "not_html",
                                            "detail": "application/pdf"}  # fmt: skip
    assert result.stat("playwright/download_count") is None
    assert result.stat("render/pages") == 1
    assert result.stat("render/failed") == 1
    assert "Traceback" not in result.log


def test_missing_browser_is_one_line(website: Any, tmp_path: Path) -> None:
    config = write_site(tmp_path, "jsnobrowser", start_urls=[website.url + "/"], render_js="auto")
    result = crawl_site(config, tmp_path, settings={"KB_BROWSER_PATH": "/nonexistent/chromium"})
    assert result.returncode == 2
    assert "render_js: auto needs Chromium at /nonexistent/chromium (KB_BROWSER_PATH)" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr
    check = run_scrapy(
        ["kb-check", str(config)], tmp_path, settings={"KB_BROWSER_PATH": "/nonexistent/chromium"}
    )
    assert check.returncode == 2
    assert "render_js: auto needs Chromium at /nonexistent/chromium" in check.stderr


@needs_chromium
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "killed"])
def test_browser_closes_when_the_crawl_is_stopped(
    website: Any, tmp_path: Path, stop: signal.Signals
) -> None:
    """Stopped while a page renders (its API call is held by the server): no browser left."""
    mark = uuid.uuid4().hex
    config = write_site(
        tmp_path, "jshang", start_urls=[website.url + "/cases/js/hang.html"],
        allow=["/cases/js/"], render_js="always",
    )  # fmt: skip
    cmd = [sys.executable, "-m", "scrapy", "crawl", "site", "-a", f"config={config}"]
    with open(tmp_path / "crawl.log", "wb") as log:
        crawl = subprocess.Popen(
            [*cmd, "-s", "KB_EXTRACT_WORKERS=1", "-s", "AUTOTHROTTLE_ENABLED=False"],
            cwd=REPO_ROOT, env=crawl_env(tmp_path, RENDER_TEST_MARK=mark),
            stdout=subprocess.DEVNULL, stderr=log,
        )  # fmt: skip
    try:
        started = _until(lambda: [c for c in _browsers(mark).values() if b"chrom" in c], 60)
        assert started, "the browser never started"
        crawl.send_signal(stop)
        status = crawl.wait(60)
    finally:
        if crawl.poll() is None:
            crawl.kill()
            crawl.wait()
    text = (tmp_path / "crawl.log").read_text(errors="replace")
    if stop == signal.SIGINT:
        assert status == 7, text[-3000:]  # interrupted: the next run resumes
        assert "Closing browser" in text
    assert _until(lambda: not _browsers(mark), 15) is True, _browsers(mark)
