"""Per-site sync state (embedded SQLite under ``KB_STATE_DIR/<site>/state.sqlite``).

For each normalized URL: the fingerprint and document ids of what the API accepted,
sitemap lastmod, HTTP validators, the links the page had (replayed when the page is
unchanged, so its children are still reached), first/last seen, last delivered,
and how many complete runs in a row missed it. A page counts as delivered only once
the API accepted it: a batch still pending in the outbox does not.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Literal

SCHEMA = """
CREATE TABLE IF NOT EXISTS pages (
    url TEXT PRIMARY KEY,
    fingerprint TEXT,          -- content hash + settings signature of the delivered version
    doc_ids TEXT,              -- JSON list of ids the API returned
    lastmod TEXT,
    etag TEXT,
    last_modified TEXT,
    links TEXT,                -- JSON list
    first_seen REAL,
    last_seen REAL,
    last_delivered REAL,
    seen_run INTEGER DEFAULT 0,
    missed_runs INTEGER DEFAULT 0,
    gone INTEGER DEFAULT 0
);
CREATE INDEX IF NOT EXISTS pages_fingerprint ON pages (fingerprint);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    started REAL,
    finished REAL,
    complete INTEGER,
    pages_reached INTEGER,
    documents_delivered INTEGER,
    good INTEGER
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
"""


def signature_of(settings_shape: dict[str, Any]) -> str:
    """A short stable hash of what shapes documents (split limit, metadata...)."""
    blob = json.dumps(settings_shape, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _parse_when(value: str | None) -> float | None:
    """A sitemap W3C date or an HTTP date as epoch seconds; None if unreadable."""
    if not value:
        return None
    text = value.strip()
    try:
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        parsed = datetime.fromisoformat(text)
    except ValueError:
        try:
            parsed = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


class SyncState:
    """What earlier runs delivered, and this run's bookkeeping.

    ``SyncState(path, signature)`` opens (creating it) the state of a run; :meth:`read_only`
    the same questions for ``kb-explain``, without a run and without writing.
    """

    def __init__(self, path: Path, signature: str):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(str(path), isolation_level=None, timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)
        self.signature = signature
        previous = self._meta("signature")
        self.signature_changed = previous is not None and previous != signature
        self.run_id = int(
            self.db.execute("INSERT INTO runs (started) VALUES (?)", (time.time(),)).lastrowid
        )
        self._pending_writes = 0
        self.db.execute("BEGIN")

    @classmethod
    def read_only(cls, path: Path, signature: str) -> SyncState | None:
        """The state at ``path`` to ask questions of (writes raise ``sqlite3.OperationalError``);
        None when no run has made it yet."""
        if not path.exists():
            return None
        state = cls.__new__(cls)
        state.path = path
        state.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        state.signature = signature
        previous = state._meta("signature")
        state.signature_changed = previous is not None and previous != signature
        state.run_id = 0  # no run
        state._pending_writes = 0
        return state

    # -- small helpers ------------------------------------------------------------
    def _meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def _row(self, url: str) -> sqlite3.Row | None:
        """(fingerprint, lastmod, etag, last_modified, links, last_delivered) of ``url``."""
        cur = self.db.execute(
            "SELECT fingerprint, lastmod, etag, last_modified, links, last_delivered "
            "FROM pages WHERE url=?",
            (url,),
        )
        return cur.fetchone()

    def _write(self, sql: str, args: tuple[Any, ...]) -> None:
        self.db.execute(sql, args)
        self._pending_writes += 1
        if self._pending_writes >= 500:
            self.commit()

    def commit(self) -> None:
        """Group writes: one fsync per few hundred pages, not per page."""
        if self.db.in_transaction:
            self.db.execute("COMMIT")
        self._pending_writes = 0
        self.db.execute("BEGIN")

    def fingerprint(self, content_hash: str) -> str:
        return f"{content_hash}:{self.signature}"

    # -- questions ----------------------------------------------------------------
    def lastmod_unchanged(self, url: str, lastmod: str | None) -> bool:
        """Layer 1: the sitemap says the page is not newer than what we delivered."""
        if not lastmod or self.signature_changed:
            return False
        row = self._row(url)
        if not _delivered(row) or not row[1]:
            return False
        new, old = _parse_when(lastmod), _parse_when(row[1])
        return new is not None and old is not None and new <= old

    def validators(self, url: str) -> tuple[str | None, str | None]:
        """Layer 2: ETag / Last-Modified of the delivered version, if any."""
        if self.signature_changed:
            return None, None
        row = self._row(url)
        if not _delivered(row):
            return None, None
        return row[2], row[3]

    def delivered_fingerprint(self, url: str) -> str | None:
        row = self._row(url)
        return row[0] if row is not None and row[5] is not None else None

    def compare(self, url: str, fingerprint: str) -> Literal["unchanged", "changed", "new"]:
        """Layer 3: ``url``'s delivered version has this ``fingerprint`` (unchanged), another
        (changed), or none was delivered (new)."""
        delivered = self.delivered_fingerprint(url)
        if delivered is None:
            return "new"
        return "unchanged" if delivered == fingerprint else "changed"

    def delivered_elsewhere(self, url: str, fingerprint: str) -> str | None:
        """Another live URL already delivered this exact text (a duplicate URL)."""
        row = self.db.execute(
            "SELECT url FROM pages WHERE fingerprint=? AND url<>? AND gone=0 LIMIT 1",
            (fingerprint, url),
        ).fetchone()
        return row[0] if row else None

    def stored_links(self, url: str) -> list[str]:
        row = self._row(url)
        return json.loads(row[4]) if row is not None and row[4] else []

    # -- this run -------------------------------------------------------------------
    def mark_seen(self, url: str) -> None:
        now = time.time()
        self._write(
            "INSERT INTO pages (url, first_seen, last_seen, seen_run) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(url) DO UPDATE SET last_seen=excluded.last_seen, "
            "seen_run=excluded.seen_run, missed_runs=0, gone=0",
            (url, now, now, self.run_id),
        )

    def mark_uncertain(self, url: str) -> None:
        """A timeout, 5xx, 403 or 429: we do not know, so this run does not count a miss."""
        self._write("UPDATE pages SET seen_run=? WHERE url=?", (self.run_id, url))

    def record_page(
        self,
        url: str,
        *,
        links: list[str],
        etag: str | None = None,
        last_modified: str | None = None,
        lastmod: str | None = None,
    ) -> None:
        """A page settled without a document (thin, noindex): keep validators and links."""
        self.mark_seen(url)
        self._write(
            "UPDATE pages SET links=?, etag=?, last_modified=?, lastmod=?, "
            "last_delivered=COALESCE(last_delivered, ?) WHERE url=?",
            (json.dumps(links), etag, last_modified, lastmod, time.time(), url),
        )

    def record_delivered(
        self,
        url: str,
        *,
        fingerprint: str,
        doc_ids: list[str],
        links: list[str],
        etag: str | None,
        last_modified: str | None,
        lastmod: str | None,
    ) -> None:
        """The API accepted every part of this page."""
        self.mark_seen(url)
        self._write(
            "UPDATE pages SET fingerprint=?, doc_ids=?, links=?, etag=?, last_modified=?, "
            "lastmod=?, last_delivered=? WHERE url=?",
            (fingerprint, json.dumps(doc_ids), json.dumps(links), etag, last_modified, lastmod,
             time.time(), url),
        )  # fmt: skip

    def pages_seen(self) -> int:
        row = self.db.execute("SELECT COUNT(*) FROM pages WHERE seen_run=?", (self.run_id,))
        return int(row.fetchone()[0])

    def last_good_run(self) -> tuple[int, int] | None:
        """(pages reached, documents delivered) of the last complete, good run."""
        row = self.db.execute(
            "SELECT pages_reached, documents_delivered FROM runs "
            "WHERE good=1 AND complete=1 AND id<? ORDER BY id DESC LIMIT 1",
            (self.run_id,),
        ).fetchone()
        return (int(row[0]), int(row[1])) if row else None

    def finish_run(
        self, *, complete: bool, good: bool, documents_delivered: int, gone_after: int
    ) -> list[dict[str, Any]]:
        """Close the run; on a complete good run, age missed pages and return the gone ones."""
        gone: list[dict[str, Any]] = []
        if complete and good:
            self.db.execute(
                "UPDATE pages SET missed_runs=missed_runs+1 WHERE seen_run<>? AND gone=0",
                (self.run_id,),
            )
            rows = self.db.execute(
                "SELECT url, doc_ids FROM pages WHERE gone=0 AND missed_runs>=?", (gone_after,)
            ).fetchall()
            for url, doc_ids in rows:
                gone.append({"url": url, "document_ids": json.loads(doc_ids) if doc_ids else []})
            self.db.execute(
                "UPDATE pages SET gone=1 WHERE gone=0 AND missed_runs>=?", (gone_after,)
            )
            self.db.execute(
                "INSERT INTO meta (key, value) VALUES ('signature', ?) "
                "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                (self.signature,),
            )
        self.db.execute(
            "UPDATE runs SET finished=?, complete=?, pages_reached=?, "
            "documents_delivered=?, good=? WHERE id=?",
            (
                time.time(),
                int(complete),
                self.pages_seen(),
                documents_delivered,
                int(good),
                self.run_id,
            ),
        )
        self.commit()
        return gone

    def close(self) -> None:
        if self.db.in_transaction:
            self.db.execute("COMMIT")
        self.db.close()


def _delivered(row: sqlite3.Row | None) -> bool:
    """A document of this page was delivered (it has a fingerprint). A page only ever settled
    without one (thin, noindex: :meth:`SyncState.record_page`) is fetched and judged again
    each run, so its skip reason is recorded again and it never counts as unchanged content."""
    return row is not None and row[0] is not None and row[5] is not None
