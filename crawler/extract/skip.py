"""Why a page gives no document: the one rule, for the crawl, its inline path and kb-explain.

The extraction worker decides (:func:`crawler.extract.core.extract_parsed`,
:func:`crawler.documents.extract_document`), given the response's ``X-Robots-Tag``
directives and the page; the spider and ``scrapy kb-explain`` read the reason and never
decide again, so they cannot disagree. The reasons, first that holds
(:data:`crawler.runrecords.REASONS` explains each to operators):

- ``noindex``: the robots directives for us say so: the ``X-Robots-Tag`` header or a
  ``<meta name="robots">`` / ``<meta name="<our token>">`` (:mod:`crawler.robots_directives`);
- ``index_page`` / ``search_page``: a generated index or a search page
  (:mod:`crawler.extract.pagekind`);
- ``empty`` / ``thin``: no main text, or less than the site's ``min_chars``; a page that only
  sends the browser elsewhere is a ``redirect_stub`` instead.

Before a page can be judged, reading it may fail: ``not_html``, ``empty``, ``parse_error``
(:mod:`crawler.extract.parse`) and, for a linked document, ``no_text`` (a scanned PDF).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crawler.robots_directives import RobotsDirectives

__all__ = ["skip_reason"]


def skip_reason(
    robots: RobotsDirectives,
    *,
    kind: str | None = None,
    content: str | None = None,
    redirect: bool = False,
    min_chars: int = 0,
) -> str | None:
    """The reason a page gives no document, or None when it is delivered.

    ``robots``: its directives for us, header and meta combined; ``kind``: ``index_page``,
    ``search_page`` or None; ``content``: its main text, None while not converted yet (a page
    skipped on ``robots`` or ``kind`` is never converted: the caller asks before converting);
    ``redirect``: whether it sends the browser elsewhere; ``min_chars``: the site's minimum.
    """
    if robots.noindex:
        return "noindex"
    if kind:
        return kind
    if content is None:
        return None
    if not content:
        return "redirect_stub" if redirect else "empty"
    if len(content) < min_chars:
        return "redirect_stub" if redirect else "thin"
    return None
