"""What an extraction worker process runs: one picklable call per page or linked document.

:func:`process_page` parses the page's HTML once (:mod:`crawler.extract.parse`), reads its
links from that tree before extraction changes it, extracts it
(:func:`crawler.extract.core.extract_parsed`) and, when asked, splits it; the reactor thread
never parses HTML. Both calls return a :class:`~crawler.extract.result.PageResult`, whose
``page.skip_reason`` is final (:mod:`crawler.extract.skip`). :func:`warm_up` is the
workers' initializer.
"""

from __future__ import annotations

import contextlib
import gc
import os
import threading
import time
from typing import TYPE_CHECKING, Any

from crawler.appshell import app_shell_reason
from crawler.extract.core import extract_parsed
from crawler.extract.links import page_links
from crawler.extract.metadata import NO_DIRECTIVES, meta_map, robots_directives
from crawler.extract.parse import parse_page
from crawler.extract.result import ExtractedPage, PageResult
from pipelines.split import split_page

if TYPE_CHECKING:
    from crawler.options import ExtractOptions
    from crawler.robots_directives import RobotsDirectives

__all__ = ["WORKER_NICENESS", "process_document", "process_page", "warm_up"]

# Workers yield the CPU to the reactor process: it feeds them and paces the API sends,
# and queued behind them for a core it fell behind (the API channel ran under its limit
# while crawling in tests/perf; docs/benchmarks.md). Extraction throughput is unchanged.
WORKER_NICENESS = 5


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
    from crawler.extract.core import warm_up as warm_extraction

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


def _parts(page: ExtractedPage, split: tuple[str, int] | None) -> dict[str, Any]:
    """``parts`` and ``parts_limit`` of a :class:`PageResult`: the page split when ``split``
    (document URL, max characters) is given and the page has content."""
    if split is None or page.skip_reason:
        return {}
    doc_url, max_chars = split
    parts = split_page(page.title, page.content, doc_url, max_chars, page.anchors)
    return {"parts": parts, "parts_limit": max_chars}


def process_page(
    html: str,
    url: str,
    options: ExtractOptions,
    site_name: str,
    links_limit: int,
    split: tuple[str, int] | None = None,
    app_shell_check: bool = False,
    header: RobotsDirectives = NO_DIRECTIVES,
) -> PageResult:
    """Extract one page; its links too, at most ``links_limit`` (0: none, not following).

    ``header`` is the response's ``X-Robots-Tag`` directives: with the page's robots
    ``<meta>`` tags it decides ``noindex`` (the page's ``skip_reason``) and ``nofollow``
    (no links read). ``split`` is (document URL, max characters): an oversized page's
    ``parts`` are made here (see :func:`pipelines.split.split_page`), not in the reactor's
    item pipeline. ``app_shell_check`` (``render_js: auto``): a page too thin to deliver
    gets ``app_shell``, the reason its HTML looks like a JavaScript application
    (:mod:`crawler.appshell`) or None. ``discovery_error`` says what could not be parsed.
    """
    parsed = parse_page(html, url)
    tree = parsed.tree
    links: list[str] = []
    dropped = 0
    shell = None
    if tree is not None:  # read before extraction changes the tree
        robots = robots_directives(meta_map(tree), options.robots_meta_names, header)
        if links_limit and not robots.nofollow:
            links, dropped = page_links(tree, url, links_limit)
        if app_shell_check:
            shell = app_shell_reason(tree)
    page = extract_parsed(parsed, url, options, site_name=site_name, header=header)
    return PageResult(
        page,
        links=links,
        links_dropped=dropped,
        discovery_error=f"links: {parsed.error}" if parsed.error and links_limit else None,
        app_shell=shell if page.skip_reason in ("thin", "empty") else None,
        **_parts(page, split),
    )


def process_document(
    body: bytes,
    url: str,
    kind: str,
    options: ExtractOptions,
    split: tuple[str, int] | None = None,
    header: RobotsDirectives = NO_DIRECTIVES,
) -> PageResult:
    """Extract one linked document (``kind`` 'pdf' or 'docx'; ``header`` its
    ``X-Robots-Tag`` directives): :func:`process_page`'s result, without links (see
    :func:`crawler.documents.extract_document`)."""
    from crawler.documents import extract_document

    page = extract_document(body, url, kind, options, header=header)
    return PageResult(page, **_parts(page, split))
