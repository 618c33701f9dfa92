"""Which responses are linked documents (PDF, DOCX): decided in the crawler process.

A module of its own so the crawler process decides without importing the extraction
libraries (only the workers extract: :mod:`crawler.documents`).
"""

from __future__ import annotations

from urllib.parse import urlsplit

__all__ = ["DOCUMENT_KINDS", "document_kind", "url_kind"]

DOCUMENT_KINDS = ("pdf", "docx")
"""The values of a site file's ``documents`` key."""

_TYPES = {
    "application/pdf": "pdf",
    "application/x-pdf": "pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
}
# Types that say nothing about the file: the URL's extension decides.
_GENERIC_TYPES = ("", "application/octet-stream", "binary/octet-stream", "application/download")
_EXTENSIONS = {".pdf": "pdf", ".docx": "docx"}


def url_kind(url: str) -> str | None:
    """'pdf' or 'docx' from a URL path's extension ('/files/Guide.PDF' -> 'pdf'), else None."""
    path = urlsplit(url).path.lower()
    return next((kind for ext, kind in _EXTENSIONS.items() if path.endswith(ext)), None)


def document_kind(content_type: str, url: str, enabled: tuple[str, ...] | list[str]) -> str | None:
    """The document kind of a response, if it is one of the ``enabled`` kinds.

    The Content-Type decides ('application/pdf' -> 'pdf'); a generic one
    (application/octet-stream, none) leaves it to the URL's extension. An HTML page at
    'guide.pdf' stays a page. Returns None for everything else.
    """
    mime = content_type.split(";", 1)[0].strip().lower()
    kind = _TYPES.get(mime)
    if kind is None and mime in _GENERIC_TYPES:
        kind = url_kind(url)
    return kind if kind in enabled else None
