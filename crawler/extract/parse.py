"""Sniff, decode and parse a page's HTML, once.

Every later stage reads the tree made here (and the last ones change it in place): nothing
parses the page's HTML a second time, not link discovery, not trafilatura (which copies the
tree it is given).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from lxml import etree
from lxml.html import HtmlElement, HTMLParser, document_fromstring

__all__ = ["NotHtmlError", "ParsedPage", "parse_html", "parse_page"]

logger = logging.getLogger(__name__)

_BINARY_SAMPLE_CHARS = 4096
_MAX_CONTROL_RATIO = 0.01
_MAX_REPLACEMENT_RATIO = 0.1

_PARSER = HTMLParser(
    remove_comments=True, remove_pis=True, collect_ids=False, default_doctype=False
)
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)
_XML_INCOMPATIBLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_CONTROL_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


class NotHtmlError(Exception):
    """Input is binary or has no markup at all."""


def _looks_binary(text: str) -> bool:
    """Binary bodies (images/PDFs served as text/html) show up as NULs, controls or U+FFFD.

    A share, not a count: an HTML page with a few stray NULs (a CMS bug) is still a page,
    while binary data has controls or replacement characters all through its first 4 KiB.
    """
    sample = text[:_BINARY_SAMPLE_CHARS]
    if not sample:
        return False
    controls = len(_CONTROL_CHARS.findall(sample))
    replaced = sample.count("\ufffd")  # some mis-decoded accents are fine, binary is ~50 %
    return (
        controls > max(8, len(sample) * _MAX_CONTROL_RATIO)
        or replaced > len(sample) * _MAX_REPLACEMENT_RATIO
    )


def parse_html(html: str | bytes) -> HtmlElement | None:
    """Parse once with lxml; None for an empty document, NotHtmlError for binary/plain data."""
    if isinstance(html, bytes):
        html = html.decode("utf-8", errors="replace")
    if not html or not html.strip():
        return None
    if _looks_binary(html) or "<" not in html[:65536]:
        raise NotHtmlError
    if html.lstrip()[:5].lower() == "<?xml":
        html = _XML_DECL.sub("", html, count=1)
    if _XML_INCOMPATIBLE.search(html):
        html = _XML_INCOMPATIBLE.sub("", html)
    try:
        return document_fromstring(html, parser=_PARSER)
    except etree.ParserError:  # "Document is empty"
        return None


@dataclass
class ParsedPage:
    """A page parsed once: its ``tree``, or why there is none.

    ``unreadable`` is ``not_html`` (binary data or no markup), ``empty`` (no document) or
    ``parse_error`` (the parser failed; ``error`` says how) when ``tree`` is None.
    """

    tree: HtmlElement | None
    unreadable: str | None = None
    error: str | None = None


def parse_page(html: str | bytes, url: str = "") -> ParsedPage:
    """:func:`parse_html` that never raises: a failure is a :class:`ParsedPage` saying why
    (logged as a warning naming ``url``)."""
    try:
        tree = parse_html(html)
    except NotHtmlError:
        return ParsedPage(None, "not_html")
    except Exception as exc:
        logger.warning("extraction failed for %s", url, exc_info=True)
        return ParsedPage(None, "parse_error", f"{type(exc).__name__}: {exc}")
    return ParsedPage(tree) if tree is not None else ParsedPage(None, "empty")
