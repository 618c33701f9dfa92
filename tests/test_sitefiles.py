"""robots.txt and sitemap bytes in real encodings (crawler/sitefiles.py), pure functions."""

from __future__ import annotations

import codecs

import pytest
from scrapy.utils.sitemap import Sitemap

from crawler.sitefiles import RobotsTxtParser, decode_text, robots_sitemap_urls, sitemap_xml

BASE = "http://docs.example/robots.txt"
ROBOTS = "Sitemap: /sitemap.xml\nUser-agent: *\nDisallow: /private/\n"
ENCODED = {
    "utf-8": ROBOTS.encode(),
    "utf-8 BOM": codecs.BOM_UTF8 + ROBOTS.encode(),
    "utf-8 BOM CRLF": codecs.BOM_UTF8 + ROBOTS.replace("\n", "\r\n").encode(),
    "CR only": ROBOTS.replace("\n", "\r").encode(),
    "utf-16 BOM": ROBOTS.encode("utf-16"),
    "utf-16-be BOM": codecs.BOM_UTF16_BE + ROBOTS.encode("utf-16-be"),
    "utf-16-le no BOM": ROBOTS.encode("utf-16-le"),
    "utf-32 BOM": ROBOTS.encode("utf-32"),
    "whitespace": ("  \n\t Sitemap :  /sitemap.xml  # ours\n" + ROBOTS[22:]).encode(),
    "lower case": ROBOTS.lower().encode(),
}


@pytest.mark.parametrize("name", list(ENCODED))
def test_sitemap_line_and_rules_survive_the_encoding(name: str) -> None:
    body = ENCODED[name]
    assert list(robots_sitemap_urls(body, BASE)) == ["http://docs.example/sitemap.xml"]
    parser = RobotsTxtParser(body, None)
    assert not parser.allowed("http://docs.example/private/x.html", "kbcrawler")
    assert parser.allowed("http://docs.example/guide.html", "kbcrawler")


def test_invalid_utf8_is_read_not_dropped() -> None:
    body = b"User-agent: *\nDisallow: /caf\xe9/\nDisallow: /private/\nSitemap: /s.xml\n"
    assert decode_text(body).splitlines()[1] == "Disallow: /café/"
    assert list(robots_sitemap_urls(body, BASE)) == ["http://docs.example/s.xml"]
    assert not RobotsTxtParser(body, None).allowed("http://docs.example/private/", "kbcrawler")


def test_no_sitemap_lines() -> None:
    assert list(robots_sitemap_urls(b"", BASE)) == []
    assert list(robots_sitemap_urls(b"User-agent: *\nDisallow:\nSitemap:\n", BASE)) == []


SITEMAP = (
    '<?xml version="1.0" encoding="{enc}"?>\n'
    '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
    "<url><loc>http://docs.example/é.html</loc></url></urlset>\n"
)


@pytest.mark.parametrize(
    "body",
    [
        SITEMAP.format(enc="UTF-8").encode(),
        codecs.BOM_UTF8 + SITEMAP.format(enc="UTF-8").encode(),
        b"\r\n  " + SITEMAP.format(enc="UTF-8").encode(),
        SITEMAP.format(enc="UTF-16").encode("utf-16"),
        SITEMAP.format(enc="UTF-8").encode("utf-16"),  # declaration lies: the BOM wins
    ],
    ids=["utf-8", "bom", "whitespace", "utf-16", "utf-16-lying-declaration"],
)
def test_sitemap_xml_normalizes_to_utf8(body: bytes) -> None:
    xml = sitemap_xml(body)
    assert xml.startswith(b"<")
    assert [e["loc"] for e in Sitemap(xml)] == ["http://docs.example/é.html"]
