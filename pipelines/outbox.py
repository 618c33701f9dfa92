"""The durable outbox under ``KB_OUTBOX/<site>/``.

- ``pending/*.json``: a batch is written (atomically, fsynced) *before* it is sent and
  removed only once the API accepted it, so a crash, a kill -9, an outage or a fatal
  answer loses nothing: the next run (or ``scrapy kb-flush``) sends it.
- ``rejected/*.jsonl``: documents the API refused, each with the API's reason.
- ``<UTC stamp>.jsonl``: with no token, every document, exactly as it would be posted.

Files never hold the token: only documents and our own bookkeeping.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipelines.batch import documents_array

logger = logging.getLogger(__name__)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Write-then-rename so a reader (or the next run) never sees half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


@dataclass
class PendingBatch:
    """A batch on disk: its documents and, per page, what sync state needs on success.

    ``documents is None`` means the batch is only on disk (:meth:`Outbox.load` reads it):
    batches waiting for the rate limit do not hold their documents in memory. ``encoded``,
    when set, is each document's JSON (:func:`pipelines.batch.encode_document`), reused for
    the file and the POST.
    """

    path: Path
    documents: list[dict[str, Any]] | None
    pages: dict[str, dict[str, Any]] = field(default_factory=dict)
    attempts: int = 0  # sends whose outcome was failure or unknown, across runs
    on_disk: bool = False
    encoded: list[bytes] | None = None

    def release(self) -> None:
        """Drop the documents from memory; only once the file holds them."""
        if self.on_disk:
            self.documents = None
            self.encoded = None
            self.pages = {}


class Outbox:
    """Pending batches, quarantine and the no-token document files of one site."""

    def __init__(self, root: str | os.PathLike[str], site: str):
        self.dir = Path(root) / site
        self.pending_dir = self.dir / "pending"
        self.rejected_dir = self.dir / "rejected"
        self._seq = 0
        self._stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        self._jsonl: Any = None

    # -- pending batches --------------------------------------------------------------
    def _new_path(self) -> Path:
        self._seq += 1
        return self.pending_dir / f"{self._stamp}-{os.getpid()}-{self._seq:06d}.json"

    def new_batch(
        self,
        documents: list[dict[str, Any]],
        pages: dict[str, dict[str, Any]] | None = None,
        encoded: list[bytes] | None = None,
    ) -> PendingBatch:
        """A batch with its file name, not yet written (see :meth:`save`)."""
        self.pending_dir.mkdir(parents=True, exist_ok=True)
        return PendingBatch(self._new_path(), documents, pages or {}, encoded=encoded)

    def add_pending(
        self, documents: list[dict[str, Any]], pages: dict[str, dict[str, Any]] | None = None
    ) -> PendingBatch:
        batch = self.new_batch(documents, pages)
        self.save(batch)
        return batch

    def save(self, batch: PendingBatch) -> None:
        """Write (or rewrite) the batch's file; safe to call from a worker thread."""
        rest = json.dumps(
            {"pages": batch.pages, "attempts": batch.attempts},
            ensure_ascii=False, separators=(",", ":"),
        ).encode()  # fmt: skip
        docs = documents_array(batch.documents or [], batch.encoded)
        write_atomic(batch.path, b'{"documents":' + docs + b"," + rest[1:])
        batch.on_disk = True

    def pending_paths(self) -> list[Path]:
        """Files of the batches waiting to be sent, oldest first."""
        if not self.pending_dir.is_dir():
            return []
        return sorted(self.pending_dir.glob("*.json"))

    def load(self, path: Path) -> PendingBatch | None:
        """Read one pending batch; an unreadable file is set aside (``.corrupt``), not lost."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            docs = data["documents"]
            if not isinstance(docs, list):
                raise TypeError("documents is not a list")
            attempts = int(data.get("attempts", 0))
        except FileNotFoundError:
            return None  # already sent and removed
        except (OSError, ValueError, KeyError, TypeError):
            logger.error("Unreadable outbox file set aside: %s", path)
            with contextlib.suppress(OSError):
                path.rename(path.with_suffix(".corrupt"))
            return None
        return PendingBatch(path, docs, data.get("pages") or {}, attempts, True)

    def done(self, batch: PendingBatch) -> None:
        """The API accepted the batch (or what was left of it was quarantined)."""
        with contextlib.suppress(FileNotFoundError):
            batch.path.unlink()

    def pending_count(self) -> int:
        return len(self.pending_paths())

    # -- quarantine ----------------------------------------------------------------------
    def reject(self, document: dict[str, Any], code: str, message: str) -> None:
        self.rejected_dir.mkdir(parents=True, exist_ok=True)
        record = {
            "rejected_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "reason": {"code": code, "message": message},
            "document": document,
        }
        path = self.rejected_dir / f"{self._stamp}.jsonl"
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    # -- no-token sink ---------------------------------------------------------------------
    @property
    def jsonl_path(self) -> Path:
        return self.dir / f"{self._stamp}.jsonl"

    def write_documents(self, documents: list[dict[str, Any]]) -> None:
        """Append documents as JSON Lines, exactly in the shape the API would receive."""
        if self._jsonl is None:
            self.dir.mkdir(parents=True, exist_ok=True)
            self._jsonl = open(self.jsonl_path, "a", encoding="utf-8")  # noqa: SIM115
        for doc in documents:
            self._jsonl.write(json.dumps(doc, ensure_ascii=False) + "\n")
        self._jsonl.flush()

    def close(self) -> None:
        if self._jsonl is not None:
            os.fsync(self._jsonl.fileno())
            self._jsonl.close()
            self._jsonl = None
