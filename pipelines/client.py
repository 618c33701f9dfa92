"""The knowledge-base import API client (httpx.AsyncClient on Scrapy's asyncio loop).

It owns the *transport* concerns: auth, timeouts, the client-side rate limit,
retries with backoff and jitter for 429/5xx/network failures, and turning the API's
error codes into typed exceptions. What to do with a refused batch (split, bisect,
quarantine, stop) is the pipeline's business.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx

from pipelines.batch import documents_array

logger = logging.getLogger(__name__)
_T = TypeVar("_T")

FATAL_HINTS = {
    "INVALID_TOKEN": "the API token was refused: regenerate it (Settings > Integrations > API) "
    "and set KB_API_TOKEN",
    "INVALID_MODEL_ID": "the chat model id is unknown: check chat_model_id in the site file "
    "or KB_CHAT_MODEL_ID",
    "QUOTA_EXCEEDED": "the plan's limits are reached: upgrade the plan or contact support",
    "FORBIDDEN": "the API refused access (403): check the token's permissions",
    "NOT_FOUND": "the import endpoint was not found: check KB_API_URL",
}


#: Error codes of the API's documentation ("Common Error Codes"). A 200 answer with
#: ``success: false`` and one of these means what the code says; any other code is news
#: to us, and the batch's outcome is unknown.
DOCUMENTED_CODES = frozenset(
    {
        "INVALID_TOKEN",
        "INVALID_MODEL_ID",
        "RATE_LIMITED",
        "INVALID_REQUEST",
        "DOCUMENT_TOO_LARGE",
        "QUOTA_EXCEEDED",
    }
)
#: Per-document statuses that mean "not imported" (a partial import).
REFUSED_STATUSES = frozenset({"failed", "error", "rejected"})
BODY_SAMPLE_BYTES = 200  # how much of an unexpected answer's body a warning quotes
_API_VERSION_RE = re.compile(r"v\d+")


def check_api_url(url: str) -> None:
    """Check ``KB_API_URL`` before anything runs; raises :class:`ValueError` with one line.

    The documentation's base URL is ``https://api.aismarttalk.tech/v1``: it needs an
    ``http``/``https`` scheme, a host, and the API version as a path segment (``/v1``),
    since the endpoints (``/documents/import``) are relative to it.
    """
    example = "e.g. https://api.aismarttalk.tech/v1"
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
        parts.port  # noqa: B018 (raises ValueError for a port that is not a number)
    except ValueError as exc:
        raise ValueError(f"KB_API_URL {url!r} is not a URL ({exc}; {example})") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"KB_API_URL {url!r} needs an http:// or https:// scheme ({example})")
    if not host:
        raise ValueError(f"KB_API_URL {url!r} has no host ({example})")
    if not any(_API_VERSION_RE.fullmatch(seg) for seg in parts.path.split("/")):
        raise ValueError(f"KB_API_URL {url!r} has no API version in its path ({example})")
    if parts.query or parts.fragment:
        raise ValueError(f"KB_API_URL {url!r} must not have a query or fragment ({example})")


def body_sample(response: httpx.Response) -> str:
    """The first bytes of an answer's body, printable, for a warning (never the request)."""
    data = response.content[:BODY_SAMPLE_BYTES]
    more = "…" if len(response.content) > BODY_SAMPLE_BYTES else ""
    return repr(data.decode("utf-8", "replace")) + more


