"""The extraction stages put together: one page's HTML (or parsed tree) in, an
:class:`~crawler.extract.result.ExtractedPage` out.

Pure, module-level functions (html in, data out) so they run in a process-pool worker: no
Scrapy imports, no I/O, no shared mutable state except per-process caches (trafilatura
``Extractor`` objects, compiled XPaths, langdetect profiles).

Two paths make the text (``ExtractedPage.extractor``): where the page declares its main
region (:mod:`crawler.extract.mainregion`), that region, cleaned of chrome by rule, is
converted by html-to-markdown (:mod:`crawler.extract.markdown`); elsewhere trafilatura judges
what the main content is (:mod:`crawler.extract.trafilatura_text`). Why a page gives no
document is decided by :func:`crawler.extract.skip.skip_reason`.

Cost model, per page: the HTML is parsed once (:mod:`crawler.extract.parse`); head
metadata, robots directives, anchors and the title are read from that tree with a few
XPaths. A declared region is serialised once and converted; otherwise the same tree is
lightly pre-cleaned and handed to trafilatura, which copies it instead of re-parsing.
"""

from __future__ import annotations

import logging
import re

from crawler.extract.headings import heading_anchors
from crawler.extract.mainregion import MainRegion, find_main_region, region_h1, remove_chrome
from crawler.extract.markdown import region_to_markdown
from crawler.extract.markdown_repair import repair_markdown
from crawler.extract.metadata import NO_DIRECTIVES, read_metadata
from crawler.extract.pagekind import index_or_search, redirects
from crawler.extract.parse import ParsedPage, parse_page
from crawler.extract.preclean import preclean
from crawler.extract.result import ExtractedPage
from crawler.extract.skip import skip_reason
from crawler.extract.text import content_fingerprint
from crawler.extract.titles import (
    clean_title_for,
    home_link_names,
    parent_links,
    parent_title,
    qualify_title,
    title_from_url,
)
from crawler.extract.trafilatura_text import trafilatura_markdown
from crawler.language import DEFAULT_LANGUAGE, detect_language
from crawler.options import ExtractOptions
from crawler.robots_directives import RobotsDirectives
from crawler.siteselectors import remove_title_suffix, site_selectors

__all__ = ["DEFAULT_OPTIONS", "extract_page", "extract_parsed", "unreadable_page", "warm_up"]

logger = logging.getLogger(__name__)

DEFAULT_OPTIONS = ExtractOptions()

_FENCED_BLOCK = re.compile(r"^(`{3,}|~{3,})[^\n]*\n.*?^\1\s*$", re.MULTILINE | re.DOTALL)


def _prose(markdown: str) -> str:
    """Content without fenced code, so English keywords in code do not sway language detection."""
    return _FENCED_BLOCK.sub(" ", markdown)


def _language(text: str, html_lang: str | None, options: ExtractOptions) -> str:
    """Forced language, else detected from prose with the declared language as fallback."""
    if options.forced_language:
        return options.forced_language
    return detect_language(text, html_lang=html_lang, sample_chars=options.lang_sample_chars)


def unreadable_page(url: str, options: ExtractOptions, reason: str) -> ExtractedPage:
    """The result for a page that could not be read (``reason``: not_html, empty,
    parse_error): a title from its URL, the forced language or the default one."""
    return ExtractedPage(
        url=url,
        title=title_from_url(url),
        language=options.forced_language or DEFAULT_LANGUAGE,
        skip_reason=reason,
    )


