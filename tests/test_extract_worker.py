"""The extraction worker (crawler/extract/worker.py): one parse per page, links read from it
before extraction changes it (a parser error is never "no links"), a typed picklable result,
and the skip reason decided in one place (crawler/extract/skip.py) from the X-Robots-Tag
header and the page together."""

from __future__ import annotations

import pickle
from typing import Any

import lxml.etree
import lxml.html
import pytest

from crawler.extract import parse, trafilatura_text
from crawler.extract.result import PageResult
from crawler.extract.skip import skip_reason
from crawler.extract.worker import process_page
from crawler.options import ExtractOptions
from crawler.robots_directives import RobotsDirectives

XHTML = (
    '<?xml version="1.0" encoding="{enc}"?>\n'
    '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" '
    '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">'
    '<html xmlns="http://www.w3.org/1999/xhtml"><head><title>A</title></head>'
    '<body><p><a href="b.html">B</a> <a href="caf\u00e9.html">Café</a></p></body></html>'
)
PROSE = (
    "<p>This paragraph is ordinary documentation prose, long enough for the extractor to "
    "treat it as main content rather than as a caption or a navigation label.</p>"
) * 4
NAV = "<nav><a href='/guide/'>Guide</a> <a href='/api/'>API</a></nav>"
OPTIONS = ExtractOptions()
NOINDEX = RobotsDirectives(noindex=True)
NOFOLLOW = RobotsDirectives(nofollow=True)


def page_html(body: str, head: str = "") -> str:
    return f"<html><head><title>T</title>{head}</head><body>{NAV}{body}</body></html>"


@pytest.mark.parametrize("enc", ["UTF-8", "ISO-8859-1", "utf-16"])
def test_links_of_a_str_with_an_xml_declaration(enc: str) -> None:
    """lxml refuses a str with an XML declaration: the one parse drops the declaration."""
    result = process_page(XHTML.format(enc=enc), "https://x.test/a.html", OPTIONS, "x", 10)
    assert result.links == ["https://x.test/b.html", "https://x.test/café.html"]
    assert result.links_dropped == 0 and result.discovery_error is None


@pytest.mark.parametrize("html", ["", "   ", "<!-- only a comment -->", "plain text"])
def test_documents_without_markup_have_no_links_and_no_error(html: str) -> None:
    result = process_page(html, "https://x.test/", OPTIONS, "x", 10)
    assert (result.links, result.links_dropped, result.discovery_error) == ([], 0, None)
    assert result.page.skip_reason in ("empty", "not_html")


def test_a_parser_failure_is_reported_not_swallowed(monkeypatch: pytest.MonkeyPatch) -> None:
    """If lxml fails on the page, the result says so (the spider counts and logs it)."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise ValueError("lxml refuses this document")

    html = "<html><body><h1>T</h1><p><a href='/b'>b</a></p></body></html>"
    monkeypatch.setattr(parse, "document_fromstring", refuse)
    result = process_page(html, "https://x.test/", OPTIONS, "x", 10)
    assert result.links == [] and "lxml refuses this document" in str(result.discovery_error)
    assert result.page.skip_reason == "parse_error"


def test_links_are_limited_and_resolved_against_base() -> None:
    links = "".join(f"<a href='p{i}.html'>{i}</a>" for i in range(8))
    html = page_html(f"<main>{PROSE}{links}<a href='mailto:a@b'>m</a></main>", "<base href='/d/'>")
    result = process_page(html, "https://x.test/a/b.html", OPTIONS, "x", 5)
    assert result.links[:2] == ["https://x.test/guide/", "https://x.test/api/"]
    assert result.links[2:] == [f"https://x.test/d/p{i}.html" for i in range(3)]
    assert result.links_dropped == 5


def test_the_worker_parses_a_page_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Links, the application-shell check, metadata and trafilatura all read one tree.

    (trafilatura's full cascade parses readability's output, a fragment of the page without
    its ``<head>``: not a parse of the page's HTML.)"""
    parses: list[str] = []
    inputs: list[object] = []
    depth = [0]  # lxml's parse functions call each other: count the outermost call

    def counting(name: str, real: Any) -> Any:
        def parse_(text: str | bytes, *args: object, **kwargs: object) -> Any:
            page = text if isinstance(text, str) else text.decode("utf-8", "replace")
            if "<title>" in page and not depth[0]:
                parses.append(name)
            depth[0] += 1
            try:
                return real(text, *args, **kwargs)
            finally:
                depth[0] -= 1

        return parse_

    monkeypatch.setattr(parse, "document_fromstring", counting("ours", parse.document_fromstring))
    for module, name in [
        (lxml.html, "document_fromstring"),
        (lxml.html, "fromstring"),
        (lxml.etree, "fromstring"),
        (lxml.etree, "HTML"),
    ]:
        monkeypatch.setattr(module, name, counting(name, getattr(module, name)))
    real_extract = trafilatura_text.trafilatura.extract

    def recording_extract(filecontent: object, **kwargs: object) -> str | None:
        inputs.append(filecontent)
        return real_extract(filecontent, **kwargs)

    monkeypatch.setattr(trafilatura_text.trafilatura, "extract", recording_extract)
    html = page_html(f"<div><h1>No declared region</h1>{PROSE}</div>")
    result = process_page(
        html, "https://x.test/a", OPTIONS, "x", 100, ("https://x.test/a", 200), True
    )
    assert parses == ["ours"]
    assert inputs and all(isinstance(tree, lxml.html.HtmlElement) for tree in inputs)
    assert result.page.extractor == "trafilatura" and result.page.skip_reason is None
    assert result.links == ["https://x.test/guide/", "https://x.test/api/"]  # nav: read first
    assert result.parts and len(result.parts) > 1 and result.parts_limit == 200


