"""The page item: one crawled content page, ready to become knowledge-base documents.

One shape, produced by :class:`crawler.spiders.site.SiteSpider` and consumed by the
pipelines. ``document`` is exactly what the import API would receive for the whole
page (before splitting); the other fields serve sync state and splitting.

The pipelines also take any other project's items (:func:`page_of`): whatever
``itemadapter`` reads (dict, dataclass, attrs, ``scrapy.Item``) with ``title``,
``content``, ``url`` and an optional ``metadata`` mapping.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from itemadapter import ItemAdapter
from scrapy.exceptions import DropItem


@dataclass
class PageItem:
    url: str  # normalized URL: the sync-state key
    document: dict[str, Any]  # {"title", "content", "url", "metadata"}
    content_hash: str  # fingerprint of the normalized main text
    anchors: dict[str, str] = field(default_factory=dict)  # heading text -> element id
    lastmod: str | None = None  # from the sitemap
    etag: str | None = None
    last_modified: str | None = None
    links: list[str] = field(default_factory=list)  # followed links, replayed when unchanged
    fingerprint: str = ""  # content hash + document settings signature (set by SyncPipeline)
    # An oversized page's parts, split by the extraction worker at ``parts_limit`` characters
    # and without metadata (pipelines.split.split_page); None when not split there.
    parts: list[dict[str, Any]] | None = None
    parts_limit: int = 0


def build_document(
    *,
    url: str,
    title: str,
    content: str,
    language: str,
    site: str,
    crawled_at: str,
    site_metadata: dict[str, Any],
    page_metadata: dict[str, Any],
) -> dict[str, Any]:
    """The import API's document shape; metadata values are JSON scalars only.

    Page facts (description, dates...) are added only when known; the site file's
    ``metadata`` wins over them, and the required keys win over everything.
    """
    metadata: dict[str, Any] = {k: v for k, v in page_metadata.items() if v not in (None, "")}
    metadata.update(site_metadata)
    metadata.update(
        {"language": language, "source_url": url, "site": site, "crawled_at": crawled_at}
    )
    return {"title": title, "content": content, "url": url, "metadata": metadata}


class ItemRefused(DropItem):
    """An item the delivery pipeline cannot turn into a document; ``reason`` names why.

    ``reason`` is one of ``not_an_item``, ``no_url``, ``no_content``, ``bad_title``,
    ``bad_metadata`` (the pipeline counts it as the stat ``kb/dropped/<reason>``).
    """

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


def url_of(item: Any) -> str | None:
    """The ``url`` field of any item itemadapter reads, or None (no such field, not an item)."""
    if not ItemAdapter.is_item(item):
        return None
    url = ItemAdapter(item).get("url")
    return url if isinstance(url, str) and url else None


def page_of(item: Any, *, site: str, lang_sample_chars: int) -> PageItem:
    """The page an item stands for: a :class:`PageItem` as it is; any other item made one.

    Any other item is read through :class:`itemadapter.ItemAdapter` (dict, dataclass, attrs,
    ``scrapy.Item``): ``url`` and ``content`` non-empty strings; ``title`` a string (the
    URL's last path segment when missing or empty); ``metadata`` an optional mapping of JSON
    scalars (string, number, boolean, null). The document's metadata is the item's, plus
    ``source_url`` (always the item's ``url``: the pipeline groups a page's parts by it),
    and, unless the item gives them, ``language`` (detected from ``content`` with
    :func:`crawler.language.detect_language` on at most ``lang_sample_chars`` characters),
    ``site`` (``site``) and ``crawled_at`` (now, UTC). The optional fields our spider sets
    (``content_hash``, ``fingerprint``, ``links``, ``etag``, ``last_modified``, ``lastmod``,
    ``anchors``) are read when present; ``content_hash`` is else computed from ``content``.

    Raises :class:`ItemRefused` (a ``DropItem``) naming what is missing or wrong.
    """
    if isinstance(item, PageItem):
        return item
    if not ItemAdapter.is_item(item):
        raise ItemRefused(f"Not an item ({type(item).__name__}): nothing to deliver", "not_an_item")
    adapter = ItemAdapter(item)
    url, content = adapter.get("url"), adapter.get("content")
    if not isinstance(url, str) or not url.strip():
        raise ItemRefused(f"Item without a url (a non-empty string): {_fields(adapter)}", "no_url")
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        # The API's url is the page's address for the chatbot's answers: an absolute one.
        raise ItemRefused(f"Item url is not an absolute http(s) URL: {url[:200]!r}", "bad_url")
    if not isinstance(content, str) or not content.strip():
        raise ItemRefused(f"Item without content (a non-empty string): {url}", "no_content")
    # Loaded only when another project's items need them (titles imports lxml).
    from crawler.extract.text import content_fingerprint
    from crawler.extract.titles import title_from_url
    from crawler.langcodes import normalize_lang
    from crawler.language import detect_language

    title = adapter.get("title")
    if title is not None and not isinstance(title, str):
        kind = type(title).__name__
        raise ItemRefused(f"Item title is not a string ({kind}): {url}", "bad_title")
    metadata = _metadata(adapter.get("metadata"), url)
    # ISO 639-1 as the crawl gives it ('en-US', 'eng' -> 'en'); a name ('English') or junk
    # is replaced by the language detected in the content.
    language = normalize_lang(metadata.get("language"))
    metadata["language"] = language or detect_language(content, sample_chars=lang_sample_chars)
    metadata.setdefault("site", site)
    metadata.setdefault("crawled_at", crawled_now())
    metadata["source_url"] = url
    title = " ".join((title or "").split()) or title_from_url(url)
    document = {"title": title, "content": content, "url": url, "metadata": metadata}
    # Read only with the type our spider gives them: another project's ``links`` may be
    # anything, and is then not ours to use.
    optional = {
        name: value
        for name, kind in _OPTIONAL.items()
        if isinstance(value := adapter.get(name), kind) and value
    }
    optional.setdefault("content_hash", content_fingerprint(content))
    return PageItem(url=url, document=document, **optional)


#: The fields :class:`PageItem` has beyond the document, read from another item when it has
#: them with this type (sync state: validators, links, fingerprint; splitting: anchors).
_OPTIONAL: dict[str, type] = {
    "content_hash": str,
    "fingerprint": str,
    "anchors": dict,
    "links": list,
    "lastmod": str,
    "etag": str,
    "last_modified": str,
}


def crawled_now() -> str:
    """Now, UTC, to the second, as documents' ``metadata.crawled_at``: ``2026-01-31T12:00:00Z``."""
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _metadata(value: Any, url: str) -> dict[str, Any]:
    """An item's ``metadata`` as a new dict of JSON scalars; ItemRefused when it is not one."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ItemRefused(
            f"Item metadata is not a mapping ({type(value).__name__}): {url}", "bad_metadata"
        )
    for key, scalar in value.items():
        if not isinstance(key, str):
            problem = f"key {key!r} is not a string ({type(key).__name__})"
        elif not isinstance(scalar, str | int | float | bool | None):
            problem = f"{key!r} is not a string, number, boolean or null ({type(scalar).__name__})"
        elif isinstance(scalar, float) and not math.isfinite(scalar):
            problem = f"{key!r} is not a finite number ({scalar})"  # JSON has no NaN/Infinity
        else:
            continue
        raise ItemRefused(f"Item metadata {problem}: {url}", "bad_metadata")
    return dict(value)


def _fields(adapter: ItemAdapter) -> str:
    """The item's field names, for a message (never its values: they may be long)."""
    return f"fields {json.dumps(sorted(map(str, adapter.field_names())))}"