def _extract(
    parsed: ParsedPage,
    url: str,
    options: ExtractOptions,
    site_name: str | None,
    header: RobotsDirectives,
) -> ExtractedPage:
    """extract_parsed() without the catch-all; may raise on pathological input."""
    tree = parsed.tree
    if tree is None:
        return unreadable_page(url, options, parsed.unreadable or "empty")

    selectors = site_selectors(options)
    chosen = None
    if selectors is not None:  # the site file's own selectors come before anything else
        selectors.drop_excluded(tree)
        chosen = selectors.content_region(tree)
    meta = read_metadata(tree, url, options.robots_meta_names, header)
    anchors, h1, logos = heading_anchors(tree)
    home_names = home_link_names(tree, url)
    parents = parent_links(tree)
    if chosen is not None:  # the site's content_selector names the main region
        region: MainRegion | None = MainRegion(chosen, "selector")
    else:
        region = find_main_region(tree)
    stub = redirects(tree, meta.metas)
    if region is not None:
        remove_chrome(region.element, region.kind)  # a toctree is not what makes an index
        h1 = region_h1(region.element) or h1
    kind = index_or_search(tree, region.element if region is not None else None)
    site_names = tuple(n for n in (site_name, meta.site_name, *logos, *home_names) if n)
    suffix = selectors.title_suffix if selectors is not None else None
    raw_title = remove_title_suffix(meta.raw_title, suffix)
    title = clean_title_for(raw_title, site_names, h1) or h1 or title_from_url(url)
    title = remove_title_suffix(title, suffix)
    parent = parent_title(parents, url, title, site_names)
    title = qualify_title(title, parent)

    page = ExtractedPage(
        url=url,
        title=title,
        canonical_url=meta.canonical_url,
        description=meta.description,
        author=meta.author,
        published=meta.published,
        modified=meta.modified,
        noindex=meta.robots.noindex,
        nofollow=meta.robots.nofollow,
        html_lang=meta.html_lang,
        anchors=anchors,
        parent_title=parent or None,
    )
    page.skip_reason = skip_reason(meta.robots, kind=kind)
    if page.skip_reason:  # not converted: nothing of it is delivered
        page.language = _language("", meta.html_lang, options)
        return page

    if region is not None:
        content = region_to_markdown(
            region.element,
            links=options.include_links,
            images=options.include_images,
            tables=options.include_tables,
            base_url=url,
        )
        page.extractor = "region"
    else:
        code_languages = preclean(tree)
        content = repair_markdown(trafilatura_markdown(tree, url, options), code_languages)
        page.extractor = "trafilatura"
    page.language = _language(_prose(content), meta.html_lang, options)
    page.skip_reason = skip_reason(
        meta.robots, content=content, redirect=stub, min_chars=options.min_chars
    )
    if not page.skip_reason:
        page.content = content
        page.content_hash = content_fingerprint(content)
    return page


def extract_parsed(
    parsed: ParsedPage,
    url: str,
    options: ExtractOptions = DEFAULT_OPTIONS,
    *,
    site_name: str | None = None,
    header: RobotsDirectives = NO_DIRECTIVES,
) -> ExtractedPage:
    """Main text (Markdown) and metadata of a page parsed by
    :func:`crawler.extract.parse.parse_page`; never raises for bad input.

    Changes ``parsed.tree`` in place (chrome and noise removed): read what else is needed
    from it (links) first. ``header`` is the response's ``X-Robots-Tag`` directives
    (:func:`crawler.robots_directives.header_directives`); ``site_name`` helps cut the
    site's name from the title. Skipped pages (``skip_reason`` set, see
    :mod:`crawler.extract.skip`) have ``content == ''`` and ``content_hash == ''`` but still
    carry title, robots flags and other metadata so the spider can log and follow links.
    """
    try:
        return _extract(parsed, url, options, site_name, header)
    except Exception:
        logger.warning("extraction failed for %s", url, exc_info=True)
        return unreadable_page(url, options, "parse_error")


def extract_page(
    html: str | bytes,
    url: str,
    options: ExtractOptions = DEFAULT_OPTIONS,
    *,
    site_name: str | None = None,
    header: RobotsDirectives = NO_DIRECTIVES,
) -> ExtractedPage:
    """:func:`extract_parsed` of ``html`` (str, or bytes taken as UTF-8); never raises."""
    return extract_parsed(parse_page(html, url), url, options, site_name=site_name, header=header)


_WARM_UP_HTML = (
    "<html lang='en'><head><title>Warm up</title></head><body><article><h1 id='w'>Warm up</h1>"
    + "<p>This paragraph only exists to warm up parser, extractor and language caches.</p>" * 6
    + "<pre><code class='language-python'>print('hi')\n\nprint('bye')</code></pre>"
    + "<table><tr><th>a</th></tr><tr><td>b</td></tr></table></article></body></html>"
)


def warm_up(options: ExtractOptions = DEFAULT_OPTIONS) -> None:
    """Pool-initializer hook: pay imports, XPath compilation and cache fills before real work."""
    extract_page(_WARM_UP_HTML, "https://warm-up.invalid/", options)
