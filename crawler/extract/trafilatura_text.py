"""The trafilatura path: trafilatura judges what a page's main content is, as Markdown.

Used where a page declares no main region (:mod:`crawler.extract.mainregion`). trafilatura
copies the tree it is given (it never re-parses the HTML, and our tree is left as it was);
it runs in ``fast`` mode first and only falls back to its full cascade (readability/justext
comparison, dearer) when the fast result is short.
"""

from __future__ import annotations

from copy import copy
from functools import lru_cache
from typing import Any

import trafilatura
from lxml.html import HtmlElement
from trafilatura.settings import Extractor, use_config

from crawler.options import ExtractOptions

__all__ = ["FULL_CASCADE_BELOW_CHARS", "trafilatura_markdown"]

FULL_CASCADE_BELOW_CHARS = 1000
"""A fast-mode result shorter than this is re-extracted with trafilatura's full cascade."""


@lru_cache(maxsize=1)
def _trafilatura_config() -> Any:
    """trafilatura's ConfigParser, read once per process (it re-reads settings.cfg otherwise)."""
    config = use_config()
    config.set("DEFAULT", "EXTENSIVE_DATE_SEARCH", "off")
    config.set("DEFAULT", "EXTRACTION_TIMEOUT", "0")
    return config


@lru_cache(maxsize=64)
def _extractor(options: ExtractOptions, fast: bool) -> Extractor:
    """One trafilatura Extractor per (options, mode) per process; copied per page for the URL."""
    return Extractor(
        config=_trafilatura_config(),
        output_format="markdown",
        fast=fast,
        precision=options.favor_precision,
        comments=options.include_comments,
        formatting=True,
        links=options.include_links,
        images=options.include_images,
        tables=options.include_tables,
        with_metadata=False,
    )


def trafilatura_markdown(tree: HtmlElement, url: str, options: ExtractOptions) -> str:
    """Markdown main text; fast path first, full cascade only when the fast result is short."""
    modes = (True, False) if options.fast else (False,)
    best = ""
    for fast in modes:
        extractor = copy(_extractor(options, fast))
        extractor.url = extractor.source = url
        text = trafilatura.extract(tree, options=extractor) or ""
        if len(text.strip()) >= len(best.strip()):
            best = text
        if len(best.strip()) >= FULL_CASCADE_BELOW_CHARS:
            break
    return best
