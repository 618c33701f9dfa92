"""Turn one HTML page into a knowledge-base document: main text as Markdown plus metadata.

Everything here is a pure, module-level function (html in, data out) so it can run in a
process-pool worker: no Scrapy imports, no I/O, no shared mutable state except per-process
caches (trafilatura ``Extractor`` objects, compiled XPaths, langdetect profiles).

Two paths make the text (``ExtractedPage.extractor``): where the page declares its main
region (:mod:`crawler.mainregion`), that region, cleaned of chrome by rule, is converted by
html-to-markdown (:mod:`crawler.markdown`); elsewhere trafilatura judges what the main content
is. Generated index and search pages and redirect stubs are skipped (:mod:`crawler.pagekind`).

Cost model, per page: the HTML is parsed once with lxml; head metadata, robots directives,
anchors and the title are read from that tree with a few XPaths. A declared region is
serialised once and converted (1-3 ms for a large documentation page); otherwise the same tree
is lightly pre-cleaned and handed to trafilatura (which copies it instead of re-parsing).
Trafilatura runs in ``fast`` mode first and only falls back to its full cascade (readability/justext
comparison, roughly twice the cost) when the fast result is short. ``trafilatura.extract_metadata``
is deliberately not used: it costs ~50 ms on a 100 KB page (htmldate's extensive search) and
picked a copyright year as the publication date on our fixtures.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from copy import copy
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

import trafilatura
from lxml import etree
from lxml.html import HtmlElement, HTMLParser, document_fromstring
from trafilatura.settings import Extractor, use_config

from crawler.language import DEFAULT_LANGUAGE, detect_language
from crawler.mainregion import MainRegion, find_main_region, region_h1, remove_chrome
from crawler.markdown import code_language, region_to_markdown
from crawler.options import ExtractOptions
from crawler.pagekind import index_or_search, redirects
from crawler.robots_directives import meta_directives
from crawler.siteselectors import remove_title_suffix, site_selectors

__all__ = [
    "DEFAULT_OPTIONS",
    "EXTRACTORS",
    "SKIP_REASONS",
    "ExtractOptions",
    "ExtractedPage",
    "anchor_for_heading",
    "clean_title",
    "content_fingerprint",
    "extract_page",
    "title_from_url",
    "warm_up",
]

LOGGER = logging.getLogger(__name__)

SKIP_REASONS = frozenset(
    {
        "empty",
        "thin",
        "noindex",
        "not_html",
        "parse_error",
        "index_page",
        "search_page",
        "redirect_stub",
    }
)
EXTRACTORS = ("region", "trafilatura")
"""Which path made a page's text: its declared main region converted by html-to-markdown,
or trafilatura's judgement of the whole page."""

FULL_CASCADE_BELOW_CHARS = 1000
"""A fast-mode result shorter than this is re-extracted with trafilatura's full cascade."""

_MAX_JSONLD_CHARS = 200_000
_BINARY_SAMPLE_CHARS = 4096
_MAX_CONTROL_RATIO = 0.01
_MAX_REPLACEMENT_RATIO = 0.1


DEFAULT_OPTIONS = ExtractOptions()


@dataclass
class ExtractedPage:
    """Extraction result; ``content`` is '' and ``skip_reason`` set when nothing is indexable."""

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

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-serialisable) for pipelines and IPC."""
        return asdict(self)


# --------------------------------------------------------------------------- small helpers

_WS = re.compile(r"\s+")


def _norm_ws(text: str | None) -> str:
    """Collapse all whitespace runs to single spaces and strip."""
    return _WS.sub(" ", text).strip() if text else ""


def content_fingerprint(text: str) -> str:
    """sha256 hex of whitespace-normalised text, so re-wrapped but identical text is unchanged."""
    return hashlib.sha256(_norm_ws(text).encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- titles

_TITLE_SEP = re.compile(r"(\s+(?:\||-|–|—|·|::|»)\s+)")
_TITLE_SEP_END = re.compile(r"(?:\s+(?:\||-|–|—|·|::|»)\s+|:\s+)$")
"""Before a page's own heading at the end of its title ('Doxygen: Special Commands')."""
_PAGE_EXTENSIONS = re.compile(r"\.(?:s?html?|xhtml|php\d?|aspx?|jsp|cfm|md|txt)$", re.IGNORECASE)
_URL_WORD_SEP = re.compile(r"[-_+\s]+")
_INDEX_STEMS = frozenset({"index", "default", "home", "main"})


