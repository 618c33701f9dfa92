"""A page's ``<head>`` metadata: title, description, author, dates, canonical URL, declared
language and robots directives, from ``<meta>`` tags, JSON-LD and ``<link>``.

Pure functions on an lxml tree; nothing is modified. ``trafilatura.extract_metadata`` is
deliberately not used: it is slow on big pages (htmldate's extensive search; docs/benchmarks.md) and
picked a copyright year as the publication date on our fixtures.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

from lxml import etree
from lxml.html import HtmlElement

from crawler.extract.text import normalize_space
from crawler.robots_directives import RobotsDirectives, meta_directives

__all__ = [
    "NO_DIRECTIVES",
    "PageMetadata",
    "meta_map",
    "read_metadata",
    "robots_directives",
]

NO_DIRECTIVES = RobotsDirectives()
"""No ``X-Robots-Tag`` header (or one that restricts nothing)."""

_MAX_JSONLD_CHARS = 200_000
_JSONLD = etree.XPath("//script[@type='application/ld+json']")
_LINKS = etree.XPath("//link[@rel and @href]")
_BASE_HREF = etree.XPath("//base/@href")
_HEAD_TITLE = etree.XPath("/html/head/title|//title[not(ancestor::svg)]")
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


def meta_map(tree: HtmlElement) -> dict[str, list[str]]:
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


def _first_meta(metas: dict[str, list[str]], *keys: str) -> str | None:
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
        if isinstance(name, str) and normalize_space(name) and not _is_url(name):
            names.append(normalize_space(name))
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


def robots_directives(
    metas: dict[str, list[str]], names: tuple[str, ...], header: RobotsDirectives = NO_DIRECTIVES
) -> RobotsDirectives:
    """The page's robots directives for us: its ``X-Robots-Tag`` ``header`` (already parsed)
    and its ``<meta>`` tags (``metas``, see :func:`meta_map`) named ``names``, combined, the
    most restrictive winning (by the standard, :mod:`crawler.robots_directives`)."""
    return header | meta_directives(metas, names)


def _html_lang(tree: HtmlElement, metas: dict[str, list[str]]) -> str | None:
    """Declared language: <html lang>, xml:lang, Content-Language meta, then og:locale."""
    root = tree.getroottree().getroot()
    for value in (
        root.get("lang"),
        root.get("{http://www.w3.org/XML/1998/namespace}lang"),
        root.get("xml:lang"),
        _first_meta(metas, "content-language", "og:locale"),
    ):
        if value and value.strip():
            return value.strip()
    return None


@dataclass
class PageMetadata:
    """What a page's ``<head>`` says about it (see :func:`read_metadata`).

    ``metas``: every ``<meta>`` content by lower-cased name (:func:`meta_map`); ``raw_title``:
    ``<title>`` (else og:title), whitespace-normalised, not yet cleaned of the site's name;
    ``site_name``: og:site_name or application-name; dates are ISO 8601 strings.
    """

    metas: dict[str, list[str]]
    robots: RobotsDirectives
    html_lang: str | None
    raw_title: str
    site_name: str | None
    canonical_url: str | None
    description: str | None
    author: str | None
    published: str | None
    modified: str | None


def read_metadata(
    tree: HtmlElement,
    url: str,
    robots_names: tuple[str, ...],
    header: RobotsDirectives = NO_DIRECTIVES,
) -> PageMetadata:
    """The page's head metadata; ``robots_names`` are the ``<meta name>`` values we obey,
    ``header`` the response's ``X-Robots-Tag`` directives (see :func:`robots_directives`)."""
    metas = meta_map(tree)
    jsonld = _jsonld_objects(tree)
    ld = next(
        (o for o in jsonld if any(k in o for k in ("datePublished", "dateModified", "author"))),
        {},
    )
    titles = _HEAD_TITLE(tree)
    raw_title = normalize_space(titles[0].text_content()) if titles else ""
    raw_title = raw_title or normalize_space(_first_meta(metas, "og:title", "twitter:title"))
    author = _first_meta(metas, "author", "dc.creator", "parsely-author")
    if not author or _is_url(author):
        author = _jsonld_author(ld.get("author")) or next(
            (a for a in metas.get("article:author", ()) if a and not _is_url(a)), None
        )
    description = _first_meta(metas, "description", "og:description", "twitter:description")
    return PageMetadata(
        metas=metas,
        robots=robots_directives(metas, robots_names, header),
        html_lang=_html_lang(tree, metas),
        raw_title=raw_title,
        site_name=_first_meta(metas, "og:site_name", "application-name"),
        canonical_url=_canonical(tree, url),
        description=normalize_space(description) or None,
        author=normalize_space(author)[:300] or None,
        published=_first_date(metas, _PUBLISHED_KEYS) or _iso(ld.get("datePublished")),
        modified=_first_date(metas, _MODIFIED_KEYS) or _iso(ld.get("dateModified")),
    )