class KBError(Exception):
    """An answer of the API we could not turn into an accepted batch."""

    def __init__(self, code: str, message: str, status: int | None = None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


class KBFatal(KBError):
    """Nothing more can be delivered this run (bad token, unknown model, quota)."""

    @property
    def hint(self) -> str:
        return FATAL_HINTS.get(self.code, self.message)


class KBTooLarge(KBError):
    """DOCUMENT_TOO_LARGE: the server's content limit is below what we sent."""


class KBInvalidRequest(KBError):
    """INVALID_REQUEST: something in the batch is malformed for the server."""


class KBUnavailable(KBError):
    """Retries exhausted (5xx, timeouts, dropped connections, persistent 429)."""


class KBUnconfirmed(KBError):
    """A 2xx answer that is not the documented success shape: the outcome is unknown."""


@dataclass
class ImportResult:
    ids: list[str | None]  # per posted document; None where refused or not given
    refused: dict[int, tuple[str, str]] = field(default_factory=dict)  # index -> (code, message)


def import_outcome(body: Any, count: int) -> ImportResult:
    """What a 2xx import answer confirms about the ``count`` documents sent.

    A batch is delivered only on the documented success shape: ``success: true`` and
    ``imported`` equal to ``count``, or per-document results that account for each
    document (a partial import: ``documents[i].status == "failed"`` and/or
    ``errors[{index, code, message}]``) with ``imported`` equal to the documents not
    refused. Raises :class:`ValueError` (the reason) for anything else: not a JSON object,
    ``success`` not ``true``, ``imported`` missing or not matching, entries that do not add up.
    Source: the API documentation's "Import Documents" response and "Partial import" row.
    """
    if not isinstance(body, dict):
        raise ValueError("the body is not a JSON object")
    if body.get("success") is not True:
        raise ValueError(f"success is {body.get('success')!r}, not true")
    imported = body.get("imported")
    if not isinstance(imported, int) or isinstance(imported, bool):
        raise ValueError(f"imported is {imported!r}, not a number")
    refused: dict[int, tuple[str, str]] = {}
    for err in body.get("errors") or []:
        index = err.get("index") if isinstance(err, dict) else None
        if isinstance(index, int) and not isinstance(index, bool) and 0 <= index < count:
            refused[index] = (str(err.get("code") or "REFUSED"), str(err.get("message") or ""))
    ids: list[str | None] = [None] * count
    entries = body.get("documents")
    if isinstance(entries, list) and len(entries) == count:
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict):
                raise ValueError(f"documents[{i}] is not an object")
            failed = str(entry.get("status") or "").lower() in REFUSED_STATUSES
            if failed or (entry.get("error") and not entry.get("id")):
                refused.setdefault(i, ("REFUSED", str(entry.get("error") or "refused")))
            elif i not in refused:
                ids[i] = None if entry.get("id") is None else str(entry["id"])
    if imported != count - len(refused):
        raise ValueError(
            f"imported is {imported} of {count} documents sent, and {len(refused)} "
            "are reported refused"
        )
    return ImportResult(ids=ids, refused=refused)


class RateLimiter:
    """Spaces request starts evenly: ``per_minute`` requests a minute, never a burst.

    A server-side ``Retry-After`` pushes every sender back (``defer``, seconds).
    ``clock`` (seconds) and ``sleep`` are the event loop's unless a test gives its own.
    """

    # Aim a little under the limit: the server counts arrivals in a sliding window, and
    # network jitter can push a request sent exactly on time into the previous window.
    SAFETY = 0.97

    def __init__(
        self,
        per_minute: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ):
        self.interval = 60.0 / (per_minute * self.SAFETY) if per_minute > 0 else 0.0
        self.clock = clock
        self.sleep = sleep
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            now = self.clock()
            wait = self._next - now
            if wait > 0:
                await self.sleep(wait)
                now = self.clock()
            self._next = max(now, self._next) + self.interval

    def defer(self, seconds: float) -> None:
        self._next = max(self._next, self.clock() + seconds)


def _error_of(response: httpx.Response) -> tuple[str, str]:
    """(code, message) from the documented error body, else from the status."""
    try:
        body = response.json()
        err = body.get("error") or {}
        if isinstance(err, dict) and err.get("code"):
            return str(err["code"]), str(err.get("message") or "")
    except (ValueError, AttributeError):
        pass
    by_status = {
        400: "INVALID_REQUEST",
        401: "INVALID_TOKEN",
        402: "QUOTA_EXCEEDED",
        403: "FORBIDDEN",
        404: "NOT_FOUND",
        413: "DOCUMENT_TOO_LARGE",
        429: "RATE_LIMITED",
    }
    return by_status.get(
        response.status_code, f"HTTP_{response.status_code}"
    ), response.reason_phrase


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