def test_the_result_is_a_picklable_dataclass() -> None:
    html = page_html(f"<main><h1 id='t'>T</h1>{PROSE}</main>")
    result = process_page(html, "https://x.test/a", OPTIONS, "x", 10, ("https://x.test/a", 200))
    assert isinstance(result, PageResult)
    assert pickle.loads(pickle.dumps(result, pickle.HIGHEST_PROTOCOL)) == result
    assert result.page.content and result.page.content_hash and result.parts


@pytest.mark.parametrize(
    ("head", "header", "reason", "links"),
    [
        ("", RobotsDirectives(), None, 2),
        ("<meta name='robots' content='noindex'>", RobotsDirectives(), "noindex", 2),
        ("", NOINDEX, "noindex", 2),
        ("<meta name='robots' content='nofollow'>", RobotsDirectives(), None, 0),
        ("", NOFOLLOW, None, 0),
        ("<meta name='kbcrawler' content='none'>", RobotsDirectives(), "noindex", 0),
    ],
)
def test_robots_directives_of_header_and_meta_are_decided_together(
    head: str, header: RobotsDirectives, reason: str | None, links: int
) -> None:
    options = ExtractOptions(robots_meta_names=("robots", "kbcrawler"))
    html = page_html(f"<main><h1>T</h1>{PROSE}</main>", head)
    result = process_page(html, "https://x.test/a", options, "x", 10, header=header)
    assert result.page.skip_reason == reason
    assert len(result.links) == links
    assert not result.page.content if reason else result.page.content


@pytest.mark.parametrize("header", [RobotsDirectives(), NOINDEX])
def test_a_thin_or_index_page_under_noindex_is_noindex_whoever_says_it(
    header: RobotsDirectives,
) -> None:
    """One order of reasons, header or meta: noindex first, then the page's kind, then its
    text (before, a header noindex only counted when the page had no other reason)."""
    meta = "" if header.noindex else "<meta name='robots' content='noindex'>"
    html = page_html("<main><h1>T</h1><p>Too short.</p></main>", meta)
    result = process_page(html, "https://x.test/a", OPTIONS, "x", 10, header=header)
    assert result.page.skip_reason == "noindex"


def test_app_shell_is_given_for_thin_pages_only() -> None:
    shell = "<div id='root'></div><script src='/app.js'></script>"
    thin = process_page(page_html(shell), "https://x.test/a", OPTIONS, "x", 0, None, True)
    assert thin.page.skip_reason in ("thin", "empty") and thin.app_shell == "mount_point"
    full = page_html(f"<main><h1>T</h1>{PROSE}</main>{shell}")
    rich = process_page(full, "https://x.test/a", OPTIONS, "x", 0, None, True)
    assert rich.page.skip_reason is None and rich.app_shell is None
    unasked = process_page(page_html(shell), "https://x.test/a", OPTIONS, "x", 0)
    assert unasked.app_shell is None


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"robots": NOINDEX, "kind": "index_page", "content": ""}, "noindex"),
        (
            {"robots": RobotsDirectives(), "kind": "search_page", "content": "x" * 500},
            "search_page",
        ),
        ({"robots": RobotsDirectives(), "content": None}, None),
        ({"robots": RobotsDirectives(), "content": ""}, "empty"),
        ({"robots": RobotsDirectives(), "content": "", "redirect": True}, "redirect_stub"),
        ({"robots": RobotsDirectives(), "content": "short", "min_chars": 10}, "thin"),
        ({"robots": RobotsDirectives(), "content": "long enough", "min_chars": 10}, None),
        ({"robots": NOFOLLOW, "content": "long enough"}, None),
    ],
)
def test_skip_reason_order(kwargs: dict[str, Any], reason: str | None) -> None:
    robots = kwargs.pop("robots")
    assert skip_reason(robots, **kwargs) == reason
