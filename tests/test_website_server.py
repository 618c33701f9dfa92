"""The local test website behaves as specified, so crawl tests never assert against rot."""

from __future__ import annotations

import gzip
import re
import time
from collections import deque
from collections.abc import Iterator
from email.utils import format_datetime, parsedate_to_datetime
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from tests.servers import site_expectations as E
from tests.servers.website import WebsiteError, WebsiteHandle, running_website

pytestmark = pytest.mark.timeout(60)


class _Links(HTMLParser):
    """Collects <a href>, <title> text and <meta name|property> values."""

    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.meta: dict[str, str] = {}
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "a" and "href" in a:
            self.hrefs.append(a["href"])
        elif tag == "meta" and ("name" in a or "property" in a):
            self.meta[a.get("name") or a["property"]] = a.get("content", "")
        elif tag == "link" and a.get("rel") == "canonical":
            self.meta["canonical"] = a.get("href", "")
        elif tag == "title":
            self._in_title = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data


def parse(text: str) -> _Links:
    parser = _Links()
    parser.feed(text)
    return parser


def squash(text: str) -> str:
    return " ".join(text.split())


def decode(path: str, raw: bytes) -> str:
    return raw.decode(E.CHARSET_CODECS.get(path, "utf-8"))


def article_text(page: str) -> str:
    """Visible text inside <article>, without the <h1>."""
    inner = page.split("<article>")[1].split("</article>")[0].split("</h1>", 1)[1]
    return squash(re.sub(r"<[^>]+>", " ", inner))


def sitemap_paths(xml: str, base: str) -> set[str]:
    return {loc.removeprefix(base) for loc in re.findall(r"<loc>([^<]+)</loc>", xml)}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebsiteHandle]:
    """Shared read-only server (tests here must not mutate it)."""
    with running_website(tmp_path_factory.mktemp("website")) as handle:
        yield handle


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[WebsiteHandle]:
    """A private server for tests that edit, remove or switch modes."""
    with running_website(tmp_path) as handle:
        yield handle


def client(handle: WebsiteHandle) -> httpx.Client:
    return httpx.Client(base_url=handle.url, trust_env=False, timeout=10)


def test_robots_txt(site: WebsiteHandle) -> None:
    r = client(site).get("/robots.txt")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    groups = r.text.split("\n\n")
    star = next(g for g in groups if "User-agent: *" in g)
    assert "Disallow: /private/" in star
    assert "Crawl-delay" not in star
    assert f"Sitemap: {site.url}/sitemap_index.xml" in r.text


def test_sitemaps(site: WebsiteHandle) -> None:
    c = client(site)
    index = c.get(E.SITEMAP_INDEX).text
    assert sitemap_paths(index, site.url) == {E.SITEMAP_PAGES, E.SITEMAP_BLOG_GZ}
    assert index.count("<lastmod>") == 2
    pages = c.get(E.SITEMAP_PAGES)
    blog = c.get(E.SITEMAP_BLOG_GZ)
    assert blog.headers["content-type"] in ("application/x-gzip", "application/octet-stream")
    assert blog.content[:2] == b"\x1f\x8b"
    blog_xml = gzip.decompress(blog.content).decode()
    listed = {
        E.SITEMAP_PAGES: sitemap_paths(pages.text, site.url),
        E.SITEMAP_BLOG_GZ: sitemap_paths(blog_xml, site.url),
    }
    assert "/en/release-notes.html" in listed[E.SITEMAP_BLOG_GZ]
    for page in E.EXPECTED_PAGES:
        for name, paths in listed.items():
            assert (page["path"] in paths) == (page["sitemap"] == name), (page["path"], name)
        assert (page["sitemap"] is None) == (page["reach"] == "links-only")
    assert c.get(E.SITEMAP_GEN).status_code == 404


def test_expected_pages_are_served_with_boilerplate(site: WebsiteHandle) -> None:
    c = client(site)
    for path, title in E.TITLES.items():
        r = c.get(path)
        assert r.status_code == 200, path
        text = decode(path, r.content)
        info = parse(text)
        assert info.title == title + E.TITLE_SUFFIX, path
        assert info.meta.get("description"), path
        assert info.meta.get("author") == E.AUTHORS.get(path), path
        assert info.meta.get("article:published_time") == E.PUBLISHED.get(path), path
        assert re.search(r'<html lang="[a-z]{2}">', text), path
        assert r.headers["etag"].startswith('"') and r.headers["last-modified"], path
        flat = squash(text)
        for phrase in E.BOILERPLATE_PHRASES:
            assert phrase in flat, (path, phrase)
    for page in E.EXPECTED_PAGES:
        for path in (page["path"], *page["alternates"]):
            text = decode(path, c.get(path).content)
            assert page["must_contain"] in squash(text), path
            assert f'<html lang="{page["language"]}">' in text, path
            assert len(article_text(text)) >= 600, path
    for path, phrase in E.NEVER_DELIVERED_PHRASES.items():
        assert phrase in squash(decode(path, c.get(path).content)), path
    languages = {p["language"] for p in E.EXPECTED_PAGES}
    assert languages == set(E.LANGUAGES)