def _is_site_segment(segment: str, site_names: tuple[str, ...]) -> bool:
    """A title segment looks like the site's name: equal, a >=3-char part of it, or holding a
    >=8-char name ('Python 3.11.2 documentation' holds '3.11.2 Documentation')."""
    seg = segment.strip().casefold()
    if not seg:
        return True
    return any(
        seg == name or (len(seg) >= 3 and seg in name) or (len(name) >= 8 and name in seg)
        for name in site_names
    )


def _clean_title(raw: str, site_names: tuple[str, ...], h1: str | None) -> str:
    """clean_title() for several candidate site names (caller's and og:site_name)."""
    title = _norm_ws(raw)
    heading = _norm_ws(h1)
    if not title:
        return heading
    names = tuple(n for n in (_norm_ws(s).casefold() for s in site_names) if n)
    key = heading.casefold()
    if key and key not in names and key != title.casefold():
        # the page's own heading may hold a separator ('argparse — Parser for ...')
        folded = title.casefold()
        if folded.startswith(key) and _TITLE_SEP.match(title, len(key)):
            return title[: len(key)]
        if folded.endswith(key) and _TITLE_SEP_END.search(title, 0, len(title) - len(key)):
            return title[len(title) - len(key) :]
    parts = _TITLE_SEP.split(title)
    segments, separators = parts[0::2], parts[1::2]
    if len(segments) == 1:
        return title
    if key and key not in names:  # a logo <h1> holding the site name is no evidence
        if segments[0].casefold() == key:
            return segments[0]
        if segments[-1].casefold() == key:
            return segments[-1]
    lo, hi = 0, len(segments)
    while hi - lo > 1 and _is_site_segment(segments[hi - 1], names):
        hi -= 1
    while hi - lo > 1 and _is_site_segment(segments[lo], names):
        lo += 1
    pieces = [segments[lo]]
    for i in range(lo + 1, hi):
        pieces += [separators[i - 1], segments[i]]
    return "".join(pieces).strip() or heading


def clean_title(raw: str, *, site_name: str | None = None, h1: str | None = None) -> str:
    """Strip a site-name prefix/suffix ('Install | Acme Docs' -> 'Install').

    Splits on ' | ', ' - ', ' – ', ' — ', ' · ', ' :: ', ' » '. If ``h1`` equals the first (or
    last) segment, that segment is the title. Otherwise segments at either end that equal
    ``site_name`` (case-insensitive) or are a >=3-char part of it are dropped. Without a site
    name or matching h1 the title is kept whole: a wrong cut is worse than a suffix. Returns
    ``h1`` for an empty title and '' only when both are empty.
    """
    return _clean_title(raw, (site_name,) if site_name else (), h1)


def title_from_url(url: str) -> str:
    """Readable title from the URL path ('/docs/getting-started.html' -> 'Getting started').

    Last resort for pages without <title>/h1; skips 'index'-like segments and falls back to
    the host name, so the result is never empty for a real URL.
    """
    try:
        parts = urlsplit(url or "")
    except ValueError:
        return _norm_ws(url) or "Untitled"
    for segment in reversed([s for s in parts.path.split("/") if s]):
        stem = _PAGE_EXTENSIONS.sub("", unquote(segment))
        if stem.lower() in _INDEX_STEMS:
            continue
        words = _URL_WORD_SEP.sub(" ", stem).strip()
        if words:
            return words[:1].upper() + words[1:]
    return parts.hostname or _norm_ws(url) or "Untitled"


# --------------------------------------------------------------------------- parsing

_PARSER = HTMLParser(
    remove_comments=True, remove_pis=True, collect_ids=False, default_doctype=False
)
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)
_XML_INCOMPATIBLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_CONTROL_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


class _NotHtmlError(Exception):
    """Input is binary or has no markup at all."""


