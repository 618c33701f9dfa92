"""The page item: one crawled content page, ready to become knowledge-base documents.

One shape, produced by :class:`crawler.spiders.site.SiteSpider` and consumed by the
pipelines. ``document`` is exactly what the import API would receive for the whole
page (before splitting); the other fields serve sync state and splitting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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