def test_link_depths_and_reach(site: WebsiteHandle) -> None:
    """Breadth-first over on-site links (not from nofollow pages, not into robots-disallowed
    paths, not into the infinite calendar) reproduces the documented depths."""
    c = client(site)
    host = urlsplit(site.url).netloc
    depth = {"/": 0}
    linked_from_nofollow: set[str] = set()
    queue = deque(["/"])
    while queue:
        path = queue.popleft()
        r = c.get(path)
        if r.status_code != 200 or not r.headers["content-type"].startswith("text/html"):
            continue
        if b"\x00" in r.content:
            continue
        info = parse(decode(path, r.content))
        nofollow = "nofollow" in info.meta.get("robots", "")
        for href in info.hrefs:
            url = urlsplit(urljoin(site.url + path, href))
            if url.scheme not in ("http", "https") or url.netloc != host:
                continue
            target = url.path
            if nofollow:
                linked_from_nofollow.add(target)
                continue
            if target.startswith("/private/") or target.startswith(E.CALENDAR_PREFIX):
                continue
            if target not in depth:
                depth[target] = depth[path] + 1
                queue.append(target)
    for page in E.EXPECTED_PAGES:
        assert depth.get(page["path"]) == page["depth"], page["path"]
        for alt in page["alternates"]:
            assert alt in depth
    assert "/en/only-via-nofollow.html" in linked_from_nofollow
    assert "/en/only-via-nofollow.html" not in depth
    home = parse(c.get("/").text).hrefs
    assert "/private/internal-notes.html" in home
    assert E.CALENDAR_START in home
    for variant in E.GUIDE_URL_VARIANTS:
        assert variant.format(base=site.url).replace("&", "&amp;") in c.get("/").text
    assert any(h.startswith("http://offsite.invalid/") for h in home)
    assert f"{site.offsite_url}/en/faq.html" in home


def test_special_responses(site: WebsiteHandle) -> None:
    c = client(site)
    r = c.get("/old-guide")
    assert (r.status_code, r.headers["location"]) == (301, f"{site.url}/moved-guide")
    r = c.get("/moved-guide")
    assert (r.status_code, r.headers["location"]) == (302, f"{site.url}/en/guide.html")
    assert c.get("/old-guide", follow_redirects=True).url == httpx.URL(f"{site.url}/en/guide.html")
    r = c.get("/go-offsite")
    assert r.status_code == 302
    assert r.headers["location"] == E.OFFSITE_REDIRECTS["/go-offsite"].format(port=site.port)
    assert c.get("/missing-page.html").status_code == 404
    pdf = c.get("/files/manual.pdf")
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF-")
    png = c.get("/img/logo.png")
    assert png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG\r\n\x1a\n")
    blob = c.get("/files/blob.html")
    assert blob.headers["content-type"] == "text/html" and b"\x00" in blob.content
    print_page = parse(c.get("/en/guide-print.html").text)
    assert print_page.meta["canonical"] == f"{site.url}/en/guide.html"
    assert (
        parse(c.get("/en/mirror-article.html").text).meta["canonical"]
        == (E.OFFSITE_CANONICAL["/en/mirror-article.html"])
    )
    assert parse(c.get("/en/noindex.html").text).meta["robots"] == "noindex"
    assert parse(c.get("/en/nofollow.html").text).meta["robots"] == "noindex, nofollow"
    assert article_text(c.get("/en/thin.html").text) == "Coming soon. Check back next month."
    faq, copy = c.get("/en/faq.html").text, c.get("/en/faq-copy.html").text
    assert faq.split("<article>")[1] == copy.split("<article>")[1]


def test_charset_traps(site: WebsiteHandle) -> None:
    c = client(site)
    latin = c.get("/fr/encodage.html")
    assert latin.headers["content-type"] == "text/html; charset=iso-8859-1"
    assert "é, è, à et ç".encode("latin-1") in latin.content
    assert b"<meta charset" not in latin.content
    cp = c.get("/en/pricing.html")
    assert cp.headers["content-type"] == "text/html"
    assert b'<meta charset="windows-1252">' in cp.content
    assert b"\x93Team\x94" in cp.content and b"\x808" in cp.content
    bom = c.get("/en/unicode-filenames.html")
    assert bom.headers["content-type"] == "text/html"
    assert bom.content.startswith(b"\xef\xbb\xbf<!DOCTYPE html>")
    assert b"charset" not in bom.content.lower()
    assert "naïve café".encode() in bom.content


