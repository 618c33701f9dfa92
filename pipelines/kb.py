"""The item pipeline between the spider and the knowledge base: split, batch, send, survive.

Pure parts live elsewhere (:mod:`pipelines.split`, :mod:`pipelines.batch`); transport
in :mod:`pipelines.client`; durability in :mod:`pipelines.outbox`. This module wires
them to Scrapy and owns the *policy*:

- ``process_item`` is synchronous and never awaits, so the batcher has one owner;
  closed batches are written to ``pending/`` and handed to sender tasks by a queue.
- credentials: checked once before the first page request (``/documents/search``,
  ``limit: 1``); a refusal stops the run before anything is fetched.
- a 2xx that is not the documented success: the outcome is unknown, the batch stays
  pending (see :func:`pipelines.client.import_outcome`); a page counts as delivered only
  once every one of its documents was confirmed.
- ``DOCUMENT_TOO_LARGE``: split smaller, resend, remember the limit (this run and next);
  a page whose documents are all in the refused batch is split again whole, so its
  documents are exactly those a split at the new limit gives up front.
- ``INVALID_REQUEST``: bisect to the offending documents, quarantine them.
- partial import: quarantine the refused documents with the API's reasons.
- ``INVALID_TOKEN`` / ``INVALID_MODEL_ID`` / ``QUOTA_EXCEEDED``: stop the crawl, keep
  everything in the outbox, exit non-zero (see :mod:`crawler.commands.crawl`).
- outage (retries exhausted): stop sending, keep every batch pending for the next run.

Items are read through ``itemadapter`` (:func:`crawler.items.page_of`), so any Scrapy
project's spider yielding ``title``/``content``/``url``/``metadata`` items is delivered
with this pipeline in its ``ITEM_PIPELINES``; the site is then the spider's name and the
``KB_*`` settings it leaves unset take kbcrawler's defaults (:func:`kb_settings`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import shlex
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy.exceptions import CloseSpider
from scrapy.settings import BaseSettings

from crawler.extensions.sync import SyncRun
from crawler.items import ItemRefused, PageItem, page_of
from crawler.paths import unwritable_paths
from crawler.settings_check import check_kb_settings, kb_defaults
from crawler.spiders import site_spider_of
from pipelines.batch import API_MAX_DOCUMENTS, SEPARATOR_BYTES, Batcher, encode_document
from pipelines.client import (
    ImportResult,
    KBClient,
    KBError,
    KBFatal,
    KBInvalidRequest,
    KBTooLarge,
    KBUnavailable,
    client_options,
)
from pipelines.outbox import Outbox, PendingBatch, write_atomic
from pipelines.redact import install_redaction
from pipelines.split import MIN_MAX_CHARS, resplit_page, split_document, with_metadata

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Spider
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

_LIMIT_RE = re.compile(r"limit of (\d+)")
TOKEN_ENV = "KB_API_TOKEN"


def flush_command(spider: Spider) -> str:
    """The command that sends this site's outbox, as the user can type it.

    A site given as ``-a config=PATH`` is flushed the same way (``scrapy kb-flush site
    -a config=PATH``); a configured site by its spider name; another project's spider (no
    site file, no kb-flush command there) by its next crawl.
    """
    site_spider = site_spider_of(spider)
    if site_spider is None:
        return f"scrapy crawl {spider.name}"
    if site_spider.config_path:
        path = os.path.abspath(site_spider.config_path)
        return f"scrapy kb-flush site -a config={shlex.quote(path)}"
    return f"scrapy kb-flush {spider.name}"


@dataclass(frozen=True)
class DeliverySite:
    """What delivery needs to know of the site: its name (``KB_OUTBOX/<name>``,
    ``KB_STATE_DIR/<name>``), its split limit (characters) and its chat model id."""

    name: str
    max_document_chars: int
    chat_model_id: str | None


def delivery_site(spider: Spider, settings: BaseSettings) -> DeliverySite:
    """The site file of our spider; for another project's spider, its name and the settings
    (``KB_MAX_DOCUMENT_CHARS``; the chat model id is then ``KB_CHAT_MODEL_ID``'s)."""
    site_spider = site_spider_of(spider)
    if site_spider is not None:
        site = site_spider.site
        return DeliverySite(site.name, site.max_document_chars, site.chat_model_id)
    return DeliverySite(spider.name, settings.getint("KB_MAX_DOCUMENT_CHARS"), None)


def kb_settings(settings: BaseSettings, defaults: dict[str, Any] | None = None) -> BaseSettings:
    """``settings`` over kbcrawler's ``KB_*`` defaults: a copy, every ``KB_*`` name set.

    Another Scrapy project that only puts this pipeline in ``ITEM_PIPELINES`` gets the
    defaults of kbcrawler's settings (``settings/__init__.py``, loaded from its file, so a
    project's own top-level ``settings`` module cannot stand in for it; the environment
    variables of CONTRACT.md are read there); its own settings (project, ``-s``) win.
    ``defaults``: :func:`crawler.settings_check.kb_defaults` when None.
    """
    defaults = kb_defaults() if defaults is None else defaults
    merged = BaseSettings(defaults, priority="default")
    merged.update(settings)
    return merged


class KnowledgeBasePipeline:
    """Delivers every page's documents: to the API with a token, else to JSON Lines files."""

    def __init__(self, crawler: Crawler):
        defaults = kb_defaults()
        s = self.settings = kb_settings(crawler.settings, defaults)
        # Another project has no `scrapy crawl` check up front: a bad value is one line at
        # opening (close reason kb_bad_setting), not a traceback here; defaults meanwhile.
        problems, _ = check_kb_settings(s, defaults)
        self.bad_settings = "; ".join(problems + unwritable_paths(s))
        if problems:
            s = self.settings = kb_settings(BaseSettings(), defaults)
        self.crawler = crawler
        self.stats = crawler.stats
        self.token = os.environ.get(TOKEN_ENV, "").strip()
        self.api_url = s.get("KB_API_URL")
        self.outbox_root = s.get("KB_OUTBOX")
        self.state_root = s.get("KB_STATE_DIR")
        self.default_model = s.get("KB_CHAT_MODEL_ID")
        self.floor = s.getint("KB_MIN_DOCUMENT_CHARS")
        self.lang_sample_chars = s.getint("KB_LANG_SAMPLE_CHARS")
        self.batcher: Batcher[tuple[dict[str, Any], bytes]] = Batcher(
            max_docs=min(API_MAX_DOCUMENTS, s.getint("KB_MAX_BATCH_DOCS")),
            max_bytes=s.getint("KB_MAX_BATCH_BYTES"),
            flush_seconds=s.getfloat("KB_FLUSH_SECONDS"),
        )
        self.client_options = client_options(s)
        self.senders = max(1, s.getint("KB_MAX_IN_FLIGHT"))
        self.sync_run = crawler.get_extension(SyncRun)  # None: no sync state, no lock
        self.max_chars = 0  # the split limit, set on opening (the spider asks for it)
        self.client: KBClient | None = None
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
        # Tags this run's pages in batch files: a batch left by an earlier run never counts
        # towards a page of this run (its documents are another version of the page).
        self.run_tag = uuid.uuid4().hex[:12]

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    # -- lifecycle ---------------------------------------------------------------------
    async def open_spider(self, spider: Spider | None = None) -> None:
        spider = self.crawler.spider
        site = delivery_site(spider, self.settings)
        self.site_name = site.name
        self.flush_hint = flush_command(spider)
        if self.bad_settings:
            logger.error("Bad setting: %s", self.bad_settings)
            self.stats.set_value("kb/bad_setting", self.bad_settings)
            raise CloseSpider("kb_bad_setting")
        if self.sync_run is not None:  # the site lock, before the outbox is touched
            self.sync_run.open()  # CloseSpider while another run of this site holds it
        if site.max_document_chars < MIN_MAX_CHARS:
            logger.error(
                "KB_MAX_DOCUMENT_CHARS is %d: it must be at least %d",
                site.max_document_chars, MIN_MAX_CHARS,
            )  # fmt: skip
            raise CloseSpider("kb_bad_setting")
        self.outbox = Outbox(self.outbox_root, site.name)
        self.max_chars = min(site.max_document_chars, self._learned_limit() or 10**9)
        if not self.token:
            logger.info(
                "No %s set: documents are written to %s as JSON Lines (nothing is posted)",
                TOKEN_ENV, self.outbox.dir,
            )  # fmt: skip
            return
        install_redaction(self.token)
        model = site.chat_model_id or self.default_model
        if not model:
            logger.error("No chat model id: set chat_model_id in the site file or KB_CHAT_MODEL_ID")
            self.stats.set_value("kb/fatal", "NO_MODEL_ID")
            raise CloseSpider("kb_no_model_id")
        self.client = KBClient(
            self.api_url, self.token, model, on_event=self.stats.inc_value, **self.client_options
        )
        await self._check_credentials()
        pending = self.outbox.pending_paths()
        if pending:
            logger.info("Sending %d batch(es) left pending by earlier runs", len(pending))
            self.stats.set_value("kb/pending_from_earlier_runs", len(pending))
        for path in pending:  # read one at a time when its turn comes
            self.queue.put_nowait(PendingBatch(path, None, on_disk=True))
        self.tasks = [asyncio.ensure_future(self._sender()) for _ in range(self.senders)]
        self.ticker = asyncio.ensure_future(self._tick())

    async def _check_credentials(self) -> None:
        """Before the first page request: a refused token or model id ends the run now.

        Runs in ``open_spider``, which Scrapy awaits before it takes the first start request,
        so a refusal (``CloseSpider``) means no page is fetched. A check that cannot be done
        (network, 5xx, an odd answer) only warns: the crawl goes on, the outbox keeps all.
        """
        assert self.client is not None
        try:
            problem = await self.client.check_credentials()
        except KBFatal as exc:
            self.fatal = exc
            self.stats.set_value("kb/fatal", exc.code)
            self.stats.set_value("kb/credentials", "refused")
            logger.error(
                "The knowledge base refused the credentials check (%s): %s. Nothing was "
                "crawled; fix it and run the crawl again.",
                exc.code, exc.hint,
            )  # fmt: skip
            raise CloseSpider(f"kb_{exc.code.lower()}") from None
        if problem is None:
            self.stats.set_value("kb/credentials", "accepted")
            logger.info("The knowledge base accepted the token and chat model id")
            return
        self.stats.set_value("kb/credentials", "unchecked")
        logger.warning(
            "Could not check the token and chat model id with %s/documents/search (%s): "
            "crawling anyway; undelivered documents stay in the outbox",
            self.client.base, problem,
        )  # fmt: skip

    def process_item(self, item: Any, spider: Spider | None = None) -> Any:
        """Split the item's page, write or batch its documents; returns the item as it came.

        Any item itemadapter reads (see :func:`crawler.items.page_of`); one that cannot be a
        document is dropped (``DropItem``, the stat ``kb/dropped/<reason>``).
        """
        page = self._page(item)
        parts = self._split(page)
        self.stats.inc_value("kb/pages")
        if len(parts) > 1:
            self.stats.inc_value("kb/pages_split")
            self.stats.inc_value("kb/parts", len(parts))
        if self.client is None:
            assert self.outbox is not None
            self.outbox.write_documents(parts)
            self.stats.inc_value("kb/documents_written", len(parts))
            return item
        self.outstanding[page.url] = self.outstanding.get(page.url, 0) + len(parts)
        self.unbatched[page.url] = self.unbatched.get(page.url, 0) + len(parts)
        self.pages_info[page.url] = {
            "fingerprint": page.fingerprint or page.content_hash,
            "links": page.links,
            "etag": page.etag,
            "last_modified": page.last_modified,
            "lastmod": page.lastmod,
            "parts": len(parts),
            "limit": self.max_chars,  # split at
            "run": self.run_tag,
            # What a re-split after DOCUMENT_TOO_LARGE needs to split the page again whole.
            "title": page.document.get("title") or "",
        }
        if page.anchors and len(page.document.get("content") or "") > self.floor:
            self.pages_info[page.url]["anchors"] = page.anchors  # never split otherwise
        now = time.monotonic()
        encoded = [encode_document(part) for part in parts]
        size = sum(len(raw) + SEPARATOR_BYTES for raw in encoded)
        if (
            len(self.batcher)
            and len(parts) <= self.batcher.max_docs
            and size <= self.batcher.max_bytes
            and (
                len(self.batcher) + len(parts) > self.batcher.max_docs
                or self.batcher.buffered_bytes + size > self.batcher.max_bytes
            )
        ):
            # Keep a page's documents in one batch when they fit one: a DOCUMENT_TOO_LARGE
            # answer can then split the page again whole.
            rest = self.batcher.drain()
            if rest:
                self._enqueue(rest)
        for part, raw in zip(parts, encoded, strict=True):
            for batch in self.batcher.add((part, raw), now, len(raw) + SEPARATOR_BYTES):
                self._enqueue(batch)
        return item

    def _page(self, item: Any) -> PageItem:
        """The item's page (:func:`crawler.items.page_of`); DropItem counted by its reason."""
        try:
            return page_of(item, site=self.site_name, lang_sample_chars=self.lang_sample_chars)
        except ItemRefused as exc:
            self.stats.inc_value(f"kb/dropped/{exc.reason}")
            raise

    def _split(self, item: PageItem) -> list[dict[str, Any]]:
        """The page's documents; the worker's parts when it split at today's limit."""
        if item.parts and item.parts_limit == self.max_chars:
            self.stats.inc_value("kb/pages_split_by_worker")
            return with_metadata(item.parts, item.document["metadata"])
        return split_document(item.document, self.max_chars, anchors=item.anchors)

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
        if any(info.get("limit", 0) > self.max_chars for info in batch.pages.values()):
            # Split before a DOCUMENT_TOO_LARGE lowered the limit: split again before sending,
            # as the pages split after it are (no 413 needed to find out).
            await self._split_again(batch, self.max_chars)
            return
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
        """Once all of a page's documents were accepted: count it (``kb/pages_delivered``)
        and, with a sync state, record it there."""
        sync = self.sync_run.state if self.sync_run is not None else None
        done = False
        this_run = info is None or info.get("run") == self.run_tag
        if this_run and url in self.outstanding:
            self.outstanding[url] -= len(ids)
            self.pages_info.setdefault(url, dict(info or {})).setdefault("ids", []).extend(ids)
            done = self.outstanding[url] <= 0
            if done:
                del self.outstanding[url]
                info = self.pages_info.pop(url)
                ids = info.get("ids", ids)
        elif info is not None and not this_run:  # a batch from an earlier run
            done = info.get("in_batch") == info.get("parts")
        if not done or url in self.failed_pages or not info:
            return
        self.stats.inc_value("kb/pages_delivered")
        if sync is not None:
            sync.record_delivered(
                url,
                fingerprint=info.get("fingerprint") or "",
                doc_ids=[i for i in ids if i],
                links=info.get("links") or [],
                etag=info.get("etag"),
                last_modified=info.get("last_modified"),
                lastmod=info.get("lastmod"),
            )

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
        """DOCUMENT_TOO_LARGE: lower the limit (this run and the next), split, send again.

        When nothing in the batch is longer than the limit (the server's is below our floor),
        the batch is bisected down to the documents refused alone, which are quarantined.
        """
        assert self.outbox is not None and batch.documents is not None
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
        if longest <= limit:  # the server's limit is below our floor: find who is refused
            await self._bisect(batch, exc)
            return
        await self._split_again(batch, limit)

    async def _split_again(self, batch: PendingBatch, limit: int) -> None:
        """Split the batch's pages at ``limit``, swap the batch for the result, send that.

        A page whose documents are all in this batch is split again whole
        (:func:`pipelines.split.resplit_page`): the very documents a split at ``limit`` gives
        up front. A page spread over several batches (more documents than one batch holds)
        can only have its documents over the limit split (sub-parts ``2.1``, ``2.2``…), and is
        counted (``kb/resplit_partial_pages``).
        """
        assert batch.documents is not None
        by_page: dict[str, list[dict[str, Any]]] = {}
        for doc in batch.documents:
            by_page.setdefault(doc["metadata"].get("source_url", ""), []).append(doc)
        docs: list[dict[str, Any]] = []
        for url, page_docs in by_page.items():
            info = batch.pages.get(url) or {}
            single = len(page_docs) == 1 and "part" not in page_docs[0]["metadata"]
            whole = single or (info.get("parts") == len(page_docs) and "title" in info)
            if whole and info.get("limit") != limit:
                title = page_docs[0]["title"] if single else info["title"]
                pieces = resplit_page(page_docs, title, limit, info.get("anchors"))
                if not single and pieces != page_docs:
                    self.stats.inc_value("kb/resplit_pages")  # several documents, renumbered
            elif whole:
                pieces = page_docs
            else:
                pieces = [p for d in page_docs for p in split_document(d, limit)]
                if len(pieces) > len(page_docs):
                    self.stats.inc_value("kb/resplit_partial_pages")
                    logger.warning(
                        "Split again only the refused documents of %s: its documents do not "
                        "fit one batch, so their numbering stays the first split's",
                        url,
                    )
            if info:
                info["limit"] = limit  # every document of the page here fits it now
            self.stats.inc_value(
                "kb/resplit_documents", sum(len(d["content"]) > limit for d in page_docs)
            )
            if single and len(pieces) > 1:
                self.stats.inc_value("kb/pages_split")  # one document before, split now
            if len(pieces) != len(page_docs):
                self._parts_added(url, batch, len(pieces) - len(page_docs))
            docs.extend(pieces)
        groups = self._chunks(docs)
        for new in self._replace(batch, groups):
            await self._deliver(new)

    def _parts_added(self, url: str, batch: PendingBatch, added: int) -> None:
        """A page has ``added`` more documents (a re-split): every count that waits on it."""
        info = batch.pages.get(url)
        if info is not None:
            info["parts"] = info.get("parts", 1) + added
        if (info is None or info.get("run") == self.run_tag) and url in self.outstanding:
            self.outstanding[url] += added
            if url in self.pages_info:
                self.pages_info[url]["parts"] = self.pages_info[url].get("parts", 1) + added

    async def _bisect(self, batch: PendingBatch, exc: KBError) -> None:
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
            max_docs=self.batcher.max_docs, max_bytes=self.batcher.max_bytes, flush_seconds=10**9
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
            "The knowledge base refused the import (%s): %s. Stopping the crawl; every "
            "unsent document stays pending in the outbox: once fixed, `%s` (or the next "
            "crawl) sends it.",
            exc.code, exc.hint, self.flush_hint,
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
        what = "did not confirm the import" if exc.code == "UNCONFIRMED" else "is unavailable"
        logger.error(
            "The knowledge base %s (%s) after %d retries: crawling goes on, batches stay "
            "pending in the outbox and are sent by the next run or `%s`",
            what, exc.code, self.client_options["max_retries"], self.flush_hint,
        )  # fmt: skip
        self.stats.set_value("kb/flush_command", self.flush_hint)

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
        """The one-line summary that ends every crawl; names only files that exist."""
        assert self.outbox is not None
        get = self.stats.get_value
        pending = self.outbox.pending_count()
        self.stats.set_value("kb/pending_batches_left", pending)
        unchanged = sum(
            int(get(f"sync/unchanged/{layer}", 0) or 0)
            for layer in ("lastmod", "304", "fingerprint")
        )
        pages = f"{get('kb/pages', 0)} pages extracted, {unchanged} unchanged"
        if self.client is None:
            written = get("kb/documents_written", 0)
            where = f" to {self.outbox.jsonl_path}" if written else ""
            logger.info("kbcrawler summary: %s, %d documents written%s", pages, written, where)
            return
        if pending:
            self.stats.set_value("kb/flush_command", self.flush_hint)
        logger.info(
            "kbcrawler summary: %s, %d documents posted in %d batches (%d requests: "
            "%d refused, %d retries, %d rate-limited, %d outcome unknown, %d unconfirmed), "
            "%d split pages, %d quarantined, %d batch(es) left pending%s%s",
            pages, get("kb/documents_posted", 0), get("kb/batches_posted", 0),
            get("kb/requests", 0) + get("kb/search_requests", 0),
            get("kb/requests_refused", 0), get("kb/retries", 0), get("kb/rate_limited", 0),
            get("kb/outcome_unknown", 0), get("kb/unconfirmed", 0),
            get("kb/pages_split", 0), get("kb/quarantined", 0), pending,
            f" in {self.outbox.pending_dir}" if pending else "",
            f" ({self.fatal.code})" if self.fatal else "",
        )  # fmt: skip
