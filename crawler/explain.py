"""``scrapy kb-explain``: why a URL is, or is not, in the knowledge base.

Each rule is the crawl's own: the spider's ``url_wanted`` (allowed domains, allow/deny),
the host guard (:func:`crawler.middlewares.private_host_refused`), robots.txt through
Scrapy's Protego parser, the extraction worker's
:func:`~crawler.extract.worker.process_page` (canonical, and the skip reason it decides:
noindex, thin, empty, ...), the sync state (duplicate text, unchanged since the last sync) and the
pipeline's split. Nothing is written: the sync state is opened read-only.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections import deque
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from scrapy.utils.misc import load_object

from crawler.documentkinds import document_kind
from crawler.extensions.sync import read_sync_state
from crawler.middlewares import private_host_refused
from crawler.options import site_options
from crawler.robots_directives import header_directives
from crawler.runrecords import REASONS, RECORDS_SUFFIX, read_url_records, runs_dir
from crawler.sitefetch import FetchError, PoliteFetcher
from crawler.urls import host_of, normalize_url

if TYPE_CHECKING:
    from scrapy.http import Response
    from scrapy.settings import BaseSettings

    from crawler.items import PageItem
    from crawler.spiders.site import SiteSpider

PASS, FAIL, UNKNOWN, INFO = "pass", "fail", "unknown", "info"
FIRST_LINES = 3
MAX_DEPTH_SEARCH = 10_000  # pages of the stored link graph walked to find a depth


@dataclass
class Check:
    """One rule's verdict: ``pass`` (does not stop the page), ``fail``, ``unknown`` or ``info``."""

    rule: str
    verdict: str
    detail: str


@dataclass
class Explanation:
    """Everything ``kb-explain`` found out about one URL (``--json`` prints it as is)."""

    site: str
    url: str
    normalized_url: str
    checks: list[Check] = field(default_factory=list)
    delivered: bool | None = None  # would this run deliver it? None when unknown
    reason: str = ""  # the first rule that stops it, or what would happen
    history: dict[str, Any] = field(default_factory=dict)
    documents: list[dict[str, Any]] = field(default_factory=list)

    def add(self, rule: str, verdict: str, detail: str) -> Check:
        check = Check(rule, verdict, detail)
        self.checks.append(check)
        if verdict == FAIL and self.delivered is not False:
            self.delivered = False
            self.reason = f"{rule}: {detail}"
        return check

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- what earlier runs left behind ------------------------------------------------------------
def _when(epoch: float | None) -> str | None:
    if not epoch:
        return None
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _query(state_dir: Path, site: str, sql: str, args: tuple[Any, ...]) -> tuple[Any, ...] | None:
    """One row of the site's sync state, opened read-only; None without a state or a row."""
    path = state_dir / site / "state.sqlite"
    if not path.exists():
        return None
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        return db.execute(sql, args).fetchone()
    finally:
        db.close()


def read_page_state(state_dir: Path, site: str, url: str) -> dict[str, Any] | None:
    """The sync state's row for ``url`` (read-only), or None when never seen / no state.

    Returns ``{"fingerprint", "doc_ids", "lastmod", "etag", "last_modified", "links",
    "first_seen", "last_seen", "last_delivered", "missed_runs", "gone"}``; times as
    ``YYYY-MM-DD HH:MM:SSZ`` strings.
    """
    row = _query(
        state_dir, site,
        "SELECT fingerprint, doc_ids, lastmod, etag, last_modified, links, first_seen, "
        "last_seen, last_delivered, missed_runs, gone FROM pages WHERE url=?",
        (url,),
    )  # fmt: skip
    if row is None:
        return None
    return {
        "fingerprint": row[0],
        "doc_ids": json.loads(row[1]) if row[1] else [],
        "lastmod": row[2],
        "etag": row[3],
        "last_modified": row[4],
        "links": len(json.loads(row[5])) if row[5] else 0,
        "first_seen": _when(row[6]),
        "last_seen": _when(row[7]),
        "last_delivered": _when(row[8]) if row[0] else None,
        "missed_runs": row[9] or 0,
        "gone": bool(row[10]),
    }


