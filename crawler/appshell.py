"""Does a page's static HTML look like a JavaScript application shell?

``render_js: auto`` asks this of a page whose static HTML gave too little text (``thin`` or
``empty``): only then is the page fetched again through the browser. A pure function of the
HTML; it runs in the extraction worker (:func:`crawler.extract.worker.process_page`, on the
page's one parsed tree, before extraction changes it), never on the reactor.

The signs, the first that holds is the reason (stat ``render/auto/<reason>``):

- ``mount_point``: an element with a framework's mount id (``#root``, ``#app``, ``#__next``,
  ``#__nuxt``, ...) or an ``<app-root>`` holding (almost) no text: React, Vue, Next.js, Nuxt,
  Gatsby, Angular, Svelte render into it.
- ``noscript``: a ``<noscript>`` whose text asks for JavaScript ("You need to enable
  JavaScript to run this app.").
- ``scripts_only``: the body has scripts and no content element with text (no paragraph,
  heading, list item, table cell, preformatted block or quotation).
"""

from __future__ import annotations

import re

import lxml.html
from lxml import etree

__all__ = ["MOUNT_IDS", "app_shell_reason"]

#: ids frameworks mount their application on (create-react-app/Vite, Vue, Next.js, Nuxt,
#: Gatsby, Quasar, Svelte templates).
MOUNT_IDS = frozenset(
    {"root", "app", "__next", "__nuxt", "___gatsby", "q-app", "svelte", "main-app"}
)
#: A mount point with less visible text than this is empty (a "Loading…" placeholder).
MOUNT_EMPTY_CHARS = 40
_ASKS_FOR_JS = re.compile(r"java\s*script|\bjs\b", re.IGNORECASE)
_CONTENT_TAGS = ("p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "td", "dd", "pre", "blockquote")
_VISIBLE_TEXT = ".//text()[not(ancestor::script or ancestor::style or ancestor::template \
or ancestor::noscript)]"


def _visible_text(element: lxml.html.HtmlElement) -> str:
    """Text of ``element`` without scripts, styles, templates and noscript fallbacks."""
    return " ".join(" ".join(element.xpath(_VISIBLE_TEXT)).split())


def _parse(html: str | bytes) -> lxml.html.HtmlElement | None:
    try:
        if isinstance(html, str):
            try:
                return lxml.html.document_fromstring(html)
            except ValueError:  # a str with an XML declaration: parse its bytes
                html = html.encode("utf-8")
        return lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError):
        return None


def app_shell_reason(html: str | bytes | lxml.html.HtmlElement) -> str | None:
    """Why ``html`` (text, or the page already parsed) looks like an application shell, or
    None when it does not; a tree is read, never changed.

    Returns ``"mount_point"``, ``"noscript"`` or ``"scripts_only"`` (see the module doc),
    checked in that order. HTML that cannot be parsed is not a shell (None). Whether the
    page's text is too short is the caller's question (the extraction's ``thin``/``empty``).
    """
    tree = html if isinstance(html, lxml.html.HtmlElement) else _parse(html)
    if tree is None:
        return None
    # (an id test in Python: an XPath comparing each element's id with every name is slower;
    # docs/benchmarks.md)
    mounts = [e for e in tree.xpath("//*[@id]") if e.get("id", "").strip() in MOUNT_IDS]
    for element in [*tree.iter("app-root"), *mounts]:
        if len(_visible_text(element)) < MOUNT_EMPTY_CHARS:
            return "mount_point"
    for noscript in tree.iter("noscript"):
        if _ASKS_FOR_JS.search(noscript.text_content() or ""):
            return "noscript"
    if next(tree.iter("script"), None) is not None:
        body = tree.find("body")
        for element in (body if body is not None else tree).iter(*_CONTENT_TAGS):
            if _visible_text(element):
                return None
        return "scripts_only"
    return None