def _looks_binary(text: str) -> bool:
    """Binary bodies (images/PDFs served as text/html) show up as NULs, controls or U+FFFD."""
    sample = text[:_BINARY_SAMPLE_CHARS]
    if not sample:
        return False
    controls = len(_CONTROL_CHARS.findall(sample))
    replaced = sample.count("\ufffd")  # some mis-decoded accents are fine, binary is ~50 %
    return (
        sample.count("\x00") > 1
        or controls > max(1, len(sample) * _MAX_CONTROL_RATIO)
        or replaced > len(sample) * _MAX_REPLACEMENT_RATIO
    )


def _parse(html: str | bytes) -> HtmlElement | None:
    """Parse once with lxml; None for an empty document, _NotHtmlError for binary/plain data."""
    if isinstance(html, bytes):
        html = html.decode("utf-8", errors="replace")
    if not html or not html.strip():
        return None
    if _looks_binary(html) or "<" not in html[:65536]:
        raise _NotHtmlError
    if html.lstrip()[:5].lower() == "<?xml":
        html = _XML_DECL.sub("", html, count=1)
    if _XML_INCOMPATIBLE.search(html):
        html = _XML_INCOMPATIBLE.sub("", html)
    try:
        return document_fromstring(html, parser=_PARSER)
    except etree.ParserError:  # "Document is empty"
        return None


# --------------------------------------------------------------------------- metadata

_JSONLD = etree.XPath("//script[@type='application/ld+json']")
_LINKS = etree.XPath("//link[@rel and @href]")
_BASE_HREF = etree.XPath("//base/@href")
_HEAD_TITLE = etree.XPath("/html/head/title|//title[not(ancestor::svg)]")
_HEADINGS = etree.XPath("//h1|//h2|//h3|//h4|//h5|//h6")
_BOILERPLATE_ANCESTORS = frozenset({"nav", "footer", "aside"})
_DATE_PREFIX = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})")

_PUBLISHED_KEYS = (
    "article:published_time",
    "og:published_time",
    "datepublished",
    "date",
    "dc.date",
    "dc.date.issued",
    "dcterms.created",
    "dcterms.issued",
    "publish-date",
    "publication_date",
    "pubdate",
    "parsely-pub-date",
    "sailthru.date",
)
_MODIFIED_KEYS = (
    "article:modified_time",
    "og:updated_time",
    "datemodified",
    "last-modified",
    "dcterms.modified",
    "dc.date.modified",
)


def _meta_map(tree: HtmlElement) -> dict[str, list[str]]:
    """All <meta> contents keyed by lower-cased name/property/itemprop/http-equiv."""
    metas: dict[str, list[str]] = {}
    for meta in tree.iter("meta"):
        content = meta.get("content")
        if content is None:
            continue
        content = content.strip()
        for attr in ("name", "property", "itemprop", "http-equiv"):
            key = meta.get(attr)
            if key:
                metas.setdefault(key.strip().lower(), []).append(content)
    return metas


def _first(metas: dict[str, list[str]], *keys: str) -> str | None:
    """First non-empty meta value among keys, in priority order."""
    for key in keys:
        for value in metas.get(key, ()):
            if value:
                return value
    return None


def _first_date(metas: dict[str, list[str]], keys: tuple[str, ...]) -> str | None:
    """First meta value among keys that parses as a date (a junk value does not hide the next)."""
    for key in keys:
        for value in metas.get(key, ()):
            parsed = _iso(value)
            if parsed:
                return parsed
    return None


