"""A page's links, for discovery: absolute, normalized http(s) URLs of its ``<a href>``.

Read from the page's one parsed tree (:mod:`crawler.extract.parse`) before any later stage
changes it, so links in navigation, footers and excluded regions are still found.
"""

from __future__ import annotations

from urllib.parse import urljoin

from lxml import etree
from lxml.html import HtmlElement

from crawler.urls import normalize_url

__all__ = ["page_links"]

_SKIP_SCHEMES = ("mailto:", "javascript:", "tel:", "data:", "ftp:", "#")
_BASE_HREF = etree.XPath("string(//base/@href)")
_HREFS = etree.XPath("//a/@href")


def page_links(tree: HtmlElement, base_url: str, limit: int) -> tuple[list[str], int]:
    """Absolute, normalized http(s) links of ``<a href>``, the first ``limit`` distinct ones.

    Relative links resolve against ``<base href>`` (itself relative to ``base_url``), else
    ``base_url``. Returns the links and how many more were dropped by ``limit`` (memory stays
    bounded on a page with 50,000 links).
    """
    base = urljoin(base_url, _BASE_HREF(tree) or base_url)
    seen: dict[str, None] = {}
    dropped = 0
    for href in _HREFS(tree):
        href = href.strip()
        if not href or href.lower().startswith(_SKIP_SCHEMES):
            continue
        absolute = urljoin(base, href)
        if not absolute.startswith(("http://", "https://")):
            continue
        url = normalize_url(absolute)
        if url in seen:
            continue
        if len(seen) >= limit:
            dropped += 1
            continue
        seen[url] = None
    return list(seen), dropped
