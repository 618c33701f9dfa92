"""Pages that are not knowledge: generated indexes, search pages, redirect stubs.

Recognised by the structure generators give them (and the markers they write), not by file
name: a Sphinx ``genindex``/``py-modindex`` holds ``table.indextable``, a DocBook index is a
``div.index``, Javadoc's ``index-all`` a ``dl.index``/``#I:`` letter links, Doxygen's class
index a ``div.classindex``/``div.qindex`` and its page and file lists a ``table.directory``;
any main region made almost only of links into its own site is an index too. A search page
has a results container and almost no text; a redirect stub says nothing but a
``<meta http-equiv=refresh>`` or a ``location`` script.

Pure functions on an lxml tree; nothing is modified.
"""

from __future__ import annotations

import re

from lxml import etree
from lxml.html import HtmlElement

from crawler.extract.mainregion import has_class

__all__ = ["INDEX_LINK_SHARE", "index_or_search", "redirects"]

INDEX_LINK_SHARE = 0.8
"""A region whose relative-link text is at least this share of its text, with INDEX_MIN_LINKS
links or more, is a generated index (tables of contents, A-Z indexes)."""
INDEX_MIN_LINKS = 40
SEARCH_PAGE_MAX_CHARS = 2000
"""A page with a search-results container and less text than this is a search page."""


_INDEX_MARKERS = etree.XPath(
    ".//table["
    + has_class("indextable", "modindextable")
    + "]|.//div["
    + has_class("genindex-jumpbox", "classindex", "qindex", "index-container")
    + "]|.//dl["
    + has_class("index")
    + "]|.//div["
    + has_class("directory")
    + "]/table["
    + has_class("directory")
    + "]"
    + "|.//a[starts-with(@href, '#I:')]"
    + "|self::div["
    + has_class("index")
    + "]"
)
_SEARCH_MARKERS = etree.XPath(
    "//*[@id='search-results' or @id='mkdocs-search-results' or @id='searchresults'"
    " or " + has_class("search-results", "md-search-result", "searchresults") + "]"
)
_LINK_TEXT = etree.XPath(
    ".//a[@href][not(starts-with(@href, 'http:') or starts-with(@href, 'https:')"
    " or starts-with(@href, '//'))]//text()"
)  # relative links: an index points into its own site (a glossary of outside links is text)
_TEXT_CHARS = etree.XPath("string-length(normalize-space(.))")  # scripts included: a bound
_LINKS = etree.XPath("count(.//a[@href])")
_LOCATION_SCRIPT = etree.XPath("//script[not(@src)][string-length(.) < 1000]")
# a redirect is a one-liner; a location assignment inside an app bundle is not a redirect
_LOCATION = re.compile(
    r"(?:window\.|document\.|top\.|self\.)?location(?:\.href)?\s*(?:=(?!=)|\.replace\s*\(|"
    r"\.assign\s*\()"
)


def index_or_search(tree: HtmlElement, region: HtmlElement | None) -> str | None:
    """'index_page', 'search_page' or None for a page (``region``: its declared main region).

    Search pages are recognised by their results container anywhere in ``tree``; indexes by
    markers or link share inside the region (after its chrome was removed).
    """
    scope = region if region is not None else tree
    text = int(_TEXT_CHARS(scope))
    if text < SEARCH_PAGE_MAX_CHARS and _SEARCH_MARKERS(tree):
        return "search_page"
    if region is not None and _INDEX_MARKERS(region):
        return "index_page"
    if (
        region is not None
        and text
        and int(_LINKS(scope)) >= INDEX_MIN_LINKS
        and sum(len(link.strip()) for link in _LINK_TEXT(scope)) >= INDEX_LINK_SHARE * text
    ):
        return "index_page"
    return None


def redirects(tree: HtmlElement, metas: dict[str, list[str]]) -> bool:
    """True when the page sends the browser elsewhere: meta refresh with a URL or a script.

    Only a page that also has too little text of its own is a ``redirect_stub``; the caller
    decides that.
    """
    if any("url=" in value.lower() for value in metas.get("refresh", ())):
        return True
    return any(_LOCATION.search(script.text or "") for script in _LOCATION_SCRIPT(tree))