def stored_depth(state_dir: Path, site: str, starts: list[str], url: str) -> int | None:
    """Link depth of ``url`` from the start URLs through the links the last runs stored."""
    if url in starts:
        return 0
    seen = set(starts)
    queue = deque((s, 0) for s in starts)
    while queue and len(seen) < MAX_DEPTH_SEARCH:
        page, depth = queue.popleft()
        row = _query(state_dir, site, "SELECT links FROM pages WHERE url=?", (page,))
        for link in json.loads(row[0]) if row and row[0] else []:
            if link == url:
                return depth + 1
            if link not in seen:
                seen.add(link)
                queue.append((link, depth + 1))
    return None


def run_records(runs: Path, url: str, limit: int = 5) -> list[dict[str, Any]]:
    """What the last runs recorded for ``url`` (newest first): their per-URL records
    (:mod:`crawler.runrecords`), each with the run's stamp as ``run``."""
    found: list[dict[str, Any]] = []
    for path in sorted(runs.glob(f"*{RECORDS_SUFFIX}"), reverse=True):
        try:
            records = list(read_url_records(path, url))
        except OSError:
            continue
        stamp = path.name.removesuffix(RECORDS_SUFFIX)
        found.extend({"run": stamp, **record} for record in records)
        if len(found) >= limit:
            break
    return found[:limit]


def _records_mentioning(path: Path, text: str) -> Iterator[dict[str, Any]]:
    """The JSON objects of a JSON Lines file whose line contains ``text`` (bad lines skipped)."""
    try:
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                if text not in line:
                    continue
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if isinstance(record, dict):
                    yield record
    except OSError:
        return


def gone_reports(runs_dir: Path, url: str) -> list[str]:
    """Run reports (newest first) that listed ``url`` as gone."""
    hits = []
    for path in sorted(runs_dir.glob("*.json"), reverse=True):
        try:
            report = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if any(isinstance(g, dict) and g.get("url") == url for g in report.get("gone") or []):
            hits.append(path.name)
    return hits


def outbox_mentions(outbox_dir: Path, url: str) -> dict[str, list[str]]:
    """Outbox files about ``url``: pending batches, quarantine records, no-token JSON Lines.

    Returns ``{"pending": [file names], "rejected": ["file: CODE message"], "written": [...]}``
    (``written``: the last 20 no-token runs' files that hold a document of ``url``).
    """

    def of_url(doc: dict[str, Any]) -> bool:
        meta = doc.get("metadata") or {}
        return doc.get("url") == url or meta.get("source_url") == url

    pending = []
    for path in sorted((outbox_dir / "pending").glob("*.json")):
        try:
            docs = json.loads(path.read_text(encoding="utf-8")).get("documents") or []
        except (OSError, ValueError, AttributeError):
            continue
        if any(isinstance(d, dict) and of_url(d) for d in docs):
            pending.append(path.name)
    rejected = []
    for path in sorted((outbox_dir / "rejected").glob("*.jsonl")):
        for record in _records_mentioning(path, url):
            doc = record.get("document")
            if isinstance(doc, dict) and of_url(doc):
                why = record.get("reason") or {}
                code, message = why.get("code") or "REFUSED", why.get("message") or ""
                rejected.append(f"{path.name}: {code} {message}".strip())
    written = [
        path.name
        for path in sorted(outbox_dir.glob("*.jsonl"), reverse=True)[:20]
        if any(of_url(doc) for doc in _records_mentioning(path, url))
    ]
    return {"pending": pending, "rejected": rejected, "written": written}


# -- the rules ---------------------------------------------------------------------------------
def _robots(
    fetcher: PoliteFetcher, url: str, user_agent: str, settings: BaseSettings
) -> tuple[str, str, float | None]:
    """(verdict, detail, crawl delay) of the host's robots.txt for ``url`` (ROBOTSTXT_PARSER)."""
    if not settings.getbool("ROBOTSTXT_OBEY"):
        return INFO, "not obeyed (ROBOTSTXT_OBEY is off)", None
    parts = urlsplit(url)
    robots_url = f"{parts.scheme}://{parts.netloc}/robots.txt"
    try:
        response, _ = fetcher.get(robots_url)
    except FetchError as exc:
        return UNKNOWN, f"{robots_url} could not be fetched ({exc}); Scrapy then allows all", None
    if response.status >= 400:
        return PASS, f"{robots_url} answers {response.status}: everything is allowed", None
    parser = load_object(settings["ROBOTSTXT_PARSER"])(response.body, None)
    delay = parser.crawl_delay(user_agent)
    if parser.allowed(url, user_agent):
        extra = f" (Crawl-delay {delay:g}s honoured)" if delay else ""
        return PASS, f"allowed for our user agent{extra}", delay
    return FAIL, f"{robots_url} disallows it for our user agent ({user_agent})", delay


