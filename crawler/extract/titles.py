"""Page titles: the site's name cut off, the page's heading preferred, a short title
qualified by its parent section, and a title made from the URL as the last resort.

Pure functions (the tree ones read it, never change it).
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urljoin, urlsplit

from lxml import etree
from lxml.html import HtmlElement

from crawler.extract.text import normalize_space

__all__ = [
    "QUALIFIED_TITLE_MAX_WORDS",
    "clean_title",
    "clean_title_for",
    "home_link_names",
    "parent_links",
    "parent_title",
    "qualify_title",
    "title_from_url",
]

_TITLE_SEP = re.compile(r"(\s+(?:\||-|–|—|·|::|»)\s+)")
_TITLE_SEP_END = re.compile(r"(?:\s+(?:\||-|–|—|·|::|»)\s+|:\s+)$")
"""Before a page's own heading at the end of its title ('Doxygen: Special Commands')."""
_PAGE_EXTENSIONS = re.compile(r"\.(?:s?html?|xhtml|php\d?|aspx?|jsp|cfm|md|txt)$", re.IGNORECASE)
_URL_WORD_SEP = re.compile(r"[-_+\s]+")
_INDEX_STEMS = frozenset({"index", "default", "home", "main"})
_HOME_PATHS = ("", "/", "/index.html", "/index.htm")


def _is_site_segment(segment: str, site_names: tuple[str, ...]) -> bool:
    """A title segment looks like the site's name: equal, a >=3-char part of it, or holding a
    >=8-char name ('Python 3.11.2 documentation' holds '3.11.2 Documentation')."""
    seg = segment.strip().casefold()
    if not seg:
        return True
    return any(
        seg == name or (len(seg) >= 3 and seg in name) or (len(name) >= 8 and name in seg)
        for name in site_names
    )


def clean_title_for(raw: str, site_names: tuple[str, ...], h1: str | None) -> str:
    """clean_title() for several candidate site names (the caller's, og:site_name, logo
    headings, home links)."""
    title = normalize_space(raw)
    heading = normalize_space(h1)
    if not title:
        return heading
    names = tuple(n for n in (normalize_space(s).casefold() for s in site_names) if n)
    key = heading.casefold()
    if key and key not in names and key != title.casefold():
        # the page's own heading may hold a separator ('argparse — Parser for ...')
        folded = title.casefold()
        if folded.startswith(key) and _TITLE_SEP.match(title, len(key)):
            return title[: len(key)]
        if folded.endswith(key) and _TITLE_SEP_END.search(title, 0, len(title) - len(key)):
            return title[len(title) - len(key) :]
    parts = _TITLE_SEP.split(title)
    segments, separators = parts[0::2], parts[1::2]
    if len(segments) == 1:
        return title
    if key and key not in names:  # a logo <h1> holding the site name is no evidence
        if segments[0].casefold() == key:
            return segments[0]
        if segments[-1].casefold() == key:
            return segments[-1]
    lo, hi = 0, len(segments)
    while hi - lo > 1 and _is_site_segment(segments[hi - 1], names):
        hi -= 1
    while hi - lo > 1 and _is_site_segment(segments[lo], names):
        lo += 1
    pieces = [segments[lo]]
    for i in range(lo + 1, hi):
        pieces += [separators[i - 1], segments[i]]
    return "".join(pieces).strip() or heading


def clean_title(raw: str, *, site_name: str | None = None, h1: str | None = None) -> str:
    """Strip a site-name prefix/suffix ('Install | Acme Docs' -> 'Install').

    Splits on ' | ', ' - ', ' – ', ' — ', ' · ', ' :: ', ' » '. If ``h1`` equals the first (or
    last) segment, that segment is the title. Otherwise segments at either end that equal
    ``site_name`` (case-insensitive) or are a >=3-char part of it are dropped. Without a site
    name or matching h1 the title is kept whole: a wrong cut is worse than a suffix. Returns
    ``h1`` for an empty title and '' only when both are empty.
    """
    return clean_title_for(raw, (site_name,) if site_name else (), h1)


# Up links and breadcrumbs: DocBook XSL and Sphinx mark the parent with accesskey "u"; HTML's
# rel=up (DocBook's <link rel="up" title=...>); breadcrumb trails (MkDocs Material, Docusaurus,
# Hugo themes, help centres) whose last link is the parent (the current page is not a link).
_UP_LINKS = etree.XPath("//a[@accesskey='u' or @accesskey='U'][@href]")
_UP_REL = etree.XPath("/html/head/link[@rel='up'][@title]")
_BREADCRUMB_LINKS = etree.XPath(
    "(//nav[contains(translate(@aria-label, 'B', 'b'), 'breadcrumb')]"
    "|//*[contains(concat(' ', normalize-space(@class), ' '), ' breadcrumb ')"
    " or contains(concat(' ', normalize-space(@class), ' '), ' breadcrumbs ')])"
    "//a[@href][normalize-space()]"
)
# 'Chapter 36. ', 'Part II. ', 'Appendix F. ', '36.14. ': DocBook numbers its titles.
_SECTION_NUMBER = re.compile(
    r"^(?:(?:chapter|part|appendix)\s+[\dA-Z]+(?:\.\d+)*|\d+(?:\.\d+)*|[A-Z](?:\.\d+)+)\.?\s+",
    re.IGNORECASE,
)
_MAX_PARENT_CHARS = 80
QUALIFIED_TITLE_MAX_WORDS = 2
"""Titles of at most this many words ("Introduction", "Importing Modules") are qualified."""