def _iso(value: Any) -> str | None:
    """ISO 8601 date ('2024-03-14') or datetime ('2024-03-14T08:00:00+00:00'), else None."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text:
        return None
    try:
        if len(text) == 10:
            return date.fromisoformat(text).isoformat()
        parsed = datetime.fromisoformat(text)
        if 1900 <= parsed.year <= 2100:
            return parsed.isoformat()
    except ValueError:
        pass
    if "," in text:  # RFC 2822 / HTTP date, seen in Last-Modified style metas
        try:
            return parsedate_to_datetime(text).isoformat()
        except (TypeError, ValueError, IndexError):
            return None
    match = _DATE_PREFIX.match(text)
    if match:
        try:
            found = date(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            return None
        return found.isoformat() if 1900 <= found.year <= 2100 else None
    return None


def _jsonld_objects(tree: HtmlElement) -> list[dict[str, Any]]:
    """Top-level JSON-LD objects (flattening lists and @graph); malformed blocks ignored."""
    found: list[dict[str, Any]] = []
    for script in _JSONLD(tree):
        raw = script.text or ""
        if not raw.strip() or len(raw) > _MAX_JSONLD_CHARS:
            continue
        try:
            data = json.loads(raw, strict=False)
        except ValueError:
            continue
        stack = [data]
        while stack and len(found) < 50:
            item = stack.pop(0)
            if isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, dict):
                found.append(item)
                if isinstance(item.get("@graph"), list):
                    stack.extend(item["@graph"])
    return found


def _jsonld_author(value: Any) -> str | None:
    """Author name(s) from a schema.org author value (str, Person, or list of them)."""
    values = value if isinstance(value, list) else [value]
    names = []
    for item in values[:5]:
        name = item.get("name") if isinstance(item, dict) else item
        if isinstance(name, str) and _norm_ws(name) and not _is_url(name):
            names.append(_norm_ws(name))
    return ", ".join(dict.fromkeys(names)) or None


def _is_url(text: str) -> bool:
    """article:author is often a profile URL, which is not a useful author name."""
    return text.strip().lower().startswith(("http://", "https://", "/"))


def _canonical(tree: HtmlElement, url: str) -> str | None:
    """Absolute http(s) URL of <link rel=canonical>, resolved against <base href>/url."""
    bases = _BASE_HREF(tree)
    base = urljoin(url, bases[0].strip()) if bases else url
    for link in _LINKS(tree):
        if "canonical" not in link.get("rel", "").lower().split():
            continue
        href = link.get("href", "").strip()
        if not href:
            continue
        try:
            parts = urlsplit(urljoin(base, href))
        except ValueError:
            continue
        if parts.scheme in ("http", "https") and parts.netloc:
            return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", parts.query, ""))
    return None


def _robots(metas: dict[str, list[str]], names: tuple[str, ...]) -> tuple[bool, bool]:
    """(noindex, nofollow) from robots meta tags, by the standard (crawler.robots_directives)."""
    directives = meta_directives(metas, names)
    return directives.noindex, directives.nofollow


def _html_lang(tree: HtmlElement, metas: dict[str, list[str]]) -> str | None:
    """Declared language: <html lang>, xml:lang, Content-Language meta, then og:locale."""
    root = tree.getroottree().getroot()
    for value in (
        root.get("lang"),
        root.get("{http://www.w3.org/XML/1998/namespace}lang"),
        root.get("xml:lang"),
        _first(metas, "content-language", "og:locale"),
    ):
        if value and value.strip():
            return value.strip()
    return None


_NAV_LINKS = etree.XPath(
    "//div[contains(concat(' ', normalize-space(@class), ' '), ' related ')]//a[@href]"
    "|//nav//a[@href]|//header//a[@href]"
)
_HOME_PATHS = ("", "/", "/index.html", "/index.htm")
_HOME_HREF_ENDS = ("/", "index.html", "index.htm")
_MAX_SITE_NAME_CHARS = 80


def _home_link_names(tree: HtmlElement, url: str) -> list[str]:
    """Texts of navigation links to the site's home page ('Python 3.11.2 documentation').

    A generator names the site in its navigation bar with the same words it appends to every
    ``<title>`` (Sphinx: 'Download — Python 3.11.2 documentation'); only links in a nav bar,
    ``<nav>`` or ``<header>`` whose target is the site root count.
    """
    names: list[str] = []
    host = urlsplit(url).netloc
    for link in _NAV_LINKS(tree):
        href = link.get("href", "").strip()
        if not (href.endswith(_HOME_HREF_ENDS) or href in (".", "..")):
            continue  # cheap test first: a mega menu has hundreds of links
        text = _norm_ws(link.text_content())
        if not text or len(text) > _MAX_SITE_NAME_CHARS:
            continue
        try:
            target = urlsplit(urljoin(url, href))
        except ValueError:
            continue
        if target.path in _HOME_PATHS and target.netloc == host:
            names.append(text)
    return names


# --------------------------------------------------------------------------- headings/anchors


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
    return _norm_ws(heading.text_content())


def _heading_id(heading: HtmlElement) -> str | None:
    """Fragment id of a heading: its own id, an inner <a id/name>, or its section's id."""
    own = heading.get("id")
    if own:
        return own.strip() or None
    for link in heading.iter("a"):
        ident = link.get("id") or link.get("name")
        if ident and ident.strip():
            return ident.strip()
    parent = heading.getparent()
    if (
        parent is not None
        and parent.tag in ("section", "div", "article")
        and parent.get("id")
        and next(parent.iterchildren(tag=etree.Element), None) is heading
    ):
        return parent.get("id", "").strip() or None
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


