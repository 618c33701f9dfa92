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
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from pipelines.batch import documents_array

logger = logging.getLogger(__name__)

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

    A server-side ``Retry-After`` pushes every sender back (``defer``).
    """

    # Aim a little under the limit: the server counts arrivals in a sliding window, and
    # network jitter can push a request sent exactly on time into the previous window.
    SAFETY = 0.97

    def __init__(self, per_minute: float, clock: Callable[[], float] = time.monotonic):
        self.interval = 60.0 / (per_minute * self.SAFETY) if per_minute > 0 else 0.0
        self.clock = clock
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            now = self.clock()
            wait = self._next - now
            if wait > 0:
                await asyncio.sleep(wait)
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


class ImportClient:
    """POSTs batches to ``{api_url}/documents/import``; checks credentials with a search.

    ``on_event(name, n)`` receives counters (Scrapy's ``stats.inc_value``). A retry wait of
    ``log_wait_seconds`` or more is logged once (host, reason, next attempt time).
    """

    def __init__(
        self,
        api_url: str,
        token: str,
        chat_model_id: str,
        *,
        rate_per_min: float = 100,
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
        self.url = self.base + "/documents/import"
        self.host = urlsplit(self.base).netloc or self.base
        self.chat_model_id = chat_model_id
        self.limiter = RateLimiter(rate_per_min)
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

    async def send(
        self, documents: list[dict[str, Any]], encoded: list[bytes] | None = None
    ) -> ImportResult:
        """Send one batch; retries transient failures, raises :class:`KBError` subclasses.

        ``encoded`` is each document's JSON when the caller has it already (not encoded again).
        Returns only what :func:`import_outcome` confirms; an answer that confirms nothing
        (unknown outcome) is retried like a 5xx and ends as :class:`KBUnavailable`
        (code ``UNCONFIRMED``) when the retries run out.
        """
        body = b'{"chatModelId":%s,"documents":%s}' % (
            json.dumps(self.chat_model_id).encode(),
            documents_array(documents, encoded),
        )
        last: KBError | None = None
        for attempt in range(self.max_retries + 1):
            if attempt:
                self.on_event("kb/retries", 1)
            try:
                # Take a connection slot first, then the rate-limiter's turn: spacing is
                # then measured between real sends, not between queue positions (which
                # bunch up when both slots are busy and free at once).
                async with self._slots:
                    await self.limiter.acquire()
                    self.on_event("kb/requests", 1)
                    response = await self._http.post(self.url, content=body)
            except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                sent = not isinstance(
                    exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout
                )
                name = type(exc).__name__
                if sent:
                    # Outcome unknown: the server may have imported it. Prefer delivery.
                    self.on_event("kb/outcome_unknown", 1)
                self.on_event(f"kb/network_errors/{name}", 1)
                last = KBUnavailable("NETWORK", f"{name} talking to the knowledge base")
                if attempt < self.max_retries:
                    await self._wait(self._backoff(attempt), name)
                continue
            status = response.status_code
            self.on_event(f"kb/response_status/{status}", 1)
            code, message = _error_of(response)
            if 200 <= status < 300:
                try:
                    if code not in DOCUMENTED_CODES:  # not a documented error in a 2xx
                        return import_outcome(_json_or_none(response), len(documents))
                except ValueError as exc:
                    last = self._unconfirmed(response, len(documents), str(exc))
                    if attempt < self.max_retries:
                        await self._wait(self._backoff(attempt), f"unconfirmed {status} answer")
                    continue
            if (status == 429 or code == "RATE_LIMITED") and code != "QUOTA_EXCEEDED":
                delay = _retry_after(response)
                delay = delay if delay is not None else self._backoff(attempt + 1)
                self.on_event("kb/rate_limited", 1)
                self._announce_wait(delay, f"{status} {code}")
                self.limiter.defer(delay)
                last = KBUnavailable(code, message, status)
                continue
            if status >= 500:
                last = KBUnavailable(code, message, status)
                delay = _retry_after(response)
                if attempt < self.max_retries:
                    delay = delay if delay is not None else self._backoff(attempt)
                    await self._wait(delay, f"{status} {code}")
                continue
            self.on_event("kb/requests_refused", 1)
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

    async def search(self, query: str, limit: int = 1, timeout: float | None = None) -> Any:
        """``POST {api_url}/documents/search`` once (no retries); the answer's JSON body.

        Raises :class:`KBFatal` for ``INVALID_TOKEN`` / ``INVALID_MODEL_ID`` (and the other
        fatal codes), :class:`KBUnavailable` for a network failure, a timeout or a 5xx,
        :class:`KBError` for any other answer that is not a JSON success.
        """
        payload = {"chatModelId": self.chat_model_id, "query": query, "limit": limit}
        self.on_event("kb/search_requests", 1)
        try:
            response = await self._http.post(
                self.base + "/documents/search",
                content=json.dumps(payload).encode(),
                timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
            )
        except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            raise KBUnavailable("NETWORK", f"{type(exc).__name__} talking to {self.host}") from None
        status = response.status_code
        self.on_event(f"kb/search_status/{status}", 1)
        code, message = _error_of(response)
        if 200 <= status < 300:
            body = _json_or_none(response)
            if isinstance(body, dict) and body.get("success") is True:
                return body
            if code in DOCUMENTED_CODES:  # a documented error carried by a 2xx
                status = 400
            else:
                raise KBError("UNEXPECTED", f"{status} answer {body_sample(response)}", status)
        if status >= 500:
            raise KBUnavailable(code, message, status)
        if code in ("INVALID_TOKEN", "INVALID_MODEL_ID") or status == 401:
            raise KBFatal(code, message, status)
        raise KBError(code, message, status)

    async def check_credentials(self) -> str | None:
        """One cheap call that imports nothing: ``/documents/search`` with ``limit: 1``.

        Returns None when the API accepted the token and model id, else why they could not
        be checked (a network failure, a 5xx, an unexpected answer: the caller warns and goes
        on). Raises :class:`KBFatal` when the API refused them (``INVALID_TOKEN``,
        ``INVALID_MODEL_ID``): nothing will be accepted this run.
        """
        timeout = httpx.Timeout(15.0, connect=min(self.connect_timeout, 10.0))
        try:
            await self.search("kbcrawler credentials check", limit=1, timeout=timeout)
        except KBFatal:
            self.on_event("kb/requests_refused", 1)
            raise
        except KBError as exc:
            status = f"{exc.status} " if exc.status else ""
            return f"{status}{exc.code}: {exc.message}"
        return None


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


# -- search and chat query (operator commands) ------------------------------------------------
@dataclass
class Source:
    """One document the knowledge base answered with: ``relevance`` in 0..1 when given."""

    id: str | None
    title: str
    relevance: float | None
    url: str | None = None
    content: str | None = None


class QueryClient:
    """``POST /documents/search`` and ``POST /chat/query`` (documented limit: 60 a minute each).

    Same transport rules as :class:`ImportClient`: bearer token, timeouts, the client-side
    :class:`RateLimiter`, retries on 429 (``Retry-After``), 5xx and network errors; refusals
    raise :class:`KBFatal` (token, model, quota) or :class:`KBError`.
    """

    def __init__(
        self,
        api_url: str,
        token: str,
        chat_model_id: str,
        *,
        rate_per_min: float = 60,
        connect_timeout: float = 10.0,
        request_timeout: float = 60.0,
        max_retries: int = 3,
        backoff_base: float = 1.0,
        backoff_max: float = 30.0,
    ):
        self.base = api_url.rstrip("/")
        self.chat_model_id = chat_model_id
        self.limiters = {path: RateLimiter(rate_per_min) for path in ("search", "query")}
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self._http = httpx.AsyncClient(
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            timeout=httpx.Timeout(request_timeout, connect=connect_timeout),
            follow_redirects=False,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _post(self, path: str, limiter: RateLimiter, payload: dict[str, Any]) -> Any:
        last: KBError | None = None
        for attempt in range(self.max_retries + 1):
            await limiter.acquire()
            try:
                response = await self._http.post(f"{self.base}{path}", json=payload)
            except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                last = KBUnavailable(
                    "NETWORK", f"{type(exc).__name__} talking to the knowledge base"
                )
                await asyncio.sleep(random.uniform(0, self.backoff_base * 2**attempt))
                continue
            status = response.status_code
            if 200 <= status < 300:
                try:
                    return response.json()
                except ValueError:
                    raise KBError("BAD_ANSWER", f"{path} did not answer JSON", status) from None
            code, message = _error_of(response)
            if status == 429 and code != "QUOTA_EXCEEDED":
                delay = _retry_after(response)
                limiter.defer(delay if delay is not None else self.backoff_base * 2**attempt)
                last = KBUnavailable(code, message, status)
                continue
            if status >= 500:
                last = KBUnavailable(code, message, status)
                backoff = min(self.backoff_max, self.backoff_base * 2**attempt)
                await asyncio.sleep(_retry_after(response) or random.uniform(0, backoff))
                continue
            if code in FATAL_HINTS or status in (401, 402, 403):
                raise KBFatal(code, message, status)
            raise KBError(code, message, status)
        assert last is not None
        raise last

    async def search(self, query: str, limit: int = 10) -> list[Source]:
        """The documents matching ``query``, most relevant first (no AI answer)."""
        payload = {"chatModelId": self.chat_model_id, "query": query, "limit": limit}
        body = await self._post("/documents/search", self.limiters["search"], payload)
        docs = body.get("documents") if isinstance(body, dict) else None
        return [_source(d, "id") for d in docs or [] if isinstance(d, dict)]

    async def query(
        self, question: str, *, max_tokens: int | None = None, temperature: float | None = None
    ) -> tuple[str, list[Source]]:
        """The knowledge base's answer to ``question`` and the documents it used."""
        options = {"maxTokens": max_tokens, "temperature": temperature}
        payload: dict[str, Any] = {"chatModelId": self.chat_model_id, "query": question}
        if any(v is not None for v in options.values()):
            payload["options"] = {k: v for k, v in options.items() if v is not None}
        body = await self._post("/chat/query", self.limiters["query"], payload)
        if not isinstance(body, dict):
            return "", []
        sources = [
            _source(s, "documentId") for s in body.get("sources") or [] if isinstance(s, dict)
        ]
        return str(body.get("response") or ""), sources


def _source(entry: dict[str, Any], id_key: str) -> Source:
    relevance = entry.get("relevance")
    return Source(
        id=entry.get(id_key) or entry.get("id"),
        title=str(entry.get("title") or ""),
        relevance=float(relevance) if isinstance(relevance, int | float) else None,
        url=entry.get("url") if isinstance(entry.get("url"), str) else None,
        content=entry.get("content") if isinstance(entry.get("content"), str) else None,
    )