def parent_links(tree: HtmlElement) -> list[tuple[str, str]]:
    """Candidate parents as (text, href), best first: the "Up" link (``accesskey="u"``; its
    ``title`` attribute, else its text), ``<link rel="up" title=...>``, the last link of a
    breadcrumb trail. Read before the chrome is removed from the tree."""
    candidates: list[tuple[str, str]] = []
    for link in _UP_LINKS(tree)[:1]:
        candidates.append((link.get("title") or link.text_content(), link.get("href", "")))
    for link in _UP_REL(tree)[:1]:
        candidates.append((link.get("title", ""), link.get("href", "")))
    crumbs = [a for a in _BREADCRUMB_LINKS(tree) if a.get("href", "").strip() not in ("", "#")]
    if crumbs:
        candidates.append((crumbs[-1].text_content(), crumbs[-1].get("href", "")))
    return candidates


def parent_title(
    candidates: list[tuple[str, str]], url: str, title: str, site_names: tuple[str, ...]
) -> str:
    """The parent section's title among :func:`parent_links`; '' when none.

    A parent that is the page itself, the site's home page, or carries the site's name
    ("Python 3.11 documentation") is no parent. DocBook's numbers ("36.14. ") are dropped.
    """
    names = tuple(n.casefold() for n in site_names)
    here = urlsplit(url)
    for text, href in candidates:
        parent = _SECTION_NUMBER.sub("", normalize_space(text)).strip()
        if not parent or len(parent) > _MAX_PARENT_CHARS or parent.casefold() == title.casefold():
            continue
        target = urlsplit(urljoin(url, href.strip()))
        if target.netloc == here.netloc and target.path in (here.path, *_HOME_PATHS):
            continue  # the page itself, or the site's home page
        if _is_site_segment(parent, names):
            continue
        return parent
    return ""


def qualify_title(title: str, parent: str | None) -> str:
    """``title`` with its parent section appended when the title alone is ambiguous.

    A title of one or two words, section number aside ('Introduction', '43.1. Overview',
    'DECLARE', 'Importing Modules'), names many pages of a large site (PostgreSQL has an SQL
    and an embedded-SQL 'DECLARE'; Python a C-API and a library 'Importing Modules'); it
    becomes 'DECLARE (Embedded SQL Commands)'. Longer titles are kept as they are. The rule
    looks at this page only, so a title never depends on which other pages a run saw, nor in
    what order (incremental runs re-send only changed pages). Returns ``title`` unchanged
    without a parent, or when the parent is already part of it.
    """
    if not parent or len(_SECTION_NUMBER.sub("", title).split()) > QUALIFIED_TITLE_MAX_WORDS:
        return title
    if parent.casefold() in title.casefold():
        return title
    return f"{title} ({parent})"


def title_from_url(url: str) -> str:
    """Readable title from the URL path ('/docs/getting-started.html' -> 'Getting started').

    Last resort for pages without <title>/h1; skips 'index'-like segments and falls back to
    the host name, so the result is never empty for a real URL.
    """
    try:
        parts = urlsplit(url or "")
    except ValueError:
        return normalize_space(url) or "Untitled"
    for segment in reversed([s for s in parts.path.split("/") if s]):
        stem = _PAGE_EXTENSIONS.sub("", unquote(segment))
        if stem.lower() in _INDEX_STEMS:
            continue
        words = _URL_WORD_SEP.sub(" ", stem).strip()
        if words:
            return words[:1].upper() + words[1:]
    return parts.hostname or normalize_space(url) or "Untitled"


_NAV_LINKS = etree.XPath(
    "//div[contains(concat(' ', normalize-space(@class), ' '), ' related ')]//a[@href]"
    "|//nav//a[@href]|//header//a[@href]"
)
_HOME_HREF_ENDS = ("/", "index.html", "index.htm")
_MAX_SITE_NAME_CHARS = 80


def home_link_names(tree: HtmlElement, url: str) -> list[str]:
    """Texts of navigation links to the site's home page ('Python 3.11.2 documentation').

    A generator names the site in its navigation bar with the same words it appends to every
    ``<title>`` (Sphinx: 'Download — Python 3.11.2 documentation'); only links in a nav bar,
    ``<nav>`` or ``<header>`` whose target is the site root count.
    """
    names: list[str] = []
    host = urlsplit(url).netloc
    for link in _NAV_LINKS(tree):
        href = link.get("href", "").strip()
        if not (href.endswith(_HOME_HREF_ENDS) or href in (".", "..")):
            continue  # cheap test first: a mega menu has hundreds of links
        text = normalize_space(link.text_content())
        if not text or len(text) > _MAX_SITE_NAME_CHARS:
            continue
        try:
            target = urlsplit(urljoin(url, href))
        except ValueError:
            continue
        if target.path in _HOME_PATHS and target.netloc == host:
            names.append(text)
    return names