@dataclass
class Source:
    """One document the knowledge base answered with: ``relevance`` in 0..1 when given."""

    id: str | None
    title: str
    relevance: float | None
    url: str | None = None
    content: str | None = None


@dataclass(frozen=True)
class Endpoint:
    """One documented endpoint: its path under ``KB_API_URL`` and its counters' prefix.

    A call's counters are ``<stats>requests``, ``<stats>response_status/<status>``,
    ``<stats>retries``, ``<stats>rate_limited``, ``<stats>network_errors/<exception>`` and
    ``<stats>requests_refused`` (``kb/requests`` for imports, ``kb/search_requests`` for
    searches).
    """

    path: str
    stats: str


IMPORT = Endpoint("/documents/import", "kb/")
SEARCH = Endpoint("/documents/search", "kb/search_")
QUERY = Endpoint("/chat/query", "kb/query_")


class KBClient:
    """The knowledge-base API: ``/documents/import``, ``/documents/search``, ``/chat/query``.

    One transport for all three: bearer token, timeouts (seconds), at most ``max_in_flight``
    requests at once, a client-side :class:`RateLimiter` per endpoint (``rate_per_min`` for
    imports, ``query_rate_per_min`` for search and query: the documented limits), retries
    with backoff and jitter on 429 (``Retry-After``), 5xx and network errors (then
    :class:`KBUnavailable`), and refusals as typed exceptions (:class:`KBFatal` for token,
    model, quota; :class:`KBTooLarge`; else :class:`KBInvalidRequest`). ``on_event(name,
    n)`` receives counters (Scrapy's ``stats.inc_value``). A retry wait of
    ``log_wait_seconds`` or more is logged once (host, reason, next attempt time).
    """

    def __init__(
        self,
        api_url: str,
        token: str,
        chat_model_id: str,
        *,
        rate_per_min: float = 100,
        query_rate_per_min: float = 60,
        max_in_flight: int = 2,
        connect_timeout: float = 10.0,
        request_timeout: float = 120.0,
        max_retries: int = 6,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
        log_wait_seconds: float = 5.0,
        on_event: Callable[[str, int], None] | None = None,
    ):
        self.base = api_url.rstrip("/")
        self.host = urlsplit(self.base).netloc or self.base
        self.chat_model_id = chat_model_id
        self.limiters = {
            IMPORT: RateLimiter(rate_per_min),
            SEARCH: RateLimiter(query_rate_per_min),
            QUERY: RateLimiter(query_rate_per_min),
        }
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.log_wait_seconds = log_wait_seconds
        self.connect_timeout = connect_timeout
        self.on_event = on_event or (lambda name, n: None)
        self._slots = asyncio.Semaphore(max_in_flight)
        limits = httpx.Limits(
            max_connections=max_in_flight, max_keepalive_connections=max_in_flight
        )
        self._http = httpx.AsyncClient(
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            timeout=httpx.Timeout(request_timeout, connect=connect_timeout),
            transport=httpx.AsyncHTTPTransport(limits=limits, retries=1),
            follow_redirects=False,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with full jitter."""
        return random.uniform(0, min(self.backoff_max, self.backoff_base * 2**attempt))

    def _announce_wait(self, delay: float, reason: str) -> None:
        """One line for a long retry wait, so an outage is not minutes of silence."""
        if delay < self.log_wait_seconds:
            return
        at = time.strftime("%H:%M:%S", time.localtime(time.time() + delay))
        logger.warning(
            "Knowledge base %s: %s; next attempt in %.0f s (at %s)", self.host, reason, delay, at
        )

    async def _wait(self, delay: float, reason: str) -> None:
        self._announce_wait(delay, reason)
        await asyncio.sleep(delay)

    async def _call(
        self,
        endpoint: Endpoint,
        body: bytes,
        accept: Callable[[httpx.Response], _T],
        *,
        retries: int | None = None,
        timeout: httpx.Timeout | None = None,
        documents: int = 0,
    ) -> _T:
        """POST ``body`` to ``endpoint`` until ``accept`` takes a 2xx answer; its result.

        ``accept`` raises :class:`ValueError` for a 2xx answer that confirms nothing (the
        outcome is unknown: retried like a 5xx, :class:`KBUnavailable` with code
        ``UNCONFIRMED`` when the retries run out) or a :class:`KBError` to give up at once.
        ``retries`` defaults to ``max_retries``; ``timeout`` to the client's; ``documents``
        (how many the body carries) is for the warning about an unconfirmed answer.
        """
        retries = self.max_retries if retries is None else retries
        limiter, count = self.limiters[endpoint], endpoint.stats
        last: KBError | None = None
        for attempt in range(retries + 1):
            if attempt:
                self.on_event(f"{count}retries", 1)
            try:
                # Take a connection slot first, then the rate-limiter's turn: spacing is
                # then measured between real sends, not between queue positions (which
                # bunch up when both slots are busy and free at once).
                async with self._slots:
                    await limiter.acquire()
                    self.on_event(f"{count}requests", 1)
                    response = await self._http.post(
                        self.base + endpoint.path,
                        content=body,
                        timeout=timeout or httpx.USE_CLIENT_DEFAULT,
                    )
            except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                sent = not isinstance(
                    exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout
                )
                name = type(exc).__name__
                if sent and endpoint is IMPORT:
                    # Outcome unknown: the server may have imported it. Prefer delivery.
                    self.on_event("kb/outcome_unknown", 1)
                self.on_event(f"{count}network_errors/{name}", 1)
                last = KBUnavailable("NETWORK", f"{name} talking to {self.host}")
                if attempt < retries:
                    await self._wait(self._backoff(attempt), name)
                continue
            status = response.status_code
            self.on_event(f"{count}response_status/{status}", 1)
            code, message = _error_of(response)
            if 200 <= status < 300:
                try:
                    if code not in DOCUMENTED_CODES:  # not a documented error in a 2xx
                        return accept(response)
                except ValueError as exc:
                    last = self._unconfirmed(response, documents, str(exc))
                    if attempt < retries:
                        await self._wait(self._backoff(attempt), f"unconfirmed {status} answer")
                    continue
            if (status == 429 or code == "RATE_LIMITED") and code != "QUOTA_EXCEEDED":
                delay = _retry_after(response)
                delay = delay if delay is not None else self._backoff(attempt + 1)
                self.on_event(f"{count}rate_limited", 1)
                self._announce_wait(delay, f"{status} {code}")
                limiter.defer(delay)
                last = KBUnavailable(code, message, status)
                continue
            if status >= 500:
                last = KBUnavailable(code, message, status)
                delay = _retry_after(response)
                if attempt < retries:
                    delay = delay if delay is not None else self._backoff(attempt)
                    await self._wait(delay, f"{status} {code}")
                continue
            self.on_event(f"{count}requests_refused", 1)
            if code in FATAL_HINTS or status in (401, 402, 403):
                raise KBFatal(code, message, status)
            if code == "DOCUMENT_TOO_LARGE" or status == 413:
                raise KBTooLarge(code, message, status)
            raise KBInvalidRequest(code, message, status)
        assert last is not None
        if isinstance(last, KBUnconfirmed):
            raise KBUnavailable(last.code, last.message, last.status)
        raise last

    def _unconfirmed(self, response: httpx.Response, count: int, reason: str) -> KBUnconfirmed:
        """Count and log an answer that does not confirm the batch (its outcome is unknown)."""
        self.on_event("kb/outcome_unknown", 1)
        self.on_event("kb/unconfirmed", 1)
        logger.warning(
            "The knowledge base answered %d for a batch of %d documents, but not with the "
            "documented success (%s): outcome unknown, the batch is sent again. Body: %s",
            response.status_code, count, reason, body_sample(response),
        )  # fmt: skip
        return KBUnconfirmed("UNCONFIRMED", reason, response.status_code)

    async def send(
        self, documents: list[dict[str, Any]], encoded: list[bytes] | None = None
    ) -> ImportResult:
        """``POST /documents/import`` one batch; what :func:`import_outcome` confirms.

        ``encoded`` is each document's JSON when the caller has it already (not encoded again).
        Retries transient failures; an answer that confirms nothing (unknown outcome) is
        retried like a 5xx and ends as :class:`KBUnavailable` (code ``UNCONFIRMED``).
        """
        body = b'{"chatModelId":%s,"documents":%s}' % (
            json.dumps(self.chat_model_id).encode(),
            documents_array(documents, encoded),
        )
        count = len(documents)
        return await self._call(
            IMPORT, body, lambda r: import_outcome(_json_or_none(r), count), documents=count
        )

    def _payload(self, query: str, **fields: Any) -> bytes:
        return json.dumps({"chatModelId": self.chat_model_id, "query": query, **fields}).encode()

    async def search(self, query: str, limit: int = 10) -> list[Source]:
        """``POST /documents/search``: the documents matching ``query``, most relevant first."""
        body = await self._call(SEARCH, self._payload(query, limit=limit), _success_body)
        docs = body.get("documents")
        return [_source(d, "id") for d in docs or [] if isinstance(d, dict)]

    async def query(
        self, question: str, *, max_tokens: int | None = None, temperature: float | None = None
    ) -> tuple[str, list[Source]]:
        """``POST /chat/query``: the knowledge base's answer to ``question`` and its sources."""
        options = {"maxTokens": max_tokens, "temperature": temperature}
        fields: dict[str, Any] = {}
        if any(v is not None for v in options.values()):
            fields["options"] = {k: v for k, v in options.items() if v is not None}
        body = await self._call(QUERY, self._payload(question, **fields), _success_body)
        sources = [
            _source(s, "documentId") for s in body.get("sources") or [] if isinstance(s, dict)
        ]
        return str(body.get("response") or ""), sources

    async def check_credentials(self) -> str | None:
        """One cheap call that imports nothing: ``/documents/search`` with ``limit: 1``.

        Tried once, with a 15 s timeout. Returns None when the API accepted the token and
        model id, else why they could not be checked (a network failure, a 5xx, an
        unexpected answer: the caller warns and goes on). Raises :class:`KBFatal` when the
        API refused them (``INVALID_TOKEN``, ``INVALID_MODEL_ID``, a 401): nothing will be
        accepted this run.
        """
        timeout = httpx.Timeout(15.0, connect=min(self.connect_timeout, 10.0))
        payload = self._payload("kbcrawler credentials check", limit=1)
        try:
            await self._call(SEARCH, payload, _success_body, retries=0, timeout=timeout)
        except KBError as exc:
            if exc.code in ("INVALID_TOKEN", "INVALID_MODEL_ID") or exc.status == 401:
                self.on_event("kb/requests_refused", 1)
                if isinstance(exc, KBFatal):
                    raise
                raise KBFatal(exc.code, exc.message, exc.status) from None
            status = f"{exc.status} " if exc.status else ""
            return f"{status}{exc.code}: {exc.message}"
        return None


def _success_body(response: httpx.Response) -> dict[str, Any]:
    """A search or query answer's JSON object; :class:`KBError` ``UNEXPECTED`` unless it has
    the documented ``success: true``."""
    body = _json_or_none(response)
    if isinstance(body, dict) and body.get("success") is True:
        return body
    status = response.status_code
    raise KBError("UNEXPECTED", f"{status} answer {body_sample(response)}", status)


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _source(entry: dict[str, Any], id_key: str) -> Source:
    relevance = entry.get("relevance")
    return Source(
        id=entry.get(id_key) or entry.get("id"),
        title=str(entry.get("title") or ""),
        relevance=float(relevance) if isinstance(relevance, int | float) else None,
        url=entry.get("url") if isinstance(entry.get("url"), str) else None,
        content=entry.get("content") if isinstance(entry.get("content"), str) else None,
    )
