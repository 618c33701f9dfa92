"""Link extraction in the worker (crawler/pagework.py): a parser error is never "no links"."""

from __future__ import annotations

import lxml.html
import pytest

from crawler import pagework
from crawler.options import ExtractOptions

XHTML = (
    '<?xml version="1.0" encoding="{enc}"?>\n'
    '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" '
    '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">'
    '<html xmlns="http://www.w3.org/1999/xhtml"><head><title>A</title></head>'
    '<body><p><a href="b.html">B</a> <a href="caf\u00e9.html">Café</a></p></body></html>'
)


@pytest.mark.parametrize("enc", ["UTF-8", "ISO-8859-1", "utf-16"])
def test_links_of_a_str_with_an_xml_declaration(enc: str) -> None:
    """lxml refuses such a str; the text (already decoded) is parsed as UTF-8 bytes."""
    links, dropped = pagework.extract_links(XHTML.format(enc=enc), "https://x.test/a.html", 10)
    assert links == ["https://x.test/b.html", "https://x.test/café.html"] and dropped == 0


@pytest.mark.parametrize("html", ["", "   ", "<!-- only a comment -->", "plain text"])
def test_documents_without_markup_have_no_links_and_no_error(html: str) -> None:
    assert pagework.extract_links(html, "https://x.test/", 10) == ([], 0)


def test_a_parser_failure_is_reported_not_swallowed(monkeypatch: pytest.MonkeyPatch) -> None:
    """If lxml fails on text and bytes alike, the result says so (the spider counts and logs)."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise ValueError("lxml refuses this document")

    html = "<html><body><h1>T</h1><p><a href='/b'>b</a></p></body></html>"
    monkeypatch.setattr(lxml.html, "document_fromstring", refuse)
    with pytest.raises(pagework.LinkParseError):
        pagework.extract_links(html, "https://x.test/", 10)
    result = pagework.process_page(html, "https://x.test/", ExtractOptions(), "x", 10)
    assert result["links"] == [] and "lxml refuses this document" in result["discovery_error"]