def test_conditional_get(site: WebsiteHandle) -> None:
    c = client(site)
    first = c.get("/en/guide.html")
    etag, last_modified = first.headers["etag"], first.headers["last-modified"]
    assert parsedate_to_datetime(last_modified).isoformat() == "2026-01-15T00:01:00+00:00"
    again = c.get("/en/guide.html", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    assert c.get("/en/guide.html", headers={"If-None-Match": '"stale"'}).status_code == 200
    assert c.get("/en/guide.html", headers={"If-Modified-Since": last_modified}).status_code == 304
    earlier = format_datetime(parsedate_to_datetime(last_modified).replace(minute=0), usegmt=True)
    assert c.get("/en/guide.html", headers={"If-Modified-Since": earlier}).status_code == 200
    head = c.head("/en/guide.html")
    assert head.status_code == 200 and head.headers["etag"] == etag and head.content == b""


def test_request_log(site: WebsiteHandle) -> None:
    c = client(site)
    site.reset_log()
    c.get("/en/faq.html?x=1", headers={"User-Agent": "kbtest/1.0", "If-None-Match": '"nope"'})
    c.get("/missing-page.html", headers={"If-Modified-Since": "Thu, 15 Jan 2026 00:00:00 GMT"})
    log = site.requests()
    assert [(r["method"], r["path"], r["status"]) for r in log] == [
        ("GET", "/en/faq.html?x=1", 200),
        ("GET", "/missing-page.html", 404),
    ]
    assert log[0]["user_agent"] == "kbtest/1.0" and log[0]["if_none_match"] == '"nope"'
    assert log[1]["if_modified_since"] == "Thu, 15 Jan 2026 00:00:00 GMT"
    assert log[0]["host"] == urlsplit(site.url).netloc and log[0]["time"] <= time.time()
    try:  # the "other host" listener logs too (absent on systems without 127.0.0.2)
        httpx.get(f"{site.offsite_url}/en/guide.html", trust_env=False, timeout=30)
    except httpx.ConnectError:  # no listener there; a slow answer is not a pass
        pass
    else:
        assert site.requests()[-1]["host"].startswith(E.OFFSITE_LISTENER_HOST + ":")
        assert site.requested_paths() == ["/en/faq.html?x=1", "/missing-page.html"]
    site.reset_log()
    assert site.requests() == []


def test_edit_changes_content_validators_and_lastmod(fresh: WebsiteHandle) -> None:
    c = client(fresh)
    before = c.get("/en/guide.html")
    result = fresh.edit("/en/guide.html", "An extra paragraph about offline mode.")
    after = c.get("/en/guide.html")
    assert "<p>An extra paragraph about offline mode.</p>" in after.text
    assert after.headers["etag"] == result["etag"] != before.headers["etag"]
    new_lm = parsedate_to_datetime(after.headers["last-modified"])
    assert new_lm > parsedate_to_datetime(before.headers["last-modified"])
    assert (
        c.get("/en/guide.html", headers={"If-None-Match": before.headers["etag"]}).status_code
        == 200
    )
    assert c.get("/en/guide.html", headers={"If-None-Match": result["etag"]}).status_code == 304
    stale_ims = {"If-Modified-Since": before.headers["last-modified"]}
    assert c.get("/en/guide.html", headers=stale_ims).status_code == 200
    sitemap = c.get(E.SITEMAP_PAGES).text
    entry = sitemap.split(f"<loc>{fresh.url}/en/guide.html</loc>")[1].split("</url>")[0]
    assert new_lm.isoformat() in entry
    with pytest.raises(WebsiteError):
        fresh.edit("/no/such/page.html", "text")
    fresh.reset_state()
    assert c.get("/en/guide.html").headers["etag"] == before.headers["etag"]


def test_remove_drops_page_from_sitemaps_and_links(fresh: WebsiteHandle) -> None:
    c = client(fresh)
    assert "/en/release-notes.html" in gzip.decompress(c.get(E.SITEMAP_BLOG_GZ).content).decode()
    fresh.remove("/en/release-notes.html")
    fresh.remove("/en/faq.html")
    assert c.get("/en/release-notes.html").status_code == 404
    assert c.get("/en/faq.html").status_code == 404
    assert (
        "/en/release-notes.html" not in gzip.decompress(c.get(E.SITEMAP_BLOG_GZ).content).decode()
    )
    assert "/en/faq.html" not in c.get(E.SITEMAP_PAGES).text
    home = c.get("/").text
    assert f"{fresh.url}/en/faq.html" not in {
        urljoin(fresh.url, h).split("#")[0] for h in parse(home).hrefs
    }
    assert "Frequently asked questions" in home  # the link text stays, as plain text
    assert "/en/faq-copy.html" in parse(home).hrefs
    assert fresh.state()["removed"] == ["/en/faq.html", "/en/release-notes.html"]


def test_mode_switch(fresh: WebsiteHandle) -> None:
    c = client(fresh)
    fresh.set_mode(403)
    for path in ("/", "/en/guide.html", "/missing-page.html", E.SITEMAP_INDEX, "/old-guide"):
        assert c.get(path).status_code == 403, path
    assert c.get("/robots.txt").status_code == 200
    assert isinstance(fresh.requests(), list)
    fresh.set_mode(503)
    assert c.get("/en/guide.html").status_code == 503
    fresh.set_mode(None)
    assert c.get("/en/guide.html").status_code == 200
    assert [r["status"] for r in fresh.requests()][-3:] == [200, 503, 200]


def test_state_dir_survives_restart(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    with running_website(tmp_path, state_dir=state_dir) as first:
        first.edit("/de/anleitung.html", "Ein zusätzlicher Absatz.")
        first.remove("/it/novita.html")
    with running_website(tmp_path, state_dir=state_dir) as second:
        c = client(second)
        assert "Ein zusätzlicher Absatz." in c.get("/de/anleitung.html").text
        assert c.get("/it/novita.html").status_code == 404


def test_generators(site: WebsiteHandle, tmp_path: Path) -> None:
    c = client(site)
    big = c.get("/big.html?kb=64")
    assert 64 * 1024 <= len(big.content) < 68 * 1024 and big.text.rstrip().endswith("</html>")
    links = parse(c.get("/many-links.html?n=25").text).hrefs
    assert sum(h.startswith("/link-target/") for h in links) == 25
    assert c.get("/link-target/24.html").status_code == 200
    cal = parse(c.get("/calendar/2026/12").text).hrefs
    assert "/calendar/2026/11" in cal and "/calendar/2027/01" in cal
    assert c.get("/calendar/2026/13").status_code == 404
    with running_website(tmp_path, gen_pages=9) as gen:
        g = client(gen)
        assert E.SITEMAP_GEN in sitemap_paths(g.get(E.SITEMAP_INDEX).text, gen.url)
        assert sitemap_paths(g.get(E.SITEMAP_GEN).text, gen.url) == {
            E.GEN_PAGE.format(i=i) for i in range(9)
        }
        texts = set()
        for i in range(9):
            r = g.get(E.GEN_PAGE.format(i=i))
            assert 30_000 <= len(r.content) <= 60_000, i
            assert E.GEN_MARKER.format(i=i) in r.text
            assert f'<html lang="{E.GEN_LANGUAGES[i % 8]}">' in r.text
            texts.add(r.text.split("<article>")[1])
        assert len(texts) == 9
        assert g.get(E.GEN_PAGE.format(i=9)).status_code == 404


def test_cases_routes_and_robots_variants(tmp_path: Path) -> None:
    """/cases/ answers as tests/test_discovery_cases.py expects; --robots changes the bytes only."""
    with (
        running_website(tmp_path, robots="utf16-cr") as site,
        httpx.Client(base_url=site.url, follow_redirects=False) as client,
    ):
        robots = client.get("/robots.txt").content
        back = client.get("/cases/blog/post1")
        post = client.get("/cases/blog/post1/")
        scoped = client.get("/cases/robots-tags/d.html")
        xhtml = client.get("/cases/xhtml/a.html")
        stub = client.get("/cases/stub/link.html")
    assert robots.startswith(b"\xff\xfe") and b"\n" not in robots
    text = robots.decode("utf-16")
    assert text.lstrip().startswith("Sitemap :") and "Disallow: /private/" in text
    assert back.status_code == 308
    assert back.headers["location"] == site.url + "/cases/blog/post1/"
    assert parse(post.text).meta["canonical"] == site.url + "/cases/blog/post1"
    assert scoped.headers.get_list("x-robots-tag") == ["otherbot: none", "kbcrawler: noindex"]
    assert xhtml.text.startswith("<?xml ")
    assert '<noscript><META http-equiv="refresh"' in stub.text
