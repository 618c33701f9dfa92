"""Group documents into import requests: at most 100 documents and a byte budget per request.

Why: the import API takes 1 to 100 documents per request, large bodies time out, and a page
trickling in must not wait forever for its batch to fill. Everything here is pure: the caller
passes the time in, so the flush rule is tested without clocks or sleeps.
"""

from __future__ import annotations

import json
from typing import Any, Generic, TypeVar

__all__ = [
    "API_MAX_DOCUMENTS",
    "SEPARATOR_BYTES",
    "Batcher",
    "bisect",
    "document_size",
    "documents_array",
    "encode_document",
]

API_MAX_DOCUMENTS = 100  # the import API's hard limit per request
SEPARATOR_BYTES = 1  # the "," between documents in the posted JSON array

T = TypeVar("T")


def encode_document(doc: dict[str, Any]) -> bytes:
    """A document exactly as the request body carries it: compact UTF-8 JSON.

    Encoded once per document: the same bytes give its size here, go into its outbox file
    and into the POST (JSON encoding was a tenth of the reactor's time when done three times).
    """
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def documents_array(documents: list[dict[str, Any]], encoded: list[bytes] | None = None) -> bytes:
    """The documents as the JSON array a request body (and an outbox file) carries.

    ``encoded`` is each document's :func:`encode_document` when the caller has it already.
    """
    if encoded is None or len(encoded) != len(documents):
        encoded = [encode_document(doc) for doc in documents]
    return b"[" + b",".join(encoded) + b"]"


def document_size(doc: dict[str, Any]) -> int:
    """Bytes a document adds to the request body (:func:`encode_document`) with its separator."""
    return len(encode_document(doc)) + SEPARATOR_BYTES


def bisect(docs: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Halve a batch to isolate a document the API rejects; the first half gets the odd one."""
    middle = (len(docs) + 1) // 2
    return docs[:middle], docs[middle:]


class Batcher(Generic[T]):
    """Buffer documents in arrival order and hand out batches when full, on time, or at the end.

    A batch is handed out as soon as no further document could join it (``max_docs`` reached)
    or when the next document would overflow it; a document bigger than ``max_bytes`` on its
    own goes alone, so the API can answer for it (``DOCUMENT_TOO_LARGE``) without holding up
    others.

    An entry is a document, or anything the caller pairs it with (its encoded bytes) when it
    passes the entry's ``size`` itself.
    """

    def __init__(
        self,
        max_docs: int = API_MAX_DOCUMENTS,
        max_bytes: int = 4_000_000,
        flush_seconds: float = 10.0,
    ) -> None:
        if not 1 <= max_docs <= API_MAX_DOCUMENTS:
            raise ValueError(f"max_docs must be between 1 and {API_MAX_DOCUMENTS}, got {max_docs}")
        if max_bytes < 1:
            raise ValueError(f"max_bytes must be positive, got {max_bytes}")
        if flush_seconds < 0:
            raise ValueError(f"flush_seconds must not be negative, got {flush_seconds}")
        self.max_docs = max_docs
        self.max_bytes = max_bytes
        self.flush_seconds = flush_seconds
        self._docs: list[T] = []
        self._bytes = 0
        self._since: float | None = None  # when the oldest buffered document arrived

    def __len__(self) -> int:
        return len(self._docs)

    @property
    def buffered_bytes(self) -> int:
        """Bytes of the buffered documents, as :func:`document_size` counts them."""
        return self._bytes

    def add(self, doc: T, now: float, size: int | None = None) -> list[list[T]]:
        """Buffer ``doc`` and return the batches that are now complete, oldest first.

        ``size`` is its :func:`document_size`, computed here when not given.
        """
        if size is None:
            size = document_size(doc)  # type: ignore[arg-type]
        ready: list[list[T]] = []
        if self._docs and (len(self._docs) >= self.max_docs or self._bytes + size > self.max_bytes):
            ready.append(self._take())
        if size > self.max_bytes:
            ready.append([doc])
            return ready
        if not self._docs:
            self._since = now
        self._docs.append(doc)
        self._bytes += size
        if len(self._docs) >= self.max_docs or self._bytes >= self.max_bytes:
            ready.append(self._take())
        return ready

    def due(self, now: float) -> list[T] | None:
        """The partial batch if its oldest document has waited ``flush_seconds``, else None."""
        if self._since is None or now - self._since < self.flush_seconds:
            return None
        return self._take()

    def drain(self) -> list[T] | None:
        """Whatever is buffered (at close), or None when nothing is."""
        return self._take() if self._docs else None

    def _take(self) -> list[T]:
        batch = self._docs
        self._docs, self._bytes, self._since = [], 0, None
        return batch