def _anchors(tree: HtmlElement) -> tuple[dict[str, str], str, list[str]]:
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
    return anchors.get(_norm_ws(text))


# --------------------------------------------------------------------------- pre-cleaning

# Subset of trafilatura's MANUALLY_CLEANED (deleted unconditionally there, tails kept): removing
# them here with one C-level call shrinks the tree trafilatura copies three times and scans with
# its big XPaths. Cuts ~30 % of trafilatura's time on boilerplate-heavy pages, same output.
_NOISE_TAGS = (
    "script",
    "style",
    "noscript",
    "template",
    "svg",
    "iframe",
    "object",
    "embed",
    "canvas",
    "nav",
    "aside",
    "footer",
    "menu",
    "dialog",
    "button",
    "input",
    "select",
    "textarea",
    "label",
    "link",
    "meta",
)
_HEADING_LINKS = etree.XPath(
    "//h1//a[starts-with(@href,'#')]|//h2//a[starts-with(@href,'#')]"
    "|//h3//a[starts-with(@href,'#')]|//h4//a[starts-with(@href,'#')]"
    "|//h5//a[starts-with(@href,'#')]|//h6//a[starts-with(@href,'#')]"
)
_BLANK_CODE_LINE = re.compile(r"\n[ \t]*(?=\n)")
_BLANK_MARK = "\u2424"  # trafilatura drops empty lines but turns lines holding only this into ""


def _mark_blank_lines(element: HtmlElement) -> None:
    """Protect blank lines in code from trafilatura's empty-line filter (see _BLANK_MARK)."""
    for node in element.iter():
        if node.text and "\n" in node.text:
            node.text = _BLANK_CODE_LINE.sub("\n" + _BLANK_MARK, node.text)
        if node is not element and node.tail and "\n" in node.tail:
            node.tail = _BLANK_CODE_LINE.sub("\n" + _BLANK_MARK, node.tail)


def _preclean(tree: HtmlElement) -> dict[str, str]:
    """Cheap in-place cleanup before trafilatura; returns {first code line: language}.

    Drops script/style/svg (less for trafilatura to copy and scan), heading permalinks
    ('Options¶'), and normalises <pre>: syntax-highlight spans are flattened, a bare <pre>
    gets a <code> child (otherwise trafilatura renders it as a plain paragraph) and blank
    lines are protected.
    """
    etree.strip_elements(tree, *_NOISE_TAGS, with_tail=False)
    for link in _HEADING_LINKS(tree):
        if not any(ch.isalnum() for ch in link.text_content()):
            link.drop_tree()
    languages: dict[str, str] = {}
    for pre in list(tree.iter("pre")):
        etree.strip_tags(pre, "span")
        if next(pre.iter("code"), None) is None:
            code = etree.SubElement(pre, "code")
            code.text, pre.text = pre.text, None
            for child in list(pre):
                if child is not code:
                    code.append(child)
        lang = code_language(pre)
        if lang:
            first_line = next(
                (ln.strip() for ln in pre.text_content().splitlines() if ln.strip()), ""
            )
            if first_line:
                languages.setdefault(first_line, lang)
        _mark_blank_lines(pre)
    return languages


# --------------------------------------------------------------------------- trafilatura


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


def _run_trafilatura(tree: HtmlElement, url: str, options: ExtractOptions) -> str:
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


# --------------------------------------------------------------------------- markdown fixes

_FENCE = re.compile(r"^\s*(`{3,}|~{3,})\s*$")
_LIST_ITEM = re.compile(r"^(?:[-*+]|\d{1,9}[.)])\s")
_TABLE_SEPARATOR = re.compile(r"^\|(?:\s*:?-{3,}:?\s*\|)+$")
_UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")


