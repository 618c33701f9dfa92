"""The main region a page declares, and the chrome removed from it by rule.

Documentation generators and most modern sites say where the content is: ``<main>``,
``[role=main]``, one ``<article>``, or a container of a known generator (Sphinx ``div.body``,
DocBook's chapter ``div`` under ``<body>``, MkDocs Material ``article.md-content__inner``,
Docusaurus ``.theme-doc-markdown``, Docsy ``.td-content``, Doxygen ``#doc-content``, old
Javadoc ``.contentContainer``, WordPress ``.entry-content``, help-centre ``.article-body``).
Where a page says so, that region is the document (:mod:`crawler.extract.markdown` converts it) and
trafilatura is not asked to guess; the chrome generators put *inside* the region (permalink
signs, in-page tables of contents, breadcrumbs, "edit this page", previous/next links) is
removed by the rules below, by exact class token, never by a word found in an id (a section
``id="menus"`` of an IDE chapter is content).

Pure functions on an lxml tree; they modify it in place.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree
from lxml.html import HtmlElement

__all__ = [
    "MainRegion",
    "find_main_region",
    "has_class",
    "region_h1",
    "remove_chrome",
    "visible_chars",
]


def has_class(*names: str) -> str:
    """XPath predicate: the element's class list holds one of ``names`` (whole tokens).

    ``has_class('note', 'tip')`` -> "contains(concat(' ', normalize-space(@class), ' '),
    ' note ') or ...", to put inside ``[...]``.
    """
    return " or ".join(
        f"contains(concat(' ', normalize-space(@class), ' '), ' {name} ')" for name in names
    )


_DOCBOOK_DIVS = (
    "book",
    "part",
    "chapter",
    "sect1",
    "section",
    "refentry",
    "reference",
    "appendix",
    "preface",
    "article",
    "set",
    "index",
    "glossary",
    "bibliography",
    "colophon",
    "qandaset",
    "partintro",
)

# (kind, XPath); the first XPath that finds exactly one element wins. Generators' own
# containers come first: they are narrower than the <main> around them.
_CANDIDATES: tuple[tuple[str, etree.XPath], ...] = tuple(
    (kind, etree.XPath(path))
    for kind, path in (
        ("mkdocs", f"//article[{has_class('md-content__inner')}]"),
        ("docusaurus", f"//*[{has_class('theme-doc-markdown')}]"),
        ("docsy", f"//div[{has_class('td-content')}]"),
        ("doxygen", "//div[@id='doc-content'][.//div[" + has_class("contents") + "]]"),
        (  # default output (GENERATE_TREEVIEW=NO): div.header then div.contents, no wrapper
            "doxygen",
            "//*[div["
            + has_class("contents")
            + "][preceding-sibling::div["
            + has_class("header")
            + "]]]",
        ),
        ("javadoc", f"//div[{has_class('contentContainer')}]"),
        ("role_main", "//*[@role='main']"),
        ("sphinx", f"//div[{has_class('document')}]//div[{has_class('body')}]"),
        (
            "docbook",
            "/html/body/div[" + has_class(*_DOCBOOK_DIVS) + "]"
            "[../div[" + has_class("navheader", "navfooter") + "]"
            " or //meta[@name='generator'][contains(@content, 'DocBook')]]",
        ),
        ("main", "//main"),
        ("article", "//article[not(ancestor::article)]"),
        ("wordpress", f"//div[{has_class('entry-content')}]"),
        ("help_centre", f"//div[{has_class('article-body')}]"),
    )
)
_ARTICLES = etree.XPath(".//article[not(ancestor::article)]")
_VISIBLE_TEXT = etree.XPath(
    ".//text()[not(ancestor::script or ancestor::style or ancestor::noscript"
    " or ancestor::template)]"
)
ARTICLE_MIN_SHARE = 0.3
"""A lone generic ``<article>`` is the main region only when it holds this share of the
page's visible text (else it is a card or teaser, and trafilatura judges the page)."""


@dataclass(frozen=True)
class MainRegion:
    """A declared main region: the element and which rule found it (``kind``, e.g. 'sphinx')."""

    element: HtmlElement
    kind: str


def visible_chars(element: HtmlElement) -> int:
    """Characters of text outside script/style, whitespace runs counted once."""
    return sum(len(text.strip()) for text in _VISIBLE_TEXT(element))


