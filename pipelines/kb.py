"""The item pipeline between the spider and the knowledge base: split, batch, send, survive.

Pure parts live elsewhere (:mod:`pipelines.split`, :mod:`pipelines.batch`); transport
in :mod:`pipelines.client`; durability in :mod:`pipelines.outbox`. This module wires
them to Scrapy and owns the *policy*:

- ``process_item`` is synchronous and never awaits, so the batcher has one owner;
  closed batches are written to ``pending/`` and handed to sender tasks by a queue.
- ``DOCUMENT_TOO_LARGE``: split smaller, resend, remember the limit (this run and next).
- ``INVALID_REQUEST``: bisect to the offending documents, quarantine them.
- partial import: quarantine the refused documents with the API's reasons.
- ``INVALID_TOKEN`` / ``INVALID_MODEL_ID`` / ``QUOTA_EXCEEDED``: stop the crawl, keep
  everything in the outbox, exit non-zero (see :mod:`crawler.commands.crawl`).
- outage (retries exhausted): stop sending, keep every batch pending for the next run.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy.exceptions import CloseSpider

from pipelines.batch import SEPARATOR_BYTES, Batcher, encode_document
from pipelines.client import (
    ImportClient,
    ImportResult,
    KBFatal,
    KBInvalidRequest,
    KBTooLarge,
    KBUnavailable,
)
from pipelines.outbox import Outbox, PendingBatch, write_atomic
from pipelines.redact import install_redaction
from pipelines.split import split_document, with_metadata

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Spider
    from scrapy.crawler import Crawler

    from crawler.items import PageItem

logger = logging.getLogger(__name__)

_LIMIT_RE = re.compile(r"limit of (\d+)")
TOKEN_ENV = "KB_API_TOKEN"


class KnowledgeBasePipeline:
    """Delivers every page's documents: to the API with a token, else to JSON Lines files."""

    def __init__(self, crawler: Crawler):
        s = crawler.settings
        self.crawler = crawler
        self.stats = crawler.stats
        self.token = os.environ.get(TOKEN_ENV, "").strip()
        self.api_url = s.get("KB_API_URL")
        self.outbox_root = s.get("KB_OUTBOX")
        self.state_root = s.get("KB_STATE_DIR")
        self.default_model = s.get("KB_CHAT_MODEL_ID")
        self.floor = s.getint("KB_MIN_DOCUMENT_CHARS")
        self.batcher: Batcher[tuple[dict[str, Any], bytes]] = Batcher(
            max_docs=min(100, s.getint("KB_MAX_BATCH_DOCS")),
            max_bytes=s.getint("KB_MAX_BATCH_BYTES"),
            flush_seconds=s.getfloat("KB_FLUSH_SECONDS"),
        )
        self.client_options = {
            "rate_per_min": s.getfloat("KB_IMPORT_RATE_PER_MIN"),
            "max_in_flight": s.getint("KB_MAX_IN_FLIGHT"),
            "connect_timeout": s.getfloat("KB_CONNECT_TIMEOUT"),
            "request_timeout": s.getfloat("KB_REQUEST_TIMEOUT"),
            "max_retries": s.getint("KB_MAX_RETRIES"),
            "backoff_base": s.getfloat("KB_BACKOFF_BASE"),
            "backoff_max": s.getfloat("KB_BACKOFF_MAX"),
        }
        self.senders = max(1, s.getint("KB_MAX_IN_FLIGHT"))
        self.client: ImportClient | None = None
        self.outbox: Outbox | None = None
        self.queue: asyncio.Queue[PendingBatch | None] = asyncio.Queue()
        self.tasks: list[asyncio.Task[None]] = []
        self.ticker: asyncio.Task[None] | None = None
        self.fatal: KBFatal | None = None
        self.closing: asyncio.Future[None] | None = None
        self.unavailable: KBUnavailable | None = None
        self.outstanding: dict[str, int] = {}  # page url -> documents not yet accepted
        self.failed_pages: set[str] = set()
        # page url -> what sync state needs, until all its parts are in batches (which carry it)
        self.pages_info: dict[str, dict[str, Any]] = {}
        self.unbatched: dict[str, int] = {}  # page url -> parts not yet in a batch
        # batches written early and not yet taken by a sender (a sender pops its batch here)
        self.saving: dict[Path, asyncio.Future[None]] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    # -- lifecycle ---------------------------------------------------------------------
    def open_spider(self, spider: Spider | None = None) -> None:
        spider = self.crawler.spider
        site = spider.site
        self.site_name = site.name
        if getattr(self.crawler, "kb_locked_out", False):
            return  # another run of this site owns the outbox
        self.outbox = Outbox(self.outbox_root, site.name)
        self.max_chars = min(site.max_document_chars, self._learned_limit() or 10**9)
        if not self.token:
            logger.info(
                "No %s set: documents are written to %s (nothing is posted)",
                TOKEN_ENV, self.outbox.jsonl_path,
            )  # fmt: skip
            return
        install_redaction(self.token)
        model = site.chat_model_id or self.default_model
        if not model:
            logger.error("No chat model id: set chat_model_id in the site file or KB_CHAT_MODEL_ID")
            self.stats.set_value("kb/fatal", "NO_MODEL_ID")
            raise CloseSpider("kb_no_model_id")
        self.client = ImportClient(
            self.api_url, self.token, model, on_event=self.stats.inc_value, **self.client_options
        )
        pending = self.outbox.pending_paths()
        if pending:
            logger.info("Sending %d batch(es) left pending by earlier runs", len(pending))
            self.stats.set_value("kb/pending_from_earlier_runs", len(pending))
        for path in pending:  # read one at a time when its turn comes
            self.queue.put_nowait(PendingBatch(path, None, on_disk=True))
        self.tasks = [asyncio.ensure_future(self._sender()) for _ in range(self.senders)]
        self.ticker = asyncio.ensure_future(self._tick())

    def process_item(self, item: PageItem, spider: Spider | None = None) -> PageItem:
        parts = self._split(item)
        self.stats.inc_value("kb/pages")
        if len(parts) > 1:
            self.stats.inc_value("kb/pages_split")
            self.stats.inc_value("kb/parts", len(parts))
        if self.client is None:
            assert self.outbox is not None
            self.outbox.write_documents(parts)
            self.stats.inc_value("kb/documents_written", len(parts))
            return item
        self.outstanding[item.url] = self.outstanding.get(item.url, 0) + len(parts)
        self.unbatched[item.url] = self.unbatched.get(item.url, 0) + len(parts)
        self.pages_info[item.url] = {
            "fingerprint": item.fingerprint or item.content_hash,
            "links": item.links,
            "etag": item.etag,
            "last_modified": item.last_modified,
            "lastmod": item.lastmod,
            "parts": len(parts),
        }
        now = time.monotonic()
        for part in parts:
            raw = encode_document(part)
            for batch in self.batcher.add((part, raw), now, len(raw) + SEPARATOR_BYTES):
                self._enqueue(batch)
        return item

    def _split(self, item: PageItem) -> list[dict[str, Any]]:
        """The page's documents; the worker's parts when it split at today's limit."""
        if item.parts and item.parts_limit == self.max_chars:
            self.stats.inc_value("kb/pages_split_by_worker")
            return with_metadata(item.parts, item.document["metadata"])
        return split_document(item.document, self.max_chars, anchors=item.anchors)

    @property
    def max_chars(self) -> int:
        return self._max_chars

    @max_chars.setter
    def max_chars(self, value: int) -> None:
        """The split limit; published on the crawler, where the spider reads it for the worker."""
        self._max_chars = value
        self.crawler.kb_split_chars = value  # type: ignore[attr-defined]

    async def close_spider(self, spider: Spider | None = None) -> None:
        if self.outbox is None:
            return
        if self.ticker is not None:
            self.ticker.cancel()
        rest = self.batcher.drain()
        if rest:  # only filled when posting (written files do not batch)
            self._enqueue(rest)
        if self.client is not None:
            for _ in self.tasks:
                self.queue.put_nowait(None)
            await asyncio.gather(*self.tasks, return_exceptions=True)
            await self.client.aclose()
        assert self.outbox is not None
        self.outbox.close()
        self._summary()

    # -- batching --------------------------------------------------------------------------
    def _enqueue(self, entries: list[tuple[dict[str, Any], bytes]]) -> None:
        """Write a closed batch to ``pending/`` (in a thread) and queue it for the senders.

        ``entries`` pair each document with its JSON. Once written, a batch still waiting for
        its turn drops its documents from memory: when the crawl outpaces the API's rate
        limit the backlog grows on disk, not in RAM.
        """
        assert self.outbox is not None
        documents = [doc for doc, _ in entries]
        pages: dict[str, dict[str, Any]] = {}
        for doc in documents:
            url = doc["metadata"]["source_url"]
            info = pages.setdefault(url, dict(self.pages_info.get(url, {}), in_batch=0))
            info["in_batch"] += 1
            left = self.unbatched.get(url, 0) - 1
            if left > 0:
                self.unbatched[url] = left
            else:  # every part is in a batch now, which carries the page's info
                self.unbatched.pop(url, None)
                self.pages_info.pop(url, None)
        batch = self.outbox.new_batch(documents, pages, [raw for _, raw in entries])
        self.stats.inc_value("kb/batches_created")
        self.saving[batch.path] = asyncio.ensure_future(self._save_early(batch))
        self.queue.put_nowait(batch)

    async def _save_early(self, batch: PendingBatch) -> None:
        assert self.outbox is not None
        try:
            await asyncio.to_thread(self.outbox.save, batch)
        except OSError as exc:  # kept in memory; the sender tries again before sending
            logger.error("Could not write pending batch %s: %s", batch.path, exc)
            return
        if batch.path in self.saving:  # still waiting for a sender: keep it on disk only
            batch.release()

    async def _tick(self) -> None:
        """Send a partly filled batch after KB_FLUSH_SECONDS of quiet."""
        while True:
            await asyncio.sleep(0.5)
            due = self.batcher.due(time.monotonic())
            if due:
                self._enqueue(due)

    # -- sending -----------------------------------------------------------------------------
    async def _sender(self) -> None:
        while True:
            batch = await self.queue.get()
            if batch is None:
                return
            saving = self.saving.pop(batch.path, None)  # taken: its documents stay now
            try:
                if saving is not None:
                    await saving
                if not batch.on_disk:
                    # On disk before it is sent; the JSON and the fsync stay off the reactor.
                    await asyncio.to_thread(self.outbox.save, batch)  # type: ignore[union-attr]
                if self.fatal is not None or self.unavailable is not None:
                    continue  # stays pending for the next run
                if batch.documents is None:  # waited on disk: read it back, off the reactor
                    loaded = await asyncio.to_thread(self.outbox.load, batch.path)  # type: ignore[union-attr]
                    if loaded is None:
                        continue
                    batch = loaded
                await self._deliver(batch)
            except Exception:  # a bug must not lose the batch: it stays pending on disk
                logger.exception("Unexpected error delivering %s; it stays pending", batch.path)

    async def _deliver(self, batch: PendingBatch) -> None:
        assert self.client is not None and self.outbox is not None
        if self.fatal is not None or self.unavailable is not None:
            return  # stays pending for the next run
        assert batch.documents is not None
        try:
            result = await self.client.send(batch.documents, batch.encoded)
        except KBFatal as exc:
            self._fatal(exc)
        except KBUnavailable as exc:
            batch.attempts += 1
            self.outbox.save(batch)
            self._unavailable(exc)
        except KBTooLarge as exc:
            await self._resplit(batch, exc)
        except KBInvalidRequest as exc:
            await self._bisect(batch, exc)
        else:
            self._accepted(batch, result)

    def _accepted(self, batch: PendingBatch, result: ImportResult) -> None:
        assert self.outbox is not None
        accepted_by_page: dict[str, list[str]] = {}
        for i, doc in enumerate(batch.documents):
            url = doc["metadata"].get("source_url", doc.get("url", ""))
            if i in result.refused:
                code, message = result.refused[i]
                self._quarantine(doc, code, message)
                continue
            accepted_by_page.setdefault(url, []).append(result.ids[i] or "")
        posted = sum(len(v) for v in accepted_by_page.values())
        self.stats.inc_value("kb/documents_posted", posted)
        self.stats.inc_value("kb/batches_posted")
        if batch.attempts:
            self.stats.inc_value("kb/batches_resent")
        for url, ids in accepted_by_page.items():
            self._page_accepted(url, ids, batch.pages.get(url))
        self.outbox.done(batch)

    def _page_accepted(self, url: str, ids: list[str], info: dict[str, Any] | None) -> None:
        """Record a page in sync state once all of its documents were accepted."""
        sync = getattr(self.crawler, "kb_sync", None)
        done = False
        if url in self.outstanding:
            self.outstanding[url] -= len(ids)
            self.pages_info.setdefault(url, dict(info or {})).setdefault("ids", []).extend(ids)
            done = self.outstanding[url] <= 0
            if done:
                del self.outstanding[url]
                info = self.pages_info.pop(url)
                ids = info.get("ids", ids)
        elif info is not None:  # a batch from an earlier run
            done = info.get("in_batch") == info.get("parts")
        if done and url not in self.failed_pages and sync is not None and info:
            sync.record_delivered(
                url,
                fingerprint=info.get("fingerprint") or "",
                doc_ids=[i for i in ids if i],
                links=info.get("links") or [],
                etag=info.get("etag"),
                last_modified=info.get("last_modified"),
                lastmod=info.get("lastmod"),
            )
            self.stats.inc_value("kb/pages_delivered")

    def _quarantine(self, doc: dict[str, Any], code: str, message: str) -> None:
        assert self.outbox is not None
        self.outbox.reject(doc, code, message)
        self.stats.inc_value("kb/quarantined")
        self.stats.inc_value(f"kb/quarantined/{code}")
        url = doc["metadata"].get("source_url", "")
        self.failed_pages.add(url)
        logger.warning("Quarantined %r (%s: %s)", doc.get("title"), code, message)

    def _replace(
        self, batch: PendingBatch, groups: list[list[dict[str, Any]]]
    ) -> list[PendingBatch]:
        """Swap a batch on disk for smaller ones (new files first, then drop the old)."""
        assert self.outbox is not None
        new = []
        for docs in groups:
            pages: dict[str, dict[str, Any]] = {}
            for doc in docs:
                url = doc["metadata"].get("source_url", "")
                base = batch.pages.get(url, {})
                pages.setdefault(url, dict(base, in_batch=0))["in_batch"] += 1
            new.append(self.outbox.add_pending(docs, pages))
        self.outbox.done(batch)
        return new

    async def _resplit(self, batch: PendingBatch, exc: KBTooLarge) -> None:
        longest = max(len(d["content"]) for d in batch.documents)
        match = _LIMIT_RE.search(exc.message)
        limit = int(match.group(1)) if match else longest // 2
        limit = max(self.floor, min(limit, longest - 1, self.max_chars))
        if limit < self.max_chars:
            logger.warning(
                "The knowledge base refused documents of %d characters (DOCUMENT_TOO_LARGE): "
                "splitting at %d characters from now on (this run and the next)",
                longest, limit,
            )  # fmt: skip
            self.max_chars = limit
            self._remember_limit(limit)
        self.stats.inc_value("kb/too_large")
        docs: list[dict[str, Any]] = []
        for doc in batch.documents:
            if len(doc["content"]) <= limit:
                docs.append(doc)
                continue
            if len(doc["content"]) <= self.floor or (limit <= self.floor and longest <= self.floor):
                self._quarantine(doc, exc.code, exc.message)
                continue
            pieces = split_document(doc, limit)
            url = doc["metadata"].get("source_url", "")
            if url in self.outstanding:
                self.outstanding[url] += len(pieces) - 1
            for info in (batch.pages.get(url), self.pages_info.get(url)):
                if info is not None:
                    info["parts"] = info.get("parts", 1) + len(pieces) - 1
            self.stats.inc_value("kb/resplit_documents")
            docs.extend(pieces)
        if not docs:
            self.outbox.done(batch)  # type: ignore[union-attr]
            return
        groups = self._chunks(docs)
        for new in self._replace(batch, groups):
            await self._deliver(new)

    async def _bisect(self, batch: PendingBatch, exc: KBInvalidRequest) -> None:
        if len(batch.documents) == 1:
            self._quarantine(batch.documents[0], exc.code, exc.message)
            self.outbox.done(batch)  # type: ignore[union-attr]
            return
        self.stats.inc_value("kb/bisections")
        mid = len(batch.documents) // 2
        for new in self._replace(batch, [batch.documents[:mid], batch.documents[mid:]]):
            await self._deliver(new)

    def _chunks(self, docs: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
        batcher: Batcher[dict[str, Any]] = Batcher(
            self.batcher.max_docs, self.batcher.max_bytes, 10**9
        )
        groups = [g for d in docs for g in batcher.add(d, 0.0)]
        rest = batcher.drain()
        return [*groups, rest] if rest else groups

    # -- stopping ------------------------------------------------------------------------------
    def _fatal(self, exc: KBFatal) -> None:
        if self.fatal is not None:
            return
        self.fatal = exc
        self.stats.set_value("kb/fatal", exc.code)
        logger.error(
            "The knowledge base refused the import (%s): %s. Stopping the crawl; "
            "every unsent document stays in %s for the next run.",
            exc.code, exc.hint, self.outbox.pending_dir if self.outbox else "the outbox",
        )  # fmt: skip
        engine = self.crawler.engine
        if engine is not None:
            # Never await the engine's close from a sender: schedule it.
            self.closing = asyncio.ensure_future(
                engine.close_spider_async(reason=f"kb_{exc.code.lower()}")
            )

    def _unavailable(self, exc: KBUnavailable) -> None:
        if self.unavailable is not None:
            return
        self.unavailable = exc
        self.stats.set_value("kb/unavailable", exc.code)
        logger.error(
            "The knowledge base is unavailable (%s) after %d retries: crawling goes on, "
            "batches stay in %s and are sent by the next run or `scrapy kb-flush %s`",
            exc.code, self.client_options["max_retries"],
            self.outbox.pending_dir if self.outbox else "the outbox", self.site_name,
        )  # fmt: skip

    # -- learned limit ---------------------------------------------------------------------------
    def _limit_file(self) -> str:
        return os.path.join(self.state_root, self.site_name, "limits.json")

    def _learned_limit(self) -> int | None:
        try:
            with open(self._limit_file(), encoding="utf-8") as fh:
                return int(json.load(fh)["max_document_chars"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _remember_limit(self, limit: int) -> None:
        path = self._limit_file()
        os.makedirs(os.path.dirname(path), exist_ok=True)
        write_atomic(Path(path), json.dumps({"max_document_chars": limit}).encode())

    def _summary(self) -> None:
        assert self.outbox is not None
        get = self.stats.get_value
        pending = self.outbox.pending_count()
        self.stats.set_value("kb/pending_batches_left", pending)
        if self.client is None:
            logger.info(
                "kbcrawler summary: %d pages, %d documents written to %s",
                get("kb/pages", 0), get("kb/documents_written", 0), self.outbox.jsonl_path,
            )  # fmt: skip
            return
        logger.info(
            "kbcrawler summary: %d pages, %d documents posted in %d requests (%d retries, "
            "%d rate-limited, %d outcome unknown), %d split pages, %d quarantined, "
            "%d batch(es) left pending%s",
            get("kb/pages", 0), get("kb/documents_posted", 0), get("kb/batches_posted", 0),
            get("kb/retries", 0), get("kb/rate_limited", 0), get("kb/outcome_unknown", 0),
            get("kb/pages_split", 0), get("kb/quarantined", 0), pending,
            f" ({self.fatal.code})" if self.fatal else "",
        )  # fmt: skip