def _fix_table(rows: list[str]) -> list[str]:
    """GFM needs a separator after the first row; trafilatura omits it for <th>-less tables."""
    if len(rows) >= 2 and _TABLE_SEPARATOR.match(rows[1]):
        return rows
    if _TABLE_SEPARATOR.match(rows[0]):
        return rows
    cells = max(1, len(_UNESCAPED_PIPE.split(rows[0])) - 2)
    return [rows[0], "|" + "---|" * cells, *rows[1:]]


def _postprocess(markdown: str, code_languages: dict[str, str]) -> str:
    """Minimal fixes to trafilatura's Markdown (outside code fences only).

    - blank line before/after fenced code (trafilatura glues the next paragraph to the fence)
    - fence gets its language hint back (trafilatura drops class="language-x")
    - indented continuation lines (raw source wrapping kept in paragraphs with inline code)
      are joined to their paragraph/list item
    - trailing spaces removed, table separator rows added, 3+ blank lines collapsed
    """
    lines = markdown.replace(_BLANK_MARK, "").split("\n")
    out: list[str] = []
    fence: str | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        match = _FENCE.match(line)
        if fence is not None:
            out.append(line)
            if match and match[1] == fence:
                fence = None
                if i + 1 < len(lines) and lines[i + 1].strip():
                    out.append("")
            i += 1
            continue
        if match:
            fence = match[1]
            if out and out[-1].strip():
                out.append("")
            nxt = next((ln.strip() for ln in lines[i + 1 :] if ln.strip()), "")
            lang = code_languages.get(nxt) if nxt != fence else None
            out.append(line.rstrip() + (lang or ""))
            i += 1
            continue
        line = line.rstrip()
        if line.startswith("|"):
            j = i
            while j < len(lines) and lines[j].startswith("|"):
                j += 1
            out.extend(_fix_table([row.rstrip() for row in lines[i:j]]))
            i = j
            continue
        stripped = line.lstrip()
        prev = out[-1] if out else ""
        if (
            stripped
            and stripped != line
            and prev.strip()
            and not prev.startswith("|")
            and not _FENCE.match(prev)
            and not _LIST_ITEM.match(stripped)
        ):
            out[-1] = f"{prev} {stripped}"
        elif stripped or (out and out[-1]):
            out.append(line if stripped else "")
        i += 1
    return "\n".join(out).strip()


_FENCED_BLOCK = re.compile(r"^(`{3,}|~{3,})[^\n]*\n.*?^\1\s*$", re.MULTILINE | re.DOTALL)


def _prose(markdown: str) -> str:
    """Content without fenced code, so English keywords in code do not sway language detection."""
    return _FENCED_BLOCK.sub(" ", markdown)


# --------------------------------------------------------------------------- main entry point


def _language(text: str, html_lang: str | None, options: ExtractOptions) -> str:
    """Forced language, else detected from prose with the declared language as fallback."""
    if options.forced_language:
        return options.forced_language
    return detect_language(text, html_lang=html_lang, sample_chars=options.lang_sample_chars)