def explain_url(
    spider: SiteSpider,
    settings: BaseSettings,
    url: str,
    state_dir: Path,
    outbox_dir: Path,
    *,
    fetch: bool = True,
) -> Explanation:
    """Run every rule of the crawl on ``url`` and, when it may be fetched, show its documents.

    ``state_dir`` and ``outbox_dir`` are the absolute ``KB_STATE_DIR`` / ``KB_OUTBOX``. Network
    failures become verdicts, never exceptions.
    """
    site = spider.site
    norm = normalize_url(url)
    ex = Explanation(site=site.name, url=url, normalized_url=norm)
    host = host_of(norm)

    # 1. Where the crawl may go.
    if spider.on_site(norm):  # the crawl's one host rule (Scrapy's OffsiteMiddleware)
        ex.add("allowed domains", PASS, f"{host} is within {', '.join(spider.allowed_domains)}")
    else:
        ex.add(
            "allowed domains", FAIL,
            f"{host} is not within allowed_domains ({', '.join(spider.allowed_domains)})",
        )  # fmt: skip
    if private_host_refused(host, site):
        ex.add("private address", FAIL, f"{host} is private and the site file does not name it")
    else:
        ex.add("private address", PASS, "public, or named in the site file")
    ok, detail = spider.url_rule(norm)
    ex.add("allow/deny", PASS if ok else FAIL, detail)

    # 2. What earlier runs left behind.
    record = read_page_state(state_dir, site.name, norm)
    runs = runs_dir(state_dir, site.name)
    ex.history = {
        "state": record,
        "runs": run_records(runs, norm),
        "gone_in_reports": gone_reports(runs, norm),
        **outbox_mentions(outbox_dir / site.name, norm),
    }
    depth = stored_depth(state_dir, site.name, [normalize_url(u) for u in site.start_urls], norm)
    recorded = [r for r in ex.history["runs"] if isinstance(r.get("depth"), int)]
    if depth is None and recorded:
        depth = recorded[0]["depth"]
    if depth is None:
        known = "in the sitemap (depth 0) or found through links" if record else "unknown"
        ex.add(
            "depth", UNKNOWN if not record else INFO, f"not reachable through stored links; {known}"
        )
    elif depth > site.max_depth:
        ex.add("depth", FAIL, f"{depth} links from the start URLs, over max_depth {site.max_depth}")
    else:
        ex.add("depth", PASS, f"{depth} link(s) from the start URLs (max_depth {site.max_depth})")

    if ex.delivered is False or not fetch:
        _history_checks(ex, record)
        if not fetch and ex.delivered is None:
            ex.reason = "not fetched (--no-fetch): the page's own rules are unknown"
        return ex

    with PoliteFetcher(settings, site) as fetcher:
        user_agent = fetcher.user_agent
        verdict, detail, delay = _robots(fetcher, norm, user_agent, settings)
        ex.add("robots.txt", verdict, detail)
        if delay:
            fetcher.host_delay(host, delay)
        if ex.delivered is False:
            _history_checks(ex, record)
            return ex
        try:
            response, chain = fetcher.get(norm, hop_allowed=lambda u: _hop_refused(spider, u))
        except FetchError as exc:
            ex.add("download", FAIL, str(exc))
            _history_checks(ex, record)
            return ex
    _page_checks(ex, spider, settings, state_dir, response, chain, record)
    return ex


def _hop_refused(spider: SiteSpider, url: str) -> str | None:
    if private_host_refused(host_of(url), spider.site):
        return "is a private address the site file does not name"
    if not spider.url_wanted(normalize_url(url)):
        return "is outside the site's rules (allowed domains, allow/deny)"
    return None


def _history_checks(ex: Explanation, record: dict[str, Any] | None) -> None:
    """Say what the sync state knows, when the page itself was not looked at."""
    if record and record.get("last_delivered"):
        ex.add("last sync", INFO, f"delivered {record['last_delivered']}")


