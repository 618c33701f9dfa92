"""Everything done to one page's HTML, as one picklable call for a worker process.

Main text, metadata and language come from :func:`crawler.extract.extract_page`;
links are pulled here too so the reactor thread never parses HTML.
"""

from __future__ import annotations

import contextlib
import gc
import os
import threading
import time
from typing import Any
from urllib.parse import urljoin

import lxml.html
from lxml import etree

from crawler.appshell import app_shell_reason
from crawler.extract import ExtractedPage, ExtractOptions, extract_page
from crawler.urls import normalize_url
from pipelines.split import split_page

# Workers yield the CPU to the reactor process: it feeds them and paces the API sends,
# and queued behind them for a core it fell behind (the API channel ran 13 % under its
# limit while crawling in tests/perf). Extraction throughput is unchanged.
WORKER_NICENESS = 5

_SKIP_SCHEMES = ("mailto:", "javascript:", "tel:", "data:", "ftp:", "#")


def _exit_with_parent(parent: int) -> None:
    """A worker must not outlive a crawler killed with -9 (it would idle forever)."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def warm_up(parent: int | None = None) -> None:
    """Worker initializer: pay the import and profile-loading cost once per process.

    ``parent`` is the crawler's pid as the crawler saw it: read here, it would already be
    init's should the crawler die while this worker starts, and the worker would stay.
    """
    from crawler.extract import warm_up as warm_extraction

    watched = os.getppid() if parent is None else parent
    threading.Thread(target=_exit_with_parent, args=(watched,), daemon=True).start()
    warm_extraction()
    if WORKER_NICENESS and hasattr(os, "nice"):
        with contextlib.suppress(OSError):
            os.nice(WORKER_NICENESS)
    # What is loaded by now (libraries, langdetect's profiles; with fork, the crawler's
    # objects too) lives as long as the worker: keep the collector from rescanning it
    # (and, with fork, from un-sharing the parent's pages).
    gc.freeze()


_BYTES_PARSER = lxml.html.HTMLParser(encoding="utf-8")


class LinkParseError(ValueError):
    """The page's HTML could not be parsed for links, as text nor as bytes."""


def _link_tree(html: str) -> lxml.html.HtmlElement | None:
    """The page parsed for links; None for a document without markup.

    lxml refuses a ``str`` that starts with an XML declaration (XHTML, DocBook output):
    the text is then parsed as UTF-8 bytes, with the parser's encoding overriding the
    declaration. Raises :class:`LinkParseError` when both fail.
    """
    try:
        return lxml.html.document_fromstring(html)
    except etree.ParserError:  # "Document is empty": whitespace or comments only
        return None
    except ValueError as first:
        try:
            return lxml.html.document_fromstring(html.encode("utf-8"), parser=_BYTES_PARSER)
        except etree.ParserError:
            return None
        except ValueError as second:
            raise LinkParseError(f"{first}; as bytes: {second}") from None


def extract_links(html: str, base_url: str, limit: int) -> tuple[list[str], int]:
    """Absolute, normalized http(s) links of ``<a href>``, first ``limit`` distinct ones.

    Returns the links and how many more were dropped by ``limit`` (memory stays
    bounded on a page with 50,000 links). Raises :class:`LinkParseError` when the HTML
    cannot be parsed at all (never "no links" in silence).
    """
    tree = _link_tree(html)
    if tree is None:
        return [], 0
    base = tree.xpath("string(//base/@href)") or base_url
    base = urljoin(base_url, base)
    seen: dict[str, None] = {}
    dropped = 0
    for href in tree.xpath("//a/@href"):
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


def _with_parts(page: ExtractedPage, split: tuple[str, int] | None) -> dict[str, Any]:
    """The page as a dict; with its ``parts`` when ``split`` (document URL, max characters)
    is given and the page has content."""
    result = page.to_dict()
    if split is not None and not page.skip_reason:
        doc_url, max_chars = split
        result["parts"] = split_page(page.title, page.content, doc_url, max_chars, page.anchors)
        result["parts_limit"] = max_chars
    return result


def process_page(
    html: str,
    url: str,
    options: ExtractOptions,
    site_name: str,
    links_limit: int,
    split: tuple[str, int] | None = None,
    app_shell_check: bool = False,
) -> dict[str, Any]:
    """Extract one page; ``links_limit=0`` skips link extraction (not following).

    ``app_shell_check`` (``render_js: auto``): a page too thin to deliver gets ``app_shell``,
    the reason its HTML looks like a JavaScript application (:mod:`crawler.appshell`) or None.

    ``split`` is (document URL, max characters): an oversized page's ``parts`` are made here
    (see :func:`pipelines.split.split_page`), not in the reactor's item pipeline.
    ``discovery_error`` in the result says what could not be parsed (None when all went well).
    """
    page = extract_page(html, url, options, site_name=site_name)
    result = _with_parts(page, split)
    links: list[str] = []
    dropped = 0
    result["discovery_error"] = None
    if links_limit and not page.nofollow and page.skip_reason != "not_html":
        try:
            links, dropped = extract_links(html, url, links_limit)
        except LinkParseError as exc:
            result["discovery_error"] = f"links: {exc}"
    result["links"] = links
    result["links_dropped"] = dropped
    if app_shell_check and page.skip_reason in ("thin", "empty"):
        result["app_shell"] = app_shell_reason(html)
    return result


def process_document(
    body: bytes,
    url: str,
    kind: str,
    options: ExtractOptions,
    split: tuple[str, int] | None = None,
) -> dict[str, Any]:
    """Extract one linked document (``kind`` 'pdf' or 'docx'): :func:`process_page`'s
    result shape, without links (see :func:`crawler.documents.extract_document`)."""
    from crawler.documents import extract_document

    result = _with_parts(extract_document(body, url, kind, options), split)
    result.update(discovery_error=None, links=[], links_dropped=0)
    return result