def _extract(
    html: str | bytes, url: str, options: ExtractOptions, site_name: str | None
) -> ExtractedPage:
    """extract_page() without the catch-all; may raise on pathological input."""
    try:
        tree = _parse(html)
    except _NotHtmlError:
        return ExtractedPage(
            url=url,
            title=title_from_url(url),
            language=options.forced_language or DEFAULT_LANGUAGE,
            skip_reason="not_html",
        )
    if tree is None:
        return ExtractedPage(
            url=url,
            title=title_from_url(url),
            language=options.forced_language or DEFAULT_LANGUAGE,
            skip_reason="empty",
        )

    selectors = site_selectors(options)
    chosen = None
    if selectors is not None:  # the site file's own selectors come before anything else
        selectors.drop_excluded(tree)
        chosen = selectors.content_region(tree)
    metas = _meta_map(tree)
    noindex, nofollow = _robots(metas, options.robots_meta_names)
    html_lang = _html_lang(tree, metas)
    jsonld = _jsonld_objects(tree)
    ld = next(
        (o for o in jsonld if any(k in o for k in ("datePublished", "dateModified", "author"))),
        {},
    )
    titles = _HEAD_TITLE(tree)
    raw_title = _norm_ws(titles[0].text_content()) if titles else ""
    raw_title = raw_title or _norm_ws(_first(metas, "og:title", "twitter:title"))
    og_site = _first(metas, "og:site_name", "application-name")
    author = _first(metas, "author", "dc.creator", "parsely-author")
    if not author or _is_url(author):
        author = _jsonld_author(ld.get("author")) or next(
            (a for a in metas.get("article:author", ()) if a and not _is_url(a)), None
        )

    anchors, h1, logos = _anchors(tree)
    if chosen is not None:  # the site's content_selector names the main region
        region: MainRegion | None = MainRegion(chosen, "selector")
    else:
        region = find_main_region(tree)
    stub = redirects(tree, metas)
    if region is not None:
        remove_chrome(region.element, region.kind)  # a toctree is not what makes an index
        h1 = region_h1(region.element) or h1
    not_knowledge = index_or_search(tree, region.element if region is not None else None)
    site_names = tuple(n for n in (site_name, og_site, *logos, *_home_link_names(tree, url)) if n)
    suffix = selectors.title_suffix if selectors is not None else None
    raw_title = remove_title_suffix(raw_title, suffix)
    title = _clean_title(raw_title, site_names, h1) or h1 or title_from_url(url)
    title = remove_title_suffix(title, suffix)

    page = ExtractedPage(
        url=url,
        title=title,
        canonical_url=_canonical(tree, url),
        description=_norm_ws(_first(metas, "description", "og:description", "twitter:description"))
        or None,
        author=_norm_ws(author)[:300] or None,
        published=_first_date(metas, _PUBLISHED_KEYS) or _iso(ld.get("datePublished")),
        modified=_first_date(metas, _MODIFIED_KEYS) or _iso(ld.get("dateModified")),
        noindex=noindex,
        nofollow=nofollow,
        html_lang=html_lang,
        anchors=anchors,
    )
    if noindex or not_knowledge:
        page.skip_reason = "noindex" if noindex else not_knowledge
        page.language = _language("", html_lang, options)
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
        code_languages = _preclean(tree)
        content = _postprocess(_run_trafilatura(tree, url, options), code_languages)
        page.extractor = "trafilatura"
    page.language = _language(_prose(content), html_lang, options)
    if not content:
        page.skip_reason = "redirect_stub" if stub else "empty"
    elif len(content) < options.min_chars:
        page.skip_reason = "redirect_stub" if stub else "thin"
    else:
        page.content = content
        page.content_hash = content_fingerprint(content)
    return page


def extract_page(
    html: str | bytes,
    url: str,
    options: ExtractOptions = DEFAULT_OPTIONS,
    *,
    site_name: str | None = None,
) -> ExtractedPage:
    """Main text (Markdown) and metadata of one page; never raises for bad input.

    Skipped pages (``skip_reason`` set) have ``content == ''`` and ``content_hash == ''`` but
    still carry title, robots flags and other metadata so the spider can log and follow links.
    """
    try:
        return _extract(html, url, options, site_name)
    except Exception:
        LOGGER.warning("extraction failed for %s", url, exc_info=True)
        return ExtractedPage(
            url=url,
            title=title_from_url(url),
            language=options.forced_language or DEFAULT_LANGUAGE,
            skip_reason="parse_error",
        )


_WARM_UP_HTML = (
    "<html lang='en'><head><title>Warm up</title></head><body><article><h1 id='w'>Warm up</h1>"
    + "<p>This paragraph only exists to warm up parser, extractor and language caches.</p>" * 6
    + "<pre><code class='language-python'>print('hi')\n\nprint('bye')</code></pre>"
    + "<table><tr><th>a</th></tr><tr><td>b</td></tr></table></article></body></html>"
)


def warm_up(options: ExtractOptions = DEFAULT_OPTIONS) -> None:
    """Pool-initializer hook: pay imports, XPath compilation and cache fills before real work."""
    extract_page(_WARM_UP_HTML, "https://warm-up.invalid/", options)