def _page_checks(
    ex: Explanation,
    spider: SiteSpider,
    settings: BaseSettings,
    state_dir: Path,
    response: Response,
    chain: list[str],
    record: dict[str, Any] | None,
) -> None:
    from crawler.extract.worker import process_document, process_page

    site = spider.site
    if chain:
        ex.add("redirects", INFO, f"{' -> '.join([*chain, response.url])}")
    url = normalize_url(response.url)
    if response.status != 200:
        gone = " (404/410 count towards 'gone')" if response.status in (404, 410) else ""
        ex.add("download", FAIL, f"HTTP {response.status}{gone}")
        return
    ex.add("download", PASS, f"HTTP 200, {len(response.body)} bytes")
    ctype = (response.headers.get(b"Content-Type") or b"").decode("latin-1")
    kind = document_kind(ctype, url, site.documents) if site.documents else None
    if kind is None and not spider.is_html(response):
        ex.add("HTML", FAIL, f"not an HTML page ({ctype or '?'}): counted as not_html")
        return
    options = site_options(site, settings)  # the crawl's own (SiteSpider.from_crawler)
    header = header_directives(response.headers.getlist(b"X-Robots-Tag"), options.bots)
    max_chars = min(site.max_document_chars, learned_limit(state_dir, site.name) or 10**9)
    split = (url, max_chars)
    if kind is not None:  # a linked document (documents: [pdf, docx])
        result = process_document(response.body, response.url, kind, options, split, header)
    else:
        result = process_page(
            response.text, response.url, options, site.name, 1, split, header=header
        )
    page = result.page

    canonical = page.canonical_url
    canonical = normalize_url(canonical) if canonical else None
    if canonical and canonical != url and spider.url_wanted(canonical):
        ex.add("canonical", FAIL, f"rel=canonical points to {canonical}, which is crawled instead")
    elif canonical and canonical != url:
        ex.add("canonical", PASS, f"rel=canonical {canonical} is outside the crawl: ignored")
    else:
        ex.add("canonical", PASS, "none, or this URL itself")
    skip = page.skip_reason  # decided by the worker, as in the crawl (crawler.extract.skip)
    explain_skip = {
        "noindex": "the page asks not to be indexed (meta robots or X-Robots-Tag noindex)",
        "thin": f"its main text is shorter than min_chars ({site.min_chars})",
        "empty": "no main text was found",
    }
    if skip in ("noindex",):
        ex.add("noindex", FAIL, explain_skip[skip])
    else:
        ex.add("noindex", PASS, "no noindex")
    if skip in ("thin", "empty"):
        ex.add("thin or empty", FAIL, explain_skip[skip])
    elif skip and skip != "noindex":
        ex.add("extraction", FAIL, f"skipped as {skip}: {REASONS.get(skip, 'see the README')}")
    elif not skip:
        ex.add("thin or empty", PASS, f"{len(page.content)} characters of main text")
    if skip or ex.delivered is False:
        return

    # The crawl's own rules (SyncRun.duplicate_of, unchanged_by_fingerprint) on its state.
    state = read_sync_state(state_dir, spider)
    try:
        fingerprint = state.fingerprint(page.content_hash) if state else ""
        owner = state.delivered_elsewhere(url, fingerprint) if state else None
        verdict = state.compare(url, fingerprint) if state else "new"
    finally:
        if state is not None:
            state.close()
    if owner:
        ex.add("duplicate", FAIL, f"the same text was delivered under {owner}")
    else:
        ex.add("duplicate", PASS, "no other URL delivered this text")
    if record and verdict == "unchanged" and not spider.full_sync:
        etag = (response.headers.get(b"ETag") or b"").decode("latin-1")
        modified = (response.headers.get(b"Last-Modified") or b"").decode("latin-1")
        if record.get("lastmod"):
            layer = (
                f"lastmod: while the sitemap's <lastmod> stays {record['lastmod']}, "
                "not even downloaded"
            )
        elif (etag and etag == record.get("etag")) or (
            modified and modified == record.get("last_modified")
        ):
            layer = "304: the server's ETag/Last-Modified is unchanged, so not even extracted"
        else:
            layer = "fingerprint: same text, nothing posted"
        ex.add(
            "unchanged", FAIL,
            f"unchanged since the last sync, delivered {record['last_delivered']} (layer {layer})",
        )  # fmt: skip
    elif record and verdict != "new":
        ex.add("unchanged", PASS, f"changed since it was delivered {record['last_delivered']}")
    else:
        ex.add("unchanged", PASS, "never delivered: a new page")
    if ex.delivered is None:
        ex.delivered = True
        ex.reason = "would be crawled and delivered"

    item = spider.page_item(url, result, response, result.links)
    for doc in documents_of(item, max_chars):
        lines = [ln for ln in doc["content"].splitlines() if ln.strip()][:FIRST_LINES]
        ex.documents.append(
            {
                "title": doc["title"],
                "url": doc["url"],
                "language": doc["metadata"].get("language"),
                "chars": len(doc["content"]),
                "first_lines": lines,
                "metadata": doc["metadata"],
            }
        )


