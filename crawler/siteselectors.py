"""A site's own selectors and title suffix, for themes the generic extraction misreads.

``content_selector`` (CSS): the page's text is taken only from inside the matching element(s),
which become the page's main region. ``exclude_selectors`` (CSS): matching elements are dropped
from the page before anything else reads it. ``title_suffix``: a literal string, or a regular
expression written between slashes (``/ [-|] Acme( Help)?$/``), removed from the end of every
title. Selectors are CSS compiled to XPath by cssselect (the library Scrapy's own selectors
use), once per :class:`crawler.options.ExtractOptions` object and process.

Pure functions on an lxml tree (run in the extraction workers); they modify it in place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from cssselect import HTMLTranslator, SelectorError
from lxml import etree

if TYPE_CHECKING:
    from lxml.html import HtmlElement

    from crawler.options import ExtractOptions

__all__ = [
    "SiteSelectors",
    "compile_selector",
    "compile_title_suffix",
    "remove_title_suffix",
    "site_selectors",
]

_TRANSLATOR = HTMLTranslator()
_TRAILING_SEPARATORS = " \t|-–—·:»,"


def compile_selector(css: str) -> etree.XPath:
    """The XPath of CSS selector ``css``; ``ValueError`` (one line) when it is not valid CSS
    (or uses what lxml cannot run, such as pseudo-elements)."""
    if not css or not css.strip():
        raise ValueError("a CSS selector cannot be empty")
    try:
        return etree.XPath(_TRANSLATOR.css_to_xpath(css))
    except (SelectorError, etree.XPathError) as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        raise ValueError(f"invalid CSS selector {css!r}: {message}") from None


def compile_title_suffix(value: str) -> re.Pattern[str]:
    """The pattern removing ``value`` from the end of a title.

    ``/.../`` is a regular expression (matched at the end, case-insensitive); anything else is
    a literal string. ``ValueError`` (one line) for an invalid regex or an empty value.
    """
    text = value.strip()
    if not text:
        raise ValueError("title_suffix cannot be empty")
    if len(text) >= 2 and text.startswith("/") and text.endswith("/"):
        body = text[1:-1]
        try:
            re.compile(body)
        except re.error as exc:
            raise ValueError(f"invalid regex {body!r}: {exc}") from None
    else:
        body = re.escape(value.rstrip())
    return re.compile(f"(?:{body})\\s*$", re.IGNORECASE)


def remove_title_suffix(title: str, pattern: re.Pattern[str] | None) -> str:
    """``title`` without the suffix (and the separators left before it); unchanged when the
    suffix is absent or is the whole title."""
    if pattern is None or not title:
        return title
    cut = pattern.sub("", title, count=1).rstrip(_TRAILING_SEPARATORS)
    return cut or title


@dataclass(frozen=True)
class SiteSelectors:
    """A site's compiled selectors (see the module doc)."""

    content: etree.XPath | None
    exclude: tuple[etree.XPath, ...]
    title_suffix: re.Pattern[str] | None

    def drop_excluded(self, tree: HtmlElement) -> int:
        """Remove every element an exclude selector matches (their tail text stays).
        Returns how many were removed."""
        removed = 0
        for xpath in self.exclude:
            for element in xpath(tree):
                if element.getparent() is not None:
                    element.drop_tree()
                    removed += 1
        return removed

    def content_region(self, tree: HtmlElement) -> HtmlElement | None:
        """The element the content selector matches; several (outermost ones, in document
        order) are gathered under one ``<div>``; None when nothing matches."""
        if self.content is None:
            return None
        found = [e for e in self.content(tree) if isinstance(e.tag, str)]
        chosen = set(found)
        outer = [e for e in found if not any(a in chosen for a in e.iterancestors())]
        if len(outer) <= 1:
            return outer[0] if outer else None
        body = tree.find("body")
        region = etree.SubElement(body if body is not None else tree, "div")
        for element in outer:
            tail, element.tail = element.tail, None
            region.append(element)  # moved, not copied
            element.tail = tail
        return region


@lru_cache(maxsize=32)
def site_selectors(options: ExtractOptions) -> SiteSelectors | None:
    """The compiled selectors of ``options`` (None when it sets none); once per options object
    and process."""
    if not (options.content_selector or options.exclude_selectors or options.title_suffix):
        return None
    return SiteSelectors(
        content=compile_selector(options.content_selector) if options.content_selector else None,
        exclude=tuple(compile_selector(css) for css in options.exclude_selectors),
        title_suffix=(compile_title_suffix(options.title_suffix) if options.title_suffix else None),
    )
