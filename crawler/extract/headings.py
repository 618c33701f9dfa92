"""Headings: each one's fragment id (for links into a part of a page), the page's own ``<h1>``
and the logo ``<h1>``s that name the site instead.

Pure functions on an lxml tree; nothing is modified. Read before chrome is removed.
"""

from __future__ import annotations

import re
from copy import copy

from lxml import etree
from lxml.html import HtmlElement

from crawler.extract.text import normalize_space

__all__ = ["anchor_for_heading", "heading_anchors"]

_HEADINGS = etree.XPath("//h1|//h2|//h3|//h4|//h5|//h6")
_BOILERPLATE_ANCESTORS = frozenset({"nav", "footer", "aside"})


def _is_self_link(link: HtmlElement) -> bool:
    """Permalink icons inside headings ('¶', '#', svg) that must not leak into heading text."""
    return (link.get("href") or "").startswith("#") and not any(
        ch.isalnum() for ch in link.text_content()
    )


def _heading_text(heading: HtmlElement) -> str:
    """Visible heading text without permalink glyphs (matches trafilatura's heading text)."""
    if any(_is_self_link(a) for a in heading.iter("a")):
        heading = copy(heading)
        for link in [a for a in heading.iter("a") if _is_self_link(a)]:
            link.drop_tree()
    return normalize_space(heading.text_content())


def _heading_id(heading: HtmlElement) -> str | None:
    """Fragment id of a heading: its own id, an inner <a id/name>, or its section's id."""
    own = heading.get("id")
    if own:
        return own.strip() or None
    for link in heading.iter("a"):
        ident = link.get("id") or link.get("name")
        if ident and ident.strip():
            return ident.strip()
    # Walk up while everything before the node in its parent carries no text (Sphinx's
    # <span id="label"></span> before the heading, DocBook's titlepage <div>s): the first
    # section/div/article id on the way is the heading's fragment.
    node = heading
    parent = node.getparent()
    while parent is not None and parent.tag in ("section", "div", "article", "header", "hgroup"):
        if (parent.text or "").strip() or any(
            (prev.text_content() or "").strip() or (prev.tail or "").strip()
            for prev in node.itersiblings(preceding=True)
        ):
            return None
        ident = parent.get("id", "").strip()
        if ident and parent.tag in ("section", "div", "article"):
            return ident
        node, parent = parent, parent.getparent()
    return None


_LOGO_HINT = re.compile(r"logo|brand|site-?(?:title|name)", re.IGNORECASE)


def _is_logo(heading: HtmlElement) -> bool:
    """Old themes wrap the site logo in <h1><a href="/">Site</a></h1>: a site name, no title."""
    if any(a.tag in ("main", "article") for a in heading.iterancestors()):
        return False
    hints = " ".join(filter(None, (heading.get("class"), heading.get("id"))))
    if _LOGO_HINT.search(hints):
        return True
    home = ("/", "./", "index.html")
    return any((a.get("href") or "").strip() in home for a in heading.iter("a"))


def heading_anchors(tree: HtmlElement) -> tuple[dict[str, str], str, list[str]]:
    """(heading text -> fragment id, page h1 text, logo h1 texts); nav/footer/aside skipped.

    The page h1 is the first one inside main/article, else the first non-logo one.
    """
    anchors: dict[str, str] = {}
    h1s: list[tuple[int, str]] = []
    logos: list[str] = []
    for heading in _HEADINGS(tree):
        if any(a.tag in _BOILERPLATE_ANCESTORS for a in heading.iterancestors()):
            continue
        text = _heading_text(heading)
        if not text:
            continue
        if heading.tag == "h1":
            if _is_logo(heading):
                logos.append(text)
            else:
                in_main = any(a.tag in ("main", "article") for a in heading.iterancestors())
                h1s.append((0 if in_main else 1, text))
        ident = _heading_id(heading)
        if ident and text not in anchors:
            anchors[text] = ident
    h1 = min(h1s, key=lambda ranked: ranked[0])[1] if h1s else ""
    return anchors, h1, logos


_MD_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|~<>])")


def anchor_for_heading(heading: str, anchors: dict[str, str]) -> str | None:
    """Fragment id for a Markdown heading line from ``content`` ('### queue\\_url' -> id).

    trafilatura backslash-escapes Markdown specials and wraps inline code in backticks,
    while ``anchors`` is keyed by the plain heading text; this bridges the two for chunkers.
    """
    text = heading.strip().lstrip("#").strip()
    text = _MD_ESCAPE.sub(r"\1", text.replace("`", ""))
    text = re.sub(r"(\*\*|__|\*|_)(\S(?:.*?\S)?)\1", r"\2", text)
    return anchors.get(normalize_space(text))