def find_main_region(tree: HtmlElement) -> MainRegion | None:
    """The region the page declares as its main content, or None (trafilatura decides).

    Rules in order (first unique match wins): known generator containers, ``[role=main]``,
    Sphinx ``div.document div.body``, DocBook's top ``div`` beside ``navheader``/``navfooter``,
    one ``<main>`` (or, inside it, the top-level ``<article>`` holding at least half its text:
    the post, not the comment or teaser cards), one top-level ``<article>`` holding at least
    ``ARTICLE_MIN_SHARE`` of the page's visible text, WordPress ``.entry-content``,
    help-centre ``.article-body``. Must run before anything strips ``<aside>``/``<nav>`` (an
    article may sit inside an ``<aside>``).
    """
    for kind, xpath in _CANDIDATES:
        found = xpath(tree)
        if len(found) != 1:
            continue
        element = found[0]
        if kind in ("main", "role_main"):
            articles = _ARTICLES(element)
            if articles:
                sizes = [visible_chars(article) for article in articles]
                biggest = max(range(len(articles)), key=sizes.__getitem__)
                if sizes[biggest] >= 0.5 * visible_chars(element):
                    return MainRegion(articles[biggest], "article")
        if kind == "article":
            body = tree.body if tree.find("body") is not None else tree
            if visible_chars(element) < ARTICLE_MIN_SHARE * visible_chars(body):
                return None
        return MainRegion(element, kind)
    return None


# --------------------------------------------------------------------------- chrome

_CHROME_TAGS = (
    "script",
    "style",
    "noscript",
    "template",
    "svg",
    "iframe",
    "object",
    "embed",
    "canvas",
    "nav",
    "footer",
    "form",
    "button",
    "input",
    "select",
    "textarea",
    "label",
    "dialog",
    "link",
    "meta",
)
_CHROME_CLASSES = (
    # permalink signs (Sphinx, Docusaurus, MkDocs, Hugo, Doxygen)
    "headerlink",
    "hash-link",
    "anchor-link",
    "anchorjs-link",
    "heading-anchor",
    # in-page tables of contents (DocBook, Sphinx "contents" directive, Docusaurus, Hugo)
    "toc",
    "table-of-contents",
    "toctree-wrapper",
    "theme-doc-toc-mobile",
    "theme-doc-toc-desktop",
    "md-sidebar",
    # Doxygen's "Generated by" line (<hr class="footer"><address class="footer">) and the
    # hidden tooltips of its source listings
    "footer",
    "ttc",
    # breadcrumbs
    "breadcrumb",
    "breadcrumbs",
    "theme-doc-breadcrumbs",
    "wy-breadcrumbs",
    "navpath",
    # edit this page, version badges, feedback
    "edit-this-page",
    "theme-edit-this-page",
    "md-content__button",
    "edit-page",
    "editLink",
    "theme-doc-footer",
    "theme-doc-version-badge",
    "theme-doc-version-banner",
    # previous / next
    "navheader",
    "navfooter",
    "pagination-nav",
    "prev-next",
    "rst-footer-buttons",
    "md-footer",
    "pager",
    "post-navigation",
    # bylines, sharing and comments of articles (whole class tokens only)
    "byline",
    "article-byline",
    "post-meta",
    "entry-meta",
    "article-meta",
    "share",
    "sharing",
    "sharedaddy",
    "share-buttons",
    "social-share",
    "comments-area",
    "comment-respond",
    # newsletter boxes and related-post lists of blogs and news sites
    "newsletter",
    "newsletter-signup",
    "jp-relatedposts",
    "related-posts",
    "related-articles",
)
_CHROME_CLASS_SET = frozenset(_CHROME_CLASSES)
_CHROME_IDS = frozenset({"toc", "comments", "nav-path", "titlearea", "navrow1", "navrow2"})
_CHROME_ROLES = frozenset({"navigation", "search"})
_LOCAL_TOC = frozenset({"local", "topic"})  # with "contents": docutils' contents directive


def _is_chrome(element: HtmlElement) -> bool:
    """One element's chrome test (a Python set test per element: a 50-way XPath ``or``
    over every element was far slower on big Sphinx pages; docs/benchmarks.md)."""
    attrib = element.attrib
    classes = attrib.get("class")
    if classes:
        tokens = classes.split()
        if not _CHROME_CLASS_SET.isdisjoint(tokens):
            return True
        if "contents" in tokens and not _LOCAL_TOC.isdisjoint(tokens):
            return True
    return (
        attrib.get("role") in _CHROME_ROLES
        or attrib.get("aria-hidden") == "true"
        or ("hidden" in attrib and attrib.get("role") != "tabpanel")
        or attrib.get("id") in _CHROME_IDS
    )