def documents_of(item: PageItem, max_chars: int) -> list[dict[str, Any]]:
    """A page item's documents exactly as the knowledge-base pipeline posts them: the
    worker's parts completed with the page's metadata, or the page split at ``max_chars``."""
    from pipelines.split import split_document, with_metadata

    if item.parts:
        return with_metadata(item.parts, item.document["metadata"])
    return split_document(item.document, max_chars, anchors=item.anchors)


def learned_limit(state_dir: Path, site: str) -> int | None:
    """The split limit a ``DOCUMENT_TOO_LARGE`` taught earlier runs (``limits.json``)."""
    try:
        data = json.loads((state_dir / site / "limits.json").read_text(encoding="utf-8"))
        return int(data["max_document_chars"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


# -- text output -------------------------------------------------------------------------------
_MARK = {PASS: "ok", FAIL: "NO", UNKNOWN: "?", INFO: "-"}
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def render_text(ex: Explanation) -> str:
    """The human-readable explanation (what ``kb-explain`` prints without ``--json``)."""
    out = [f"{ex.site}: {ex.normalized_url}"]
    if ex.normalized_url != ex.url:
        out.append(f"  (normalized from {ex.url})")
    width = max(len(c.rule) for c in ex.checks) if ex.checks else 10
    for check in ex.checks:
        out.append(f"  {_MARK[check.verdict]:<3} {check.rule:<{width}}  {check.detail}")
    if ex.delivered:
        out.append(f"Verdict: {ex.reason}")
    elif ex.delivered is False:
        out.append(f"Verdict: not delivered ({ex.reason})")
    else:
        out.append(f"Verdict: unknown ({ex.reason or 'not fetched'})")
    out.append("Last runs:")
    out.extend(f"  {line}" for line in history_lines(ex.history))
    if ex.documents:
        out.append(f"Documents it would produce: {len(ex.documents)}")
        for i, doc in enumerate(ex.documents, 1):
            out.append(f"  {i}. {doc['title']}")
            out.append(f"     {doc['url']}")
            out.append(f"     language {doc['language']}, {doc['chars']} characters")
            out.extend(f"     | {line[:100]}" for line in doc["first_lines"])
    return _ANSI.sub("", "\n".join(out))


def history_lines(history: dict[str, Any]) -> list[str]:
    """``Explanation.history`` as the "Last runs:" lines of the text output."""
    lines = []
    state = history.get("state")
    if not state:
        lines.append("never seen by an earlier run (not in the sync state)")
    else:
        if state.get("last_delivered"):
            ids = ", ".join(state["doc_ids"]) or "none returned"
            lines.append(f"delivered {state['last_delivered']}; document ids: {ids}")
        else:
            lines.append("seen but never delivered")
        lines.append(f"first seen {state['first_seen']}, last seen {state['last_seen']}")
        if state.get("gone"):
            lines.append("reported gone (missed by complete runs, or 404/410)")
        elif state.get("missed_runs"):
            lines.append(f"missed by the last {state['missed_runs']} complete run(s)")
    for record in history.get("runs") or []:
        reason = str(record.get("reason") or "?")
        meaning = REASONS.get(reason) or REASONS.get("http_<status>" if "http_" in reason else "")
        detail = f" ({record['detail']})" if record.get("detail") else ""
        lines.append(
            f"run {record['run']}: not delivered: {reason}{detail}"
            + (f" - {meaning}" if meaning else "")
        )
    for name in history.get("gone_in_reports") or []:
        lines.append(f"listed as gone in run report {name}")
    for name in history.get("pending") or []:
        lines.append(f"waiting in the outbox: pending/{name} (sent by the next run or kb-flush)")
    for name in history.get("written") or []:
        lines.append(f"written to the outbox (no token): {name}")
    for line in history.get("rejected") or []:
        lines.append(f"quarantined by the API: rejected/{line}")
    return lines
