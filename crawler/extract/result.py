"""What extraction returns: typed, picklable results that cross from a worker to the crawler.

Only dataclasses here, no parser nor extractor imports: the crawler process unpickles these
without loading trafilatura or langdetect (see :mod:`crawler.extract`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from crawler.langcodes import DEFAULT_LANGUAGE

__all__ = ["EXTRACTORS", "ExtractedPage", "PageResult"]

EXTRACTORS = ("region", "trafilatura")
"""Which path made a page's text: its declared main region converted by html-to-markdown,
or trafilatura's judgement of the whole page."""


@dataclass
class ExtractedPage:
    """Extraction result; ``content`` is '' and ``skip_reason`` set when nothing is indexable.

    ``skip_reason`` is decided by :func:`crawler.extract.skip.skip_reason` (or, before a page
    could be read at all, ``not_html``, ``empty``, ``parse_error``; for a linked document also
    ``no_text``). ``noindex``/``nofollow`` are the page's robots directives, its
    ``X-Robots-Tag`` header and ``<meta>`` tags combined.
    """

    url: str
    title: str = ""
    content: str = ""
    language: str = DEFAULT_LANGUAGE
    canonical_url: str | None = None
    description: str | None = None
    author: str | None = None
    published: str | None = None
    modified: str | None = None
    noindex: bool = False
    nofollow: bool = False
    html_lang: str | None = None
    anchors: dict[str, str] = field(default_factory=dict)
    content_hash: str = ""
    skip_reason: str | None = None
    extractor: str = ""
    """'region' or 'trafilatura' (see EXTRACTORS); '' when the page was not extracted."""
    parent_title: str | None = None
    """The page's parent section as the site's own navigation names it."""


@dataclass
class PageResult:
    """What an extraction worker returns for one page or linked document.

    - ``page``: the extraction; its ``skip_reason`` is final (the crawl, the inline path and
      ``kb-explain`` read it, none decides again).
    - ``links``: absolute, normalized http(s) links of the page, at most the limit asked for,
      none when its robots directives say ``nofollow``; ``links_dropped``: how many more
      the limit cut.
    - ``discovery_error``: what could not be parsed for links (None when all went well).
    - ``parts``: the page's documents split at ``parts_limit`` characters
      (:func:`pipelines.split.split_page`), None when the worker was not asked to split.
    - ``app_shell``: why a thin page's HTML looks like a JavaScript application
      (:mod:`crawler.appshell`), when the check was asked for; else None.
    """

    page: ExtractedPage
    links: list[str] = field(default_factory=list)
    links_dropped: int = 0
    discovery_error: str | None = None
    parts: list[dict[str, Any]] | None = None
    parts_limit: int = 0
    app_shell: str | None = None