_HEADING_SELF_LINKS = etree.XPath(
    "(.//h1|.//h2|.//h3|.//h4|.//h5|.//h6|.//dt)//a[starts-with(@href, '#')]"
)
_TOC_LABELS = frozenset({"table of contents", "contents", "on this page", "in this article"})
_LABEL_TAGS = frozenset({"p", "div", "span", "strong", "b", "h2", "h3", "h4", "h5", "h6"})


GENERIC_KINDS = frozenset({"main", "article", "wordpress", "help_centre"})
"""Regions found by generic markup (not a documentation generator's container): there an
``<aside>`` is a pull-out of related links or a promotion, not a note of the text, and a
``.sidebar`` column is the site's (a Sphinx ``aside.sidebar`` inside ``div.body`` is text)."""
_GENERIC_CHROME = etree.XPath(
    ".//aside[not("
    + has_class("note", "warning", "tip", "admonition", "callout", "important", "caution")
    + ")]|.//*["
    + has_class("sidebar", "side-bar", "sidenav", "side-nav", "widget-area")
    + "]"
)


_TOC_CLASSES = frozenset({"toc", "toctree-wrapper"})
_NESTED_LISTS = etree.XPath("(.//li|.//dd)/*[self::ul or self::ol or self::dl]")


def _is_page_list(element: HtmlElement) -> bool:
    """A TOC in the body that lists other pages (Sphinx toctree of a chapter page, DocBook's
    list of SQL commands) is the page's content; one whose links all go to one document
    (``#fragment`` or ``this-page.html#fragment``: the page's own sections) is chrome."""
    if _TOC_CLASSES.isdisjoint((element.get("class") or "").split()):
        return False
    documents = {(a.get("href") or "").partition("#")[0] for a in element.iter("a")}
    if len(documents) < 2:
        return False
    for sublist in _NESTED_LISTS(element):  # kept: the pages' titles, not their sections
        sublist.drop_tree()
    return True


def remove_chrome(region: HtmlElement, kind: str = "") -> None:
    """Delete, in place, the chrome generators put inside a main region.

    Removed: scripts and other non-text elements, ``<nav>``/``role=navigation``/
    ``role=search``, forms and buttons, hidden elements (not the inactive panels of tabs:
    Docusaurus and sphinx-tabs hide them until clicked), elements carrying one of
    ``_CHROME_CLASSES`` as a whole class token (permalinks, TOCs, breadcrumbs, edit links,
    previous/next, share buttons, comment forms), permalink anchors in headings and
    definition terms whose text has no letter or digit ('¶', '#'), and orphan
    "Table of Contents" labels; in regions of a ``GENERIC_KINDS`` kind, ``<aside>`` blocks
    that are not notes and sidebar columns. Tails (text after a removed element) are kept.
    """
    etree.strip_elements(region, *_CHROME_TAGS, with_tail=False)
    if kind in GENERIC_KINDS:
        for element in _GENERIC_CHROME(region):
            element.drop_tree()
    for element in [e for e in region.iterdescendants(etree.Element) if _is_chrome(e)]:
        if not _is_page_list(element):
            element.drop_tree()
    for link in _HEADING_SELF_LINKS(region):
        if not any(ch.isalnum() for ch in link.text_content()):
            link.drop_tree()
    for element in list(region.iter(*_LABEL_TAGS)):
        if (
            element is not region
            and (len(element) == 0 or (len(element) == 1 and len(element[0]) == 0))
            and element.text_content().strip().rstrip(":").casefold() in _TOC_LABELS
            and element.getparent() is not None
            and not _is_section_heading(element)
        ):
            element.drop_tree()


_HEADING_TAGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})


def _is_section_heading(element: HtmlElement) -> bool:
    """A heading with an anchor id of its own (``<h2><a id="md_toc"></a>Table of Contents``)
    titles a section about tables of contents (Doxygen's Markdown guide): not a stray label."""
    if element.tag not in _HEADING_TAGS:
        return False
    return bool(element.get("id") or (len(element) == 1 and element[0].get("id")))


_H1 = etree.XPath(".//h1|.//div[" + has_class("headertitle") + "]//div[" + has_class("title") + "]")


def region_h1(region: HtmlElement) -> str:
    """Text of the region's first ``<h1>`` ('' when it has none), whitespace collapsed.

    Doxygen's page title (``div.headertitle div.title``) counts as the h1 it stands for.
    """
    found = _H1(region)
    return " ".join(found[0].text_content().split()) if found else ""
