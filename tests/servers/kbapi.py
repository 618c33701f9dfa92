"""A local stand-in for the knowledge-base import API, with fault injection.

End-to-end tests point ``KB_API_URL`` at this server so the delivery pipeline can be
exercised against the documented behaviour (auth, validation, rate limits, size
limits) and against the failures a real network produces (5xx, dropped connections,
timeouts, outages, partial imports) without touching the real service.

Run it as ``python -m tests.servers.kbapi [--port 0] [--token T] [--model-id ID]
[--rate-per-min N] [--window-seconds S] [--max-content-chars N]``; it prints its base
URL (``http://127.0.0.1:PORT/v1``) on one stdout line once listening.  From tests use
:func:`running_kbapi`.

Admin endpoints (no auth): ``POST /__admin/configure`` (JSON of fault/config options,
see :data:`FAULT_DEFAULTS` and :data:`CONFIG_KEYS`), ``POST /__admin/reset``,
``GET /__admin/documents``, ``GET /__admin/requests`` (import requests),
``GET /__admin/searches`` (search requests), ``GET /__admin/config``.
The bearer token is never echoed in any response or log entry.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.servers.process import ServerProcess

REPO_ROOT = Path(__file__).resolve().parents[2]
MAX_DOCUMENTS_PER_REQUEST = 100

#: Start-up options; also changeable at runtime through ``/__admin/configure``.
CONFIG_KEYS: dict[str, type | tuple[type, ...]] = {
    "token": str,
    "model_id": str,
    "rate_per_min": int,
    "window_seconds": (int, float),
    "max_content_chars": int,
}

#: Fault options and their "off" values; ``/__admin/reset`` restores these.
FAULT_DEFAULTS: dict[str, Any] = {
    "fail_5xx": 0,  # next n import requests -> fail_status with an HTML body, nothing imported
    "fail_status": 503,  # status used by fail_5xx
    "drop": 0,  # next n import requests: body read, connection closed, nothing imported
    "drop_after_import": 0,  # next n import requests: imported, then connection closed
    "delay_seconds": 0.0,  # sleep before handling each import request (import still happens)
    "delay_count": 0,  # if > 0, only the next n import requests are delayed
    "outage": False,  # every import request -> 503 JSON SERVICE_UNAVAILABLE
    "quota_exceeded": False,  # every authorised import request -> 402 QUOTA_EXCEEDED
    "reject_substring": None,  # documents containing it fail individually (partial import)
    "invalid_substring": None,  # a document containing it fails the whole request (400)
    # 200 answers that are not the documented success (see NONSENSE_KINDS); 0 = every
    # import request while ``nonsense`` is set, n > 0 = the next n import requests.
    "nonsense": None,
    "nonsense_count": 0,
    "nonsense_substring": None,  # if set, only requests with a document containing it
    "search_fail_5xx": 0,  # next n search requests -> fail_status with an HTML body
    "search_drop": 0,  # next n search requests: connection closed without an answer
}

#: ``nonsense`` kinds: what a 200 answer to an import says, and what is really imported.
NONSENSE_KINDS = {
    "not_json": "200 text/html 'OK' page; nothing imported",
    "unknown_code": '200 {"success": false, "error": {"code": "SOMETHING_NEW"}}; nothing imported',
    "short": '200 {"success": true, "imported": n - 1} without per-document statuses; '
    "the first n - 1 imported",
    "missing": '200 {"success": true} (no imported, no documents); everything imported',
}

FAULT_TYPES: dict[str, type | tuple[type, ...]] = {
    "fail_5xx": int,
    "fail_status": int,
    "drop": int,
    "drop_after_import": int,
    "delay_seconds": (int, float),
    "delay_count": int,
    "outage": bool,
    "quota_exceeded": bool,
    "reject_substring": (str, type(None)),
    "invalid_substring": (str, type(None)),
    "nonsense": (str, type(None)),
    "nonsense_count": int,
    "nonsense_substring": (str, type(None)),
    "search_fail_5xx": int,
    "search_drop": int,
}

JSON_SCALARS = (str, int, float, bool, type(None))

FAIL_5XX_HTML = (
    "<html><head><title>{status} Service Unavailable</title></head>"
    "<body><center><h1>{status} Service Unavailable</h1></center><hr>"
    "<center>nginx</center></body></html>\n"
)


class ApiError(Exception):
    """An API error answer: HTTP status plus the documented ``error`` object."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"success": False, "error": {"code": self.code, "message": self.message}}


@dataclass
class ServerState:
    """All mutable server state, guarded by one lock because handlers run in threads."""

    initial_config: dict[str, Any]
    config: dict[str, Any] = field(default_factory=dict)
    faults: dict[str, Any] = field(default_factory=lambda: dict(FAULT_DEFAULTS))
    documents: list[dict[str, Any]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    searches: list[dict[str, Any]] = field(default_factory=list)
    windows: dict[str, deque[float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    connections: int = 0

    def __post_init__(self) -> None:
        self.config = dict(self.initial_config)

    def reset(self) -> None:
        with self.lock:
            self.config = dict(self.initial_config)
            self.faults = dict(FAULT_DEFAULTS)
            self.documents.clear()
            self.requests.clear()
            self.searches.clear()
            self.windows.clear()

    def configure(self, options: dict[str, Any]) -> dict[str, Any]:
        """Validate everything first so a bad option changes nothing."""
        for key, value in options.items():
            expected = CONFIG_KEYS.get(key) or FAULT_TYPES.get(key)
            if expected is None:
                raise ApiError(400, "INVALID_REQUEST", f"unknown option {key!r}")
            bool_ok = expected is bool or (isinstance(expected, tuple) and bool in expected)
            if not isinstance(value, expected) or (isinstance(value, bool) and not bool_ok):
                raise ApiError(400, "INVALID_REQUEST", f"bad value for {key!r}: {value!r}")
        if options.get("nonsense") not in (None, *NONSENSE_KINDS):
            raise ApiError(400, "INVALID_REQUEST", f"unknown nonsense {options['nonsense']!r}")
        with self.lock:
            for key, value in options.items():
                if key in CONFIG_KEYS:
                    self.config[key] = value
                else:
                    self.faults[key] = value
            if "token" in options or "rate_per_min" in options or "window_seconds" in options:
                self.windows.clear()
            return self.snapshot_locked()

    def snapshot_locked(self) -> dict[str, Any]:
        public = {k: v for k, v in self.config.items() if k != "token"}
        return {"config": public, "faults": dict(self.faults)}

    def take_counter(self, name: str) -> bool:
        """Consume one unit of a counted fault; True if it fired."""
        with self.lock:
            if self.faults[name] > 0:
                self.faults[name] -= 1
                return True
            return False

    def take_nonsense(self, documents: list[dict[str, Any]]) -> str | None:
        """The kind of nonsense this import's answer is, if any (consumes one of a count)."""
        with self.lock:
            kind = self.faults["nonsense"]
            needle = self.faults["nonsense_substring"]
            if needle and not any(needle in str(d.get("content")) for d in documents):
                return None
            if kind and self.faults["nonsense_count"] > 0:
                self.faults["nonsense_count"] -= 1
                if self.faults["nonsense_count"] == 0:
                    self.faults["nonsense"] = None
            return kind

    def take_delay(self) -> float:
        with self.lock:
            delay = float(self.faults["delay_seconds"])
            if delay <= 0:
                return 0.0
            if self.faults["delay_count"] > 0:
                self.faults["delay_count"] -= 1
                if self.faults["delay_count"] == 0:
                    self.faults["delay_seconds"] = 0.0
            return delay

    def check_rate_locked(self, token: str) -> None:
        """Sliding-window limiter; only requests it lets through occupy a slot."""
        limit = int(self.config["rate_per_min"])
        if limit <= 0:
            return
        window = float(self.config["window_seconds"])
        now = time.monotonic()
        stamps = self.windows.setdefault(token, deque())
        while stamps and stamps[0] <= now - window:
            stamps.popleft()
        if len(stamps) >= limit:
            retry_after = max(1, math.ceil(stamps[0] + window - now))
            raise ApiError(
                429,
                "RATE_LIMITED",
                f"Too many requests: limit is {limit} per {window:g} seconds",
                {"Retry-After": str(retry_after)},
            )
        stamps.append(now)


def _validate_documents(payload: dict[str, Any]) -> list[dict[str, Any]]:
    documents = payload.get("documents")
    if not isinstance(documents, list):
        raise ApiError(400, "INVALID_REQUEST", "documents must be an array")
    if not documents:
        raise ApiError(400, "INVALID_REQUEST", "documents must contain at least 1 document")
    if len(documents) > MAX_DOCUMENTS_PER_REQUEST:
        raise ApiError(
            400,
            "INVALID_REQUEST",
            f"documents must contain at most {MAX_DOCUMENTS_PER_REQUEST} documents "
            f"(got {len(documents)})",
        )
    for i, doc in enumerate(documents):
        where = f"documents[{i}]"
        if not isinstance(doc, dict):
            raise ApiError(400, "INVALID_REQUEST", f"{where} must be an object")
        for key in ("title", "content"):
            value = doc.get(key)
            if not isinstance(value, str) or not value.strip():
                raise ApiError(400, "INVALID_REQUEST", f"{where}.{key} must be a non-empty string")
        # The documentation's own Python example sends "url": null, so null is accepted.
        if doc.get("url") is not None and not isinstance(doc["url"], str):
            raise ApiError(400, "INVALID_REQUEST", f"{where}.url must be a string")
        metadata = doc.get("metadata")
        if metadata is not None:
            if not isinstance(metadata, dict):
                raise ApiError(400, "INVALID_REQUEST", f"{where}.metadata must be an object")
            for key, value in metadata.items():
                if not isinstance(value, JSON_SCALARS):
                    raise ApiError(
                        400,
                        "INVALID_REQUEST",
                        f"{where}.metadata.{key} must be a string, number, boolean or null",
                    )
    return documents


class KBHandler(BaseHTTPRequestHandler):
    """Request handler; routes on path, always answers JSON with a Content-Length."""

    protocol_version = "HTTP/1.1"
    server_version = "kbapi-test/1.0"
    server: KBServer

    def version_string(self) -> str:
        return self.server_version

    def setup(self) -> None:
        super().setup()
        with self.server.state.lock:
            self.server.state.connections += 1
            self.connection_id = self.server.state.connections

    # -- plumbing ---------------------------------------------------------

    def log_message(self, format: str, *args: Any) -> None:
        """Silence per-request logging (it would also be the place a token could leak)."""

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(
        self,
        status: int,
        body: Any,
        headers: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> None:
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:
            # The client gave up (e.g. timed out during delay_seconds): nothing to answer.
            self.close_connection = True

    def _send_error(self, err: ApiError) -> None:
        self._send(err.status, err.body(), err.headers)

    def _drop(self) -> None:
        """Close the socket without any response bytes, like a reset mid-request."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.wfile.flush()
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _auth_ok(self) -> bool:
        header = self.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        return scheme.lower() == "bearer" and value.strip() == self.server.state.config["token"]

    def _json_payload(self, raw: bytes) -> dict[str, Any]:
        content_type = self.headers.get("Content-Type", "")
        if content_type.split(";")[0].strip().lower() != "application/json":
            raise ApiError(400, "INVALID_REQUEST", "Content-Type must be application/json")
        try:
            payload = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise ApiError(400, "INVALID_REQUEST", "Request body is not valid JSON") from None
        if not isinstance(payload, dict):
            raise ApiError(400, "INVALID_REQUEST", "Request body must be a JSON object")
        return payload

    def _check_model(self, payload: dict[str, Any]) -> None:
        model = payload.get("chatModelId")
        if not isinstance(model, str) or not model:
            raise ApiError(400, "INVALID_REQUEST", "chatModelId must be a non-empty string")
        if model != self.server.state.config["model_id"]:
            raise ApiError(404, "INVALID_MODEL_ID", "Unknown chat model ID")

    # -- routing ----------------------------------------------------------

    def do_GET(self) -> None:
        raw_len = int(self.headers.get("Content-Length") or 0)
        if raw_len:
            self.rfile.read(raw_len)
        state = self.server.state
        with state.lock:
            if self.path == "/__admin/documents":
                body: Any = list(state.documents)
            elif self.path == "/__admin/requests":
                body = list(state.requests)
            elif self.path == "/__admin/searches":
                body = list(state.searches)
            elif self.path == "/__admin/config":
                body = state.snapshot_locked()
            elif self.path == "/__admin/health":
                body = {"ok": True}
            else:
                body = None
        if body is None:
            self._send_error(ApiError(404, "NOT_FOUND", f"No route for GET {self.path}"))
        else:
            self._send(200, body)

    def do_POST(self) -> None:
        raw = self._read_body()
        try:
            if self.path == "/v1/documents/import":
                self._handle_import(raw)
            elif self.path == "/v1/documents/search":
                self._handle_search(raw)
            elif self.path == "/v1/chat/query":
                self._handle_chat_query(raw)
            elif self.path == "/__admin/configure":
                options = json.loads(raw or b"{}")
                if not isinstance(options, dict):
                    raise ApiError(400, "INVALID_REQUEST", "configure expects a JSON object")
                self._send(200, self.server.state.configure(options))
            elif self.path == "/__admin/reset":
                self.server.state.reset()
                self._send(200, {"ok": True})
            else:
                raise ApiError(404, "NOT_FOUND", f"No route for POST {self.path}")
        except ApiError as err:
            self._send_error(err)
        except ValueError:
            self._send_error(ApiError(400, "INVALID_REQUEST", "Request body is not valid JSON"))
        except Exception as exc:  # a bug in this server should show up, not hang a test
            self._send_error(ApiError(500, "INTERNAL_ERROR", f"kbapi test server bug: {exc!r}"))

    # -- import -----------------------------------------------------------

    def _handle_import(self, raw: bytes) -> None:
        state = self.server.state
        auth_ok = self._auth_ok()
        entry: dict[str, Any] = {
            "time": time.time(),
            "monotonic": time.monotonic(),
            "path": self.path,
            "status": None,
            "error": None,
            "documents": 0,
            "imported": 0,
            "auth_ok": auth_ok,
            "fault": None,
            "delay": 0.0,
            "connection": self.connection_id,
        }
        with contextlib.suppress(ValueError, AttributeError):
            docs = json.loads(raw.decode("utf-8")).get("documents")
            entry["documents"] = len(docs) if isinstance(docs, list) else 0

        def record() -> None:
            with state.lock:
                state.requests.append(entry)

        # Infrastructure faults come first: they happen "in front of" the API.
        if state.take_counter("drop"):
            entry["fault"] = "drop"
            record()
            self._drop()
            return
        delay = state.take_delay()
        if delay:
            entry["delay"] = delay
            time.sleep(delay)
        if state.faults["outage"]:
            entry.update(fault="outage", status=503, error="SERVICE_UNAVAILABLE")
            record()
            self._send_error(
                ApiError(
                    503,
                    "SERVICE_UNAVAILABLE",
                    "The service is temporarily unavailable",
                    {"Retry-After": "1"},
                )
            )
            return
        if state.take_counter("fail_5xx"):
            status = int(state.faults["fail_status"])
            entry.update(fault="fail_5xx", status=status)
            record()
            self._send(status, FAIL_5XX_HTML.format(status=status), content_type="text/html")
            return

        try:
            nonsense = None
            if auth_ok and state.faults["nonsense"]:  # a valid request, answered oddly
                self._import(raw, auth_ok, store=False)
                nonsense = state.take_nonsense(json.loads(raw.decode("utf-8"))["documents"])
            if nonsense:
                body, imported = self._nonsense(raw, nonsense)
                entry.update(fault=f"nonsense:{nonsense}", status=200, imported=imported)
                record()
                if isinstance(body, str):
                    self._send(200, body, content_type="text/html")
                else:
                    self._send(200, body)
                return
            body, imported = self._import(raw, auth_ok)
        except ApiError as err:
            entry.update(status=err.status, error=err.code)
            record()
            self._send_error(err)
            return
        entry.update(status=200, imported=imported)
        if state.take_counter("drop_after_import"):
            entry["fault"] = "drop_after_import"
            record()
            self._drop()
            return
        record()
        self._send(200, body)

    def _nonsense(self, raw: bytes, kind: str) -> tuple[Any, int]:
        """A 200 answer of ``kind`` (see NONSENSE_KINDS) to a valid import request."""
        documents = json.loads(raw.decode("utf-8"))["documents"]
        keep = {"not_json": 0, "unknown_code": 0, "short": len(documents) - 1}.get(
            kind, len(documents)
        )
        stored = [{**doc, "id": f"doc_{uuid.uuid4().hex[:12]}"} for doc in documents[:keep]]
        with self.server.state.lock:
            self.server.state.documents.extend(stored)
        if kind == "not_json":
            return "<html><body><h1>OK</h1></body></html>\n", keep
        if kind == "unknown_code":
            error = {"code": "SOMETHING_NEW", "message": "Something happened"}
            return {"success": False, "error": error}, keep
        if kind == "short":
            return {"success": True, "imported": keep}, keep
        return {"success": True}, keep

    def _import(
        self, raw: bytes, auth_ok: bool, *, store: bool = True
    ) -> tuple[dict[str, Any], int]:
        """Validate and import; with ``store=False`` only validate (the rate limit counts)."""
        state = self.server.state
        if not auth_ok:
            raise ApiError(401, "INVALID_TOKEN", "The provided API token is invalid or expired")
        with state.lock:
            state.check_rate_locked(state.config["token"])
            quota = state.faults["quota_exceeded"]
        if quota:
            raise ApiError(402, "QUOTA_EXCEEDED", "Plan limits reached")
        payload = self._json_payload(raw)
        self._check_model(payload)
        documents = _validate_documents(payload)
        limit = int(state.config["max_content_chars"])
        for i, doc in enumerate(documents):
            if len(doc["content"]) > limit:
                raise ApiError(
                    413,
                    "DOCUMENT_TOO_LARGE",
                    f"Content exceeds limit of {limit} characters (documents[{i}])",
                )
        invalid = state.faults["invalid_substring"]
        if invalid:
            for i, doc in enumerate(documents):
                if invalid in doc["content"]:
                    raise ApiError(
                        400, "INVALID_REQUEST", f"documents[{i}] contains invalid characters"
                    )

        if not store:
            return {}, 0
        reject = state.faults["reject_substring"]
        results: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        accepted: list[dict[str, Any]] = []
        for i, doc in enumerate(documents):
            if reject and reject in doc["content"]:
                message = f"documents[{i}] failed validation and was not imported"
                errors.append(
                    {
                        "index": i,
                        "title": doc["title"],
                        "code": "INVALID_DOCUMENT",
                        "message": message,
                    }
                )
                results.append(
                    {"id": None, "title": doc["title"], "status": "failed", "error": message}
                )
                continue
            doc_id = f"doc_{uuid.uuid4().hex[:12]}"
            accepted.append({**doc, "id": doc_id})
            results.append({"id": doc_id, "title": doc["title"], "status": "processing"})
        with state.lock:
            state.documents.extend(accepted)
        body: dict[str, Any] = {"success": True, "imported": len(accepted), "documents": results}
        if errors:
            body["errors"] = errors
        return body, len(accepted)

    # -- search -----------------------------------------------------------

    def _handle_search(self, raw: bytes) -> None:
        """Documented search; answers INVALID_TOKEN / INVALID_MODEL_ID / 5xx like the import."""
        state = self.server.state
        entry: dict[str, Any] = {"time": time.time(), "status": None, "error": None}
        with contextlib.suppress(ValueError, AttributeError):
            payload = json.loads(raw.decode("utf-8"))
            entry.update(query=payload.get("query"), limit=payload.get("limit"))
        with state.lock:
            state.searches.append(entry)
        if state.take_counter("search_drop"):
            entry["fault"] = "drop"
            self._drop()
            return
        if state.faults["outage"] or state.take_counter("search_fail_5xx"):
            status = 503 if state.faults["outage"] else int(state.faults["fail_status"])
            entry.update(fault="fail_5xx", status=status)
            self._send(status, FAIL_5XX_HTML.format(status=status), content_type="text/html")
            return
        try:
            self._search(raw, entry)
        except ApiError as err:
            entry.update(status=err.status, error=err.code)
            raise

    def _search(self, raw: bytes, entry: dict[str, Any]) -> None:
        state = self.server.state
        if not self._auth_ok():
            raise ApiError(401, "INVALID_TOKEN", "The provided API token is invalid or expired")
        payload = self._json_payload(raw)
        self._check_model(payload)
        query = payload.get("query")
        if not isinstance(query, str) or not query.strip():
            raise ApiError(400, "INVALID_REQUEST", "query must be a non-empty string")
        limit = payload.get("limit", 10)
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise ApiError(400, "INVALID_REQUEST", "limit must be a positive integer")
        needle = query.strip().lower()
        with state.lock:
            docs = list(state.documents)
        hits = []
        for doc in docs:
            text = f"{doc['title']}\n{doc['content']}".lower()
            count = text.count(needle)
            if count:
                hits.append((count, doc))
        hits.sort(key=lambda hit: -hit[0])
        top = max((count for count, _ in hits), default=1)
        found = [
            {
                "id": doc["id"],
                "title": doc["title"],
                "content": doc["content"],
                "url": doc.get("url"),
                "relevance": round(count / top, 2),
            }
            for count, doc in hits[:limit]
        ]
        entry["status"] = 200
        self._send(200, {"success": True, "documents": found})

    # -- chat query -------------------------------------------------------

    def _handle_chat_query(self, raw: bytes) -> None:
        """``POST /chat/query``: an "answer" quoting the best document, and its sources.

        Documents are ranked by how many of the question's words (3+ letters) they hold;
        ``relevance`` is relative to the best one. No document matches: an empty answer.
        """
        state = self.server.state
        if not self._auth_ok():
            raise ApiError(401, "INVALID_TOKEN", "The provided API token is invalid or expired")
        payload = self._json_payload(raw)
        self._check_model(payload)
        question = payload.get("query")
        if not isinstance(question, str) or not question.strip():
            raise ApiError(400, "INVALID_REQUEST", "query must be a non-empty string")
        options = payload.get("options", {})
        if not isinstance(options, dict):
            raise ApiError(400, "INVALID_REQUEST", "options must be an object")
        words = {w for w in question.lower().split() if len(w) >= 3}
        with state.lock:
            docs = list(state.documents)
        scored = []
        for doc in docs:
            text = f"{doc['title']}\n{doc['content']}".lower()
            score = sum(text.count(w) for w in words)
            if score:
                scored.append((score, doc))
        scored.sort(key=lambda hit: -hit[0])
        top = scored[0][0] if scored else 1
        sources = [
            {"documentId": doc["id"], "title": doc["title"], "relevance": round(n / top, 2)}
            for n, doc in scored[:5]
        ]
        answer = (
            f"According to {scored[0][1]['title']}: {scored[0][1]['content'][:200]}"
            if scored
            else "I could not find this in the knowledge base."
        )
        self._send(200, {"success": True, "response": answer, "sources": sources})


class KBServer(ThreadingHTTPServer):
    """Threading server carrying the shared state; quiet about client disconnects."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], state: ServerState) -> None:
        self.state = state
        super().__init__(address, KBHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Client resets and timeouts are expected here; keep stderr clean."""


# -- subprocess helper ----------------------------------------------------


class KBApiHandle(ServerProcess):
    """Control a running server from tests: inspect what arrived, inject faults."""

    admin_name = "kbapi"

    def __init__(self, process: subprocess.Popen[bytes], url: str, token: str, model_id: str):
        super().__init__(process, url.removesuffix("/v1"))
        self.url = url
        self.token = token
        self.model_id = model_id

    def documents(self) -> list[dict[str, Any]]:
        """Accepted documents as received, each with the ``id`` it was given."""
        return self._admin("GET", "/__admin/documents")

    def requests(self) -> list[dict[str, Any]]:
        """Every import request: time, monotonic, status, error, documents, auth_ok, ..."""
        return self._admin("GET", "/__admin/requests")

    def searches(self) -> list[dict[str, Any]]:
        """Every search request: time, query, limit, status, error, fault."""
        return self._admin("GET", "/__admin/searches")

    def config(self) -> dict[str, Any]:
        """Current config (without the token) and faults."""
        return self._admin("GET", "/__admin/config")

    def configure(self, **options: Any) -> dict[str, Any]:
        return self._admin("POST", "/__admin/configure", options)

    def reset(self) -> None:
        """Forget documents, log and faults; config returns to start-up values."""
        self._admin("POST", "/__admin/reset", {})


@contextlib.contextmanager
def running_kbapi(tmp_path: Path, **options: Any) -> Iterator[KBApiHandle]:
    """Start the server in a subprocess; start-up options go on the command line and any
    fault options (see FAULT_DEFAULTS) are applied with ``configure`` before yielding."""
    startup = {k: options.pop(k) for k in [*CONFIG_KEYS, "port"] if k in options}
    token = startup.get("token", "test-token")
    model_id = startup.get("model_id", "test-model")
    cmd = [sys.executable, "-m", "tests.servers.kbapi"]
    for key, value in startup.items():
        cmd += [f"--{key.replace('_', '-')}", str(value)]
    stderr_path = Path(tmp_path) / "kbapi-stderr.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with open(stderr_path, "wb") as stderr:
        process = subprocess.Popen(
            cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=stderr, env=env
        )
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], 15)
    line = process.stdout.readline().decode().strip() if ready else ""
    if not line.startswith("http://"):
        process.kill()
        process.wait()
        raise RuntimeError(
            f"kbapi server did not start (got {line!r}): {stderr_path.read_text()[-2000:]}"
        )
    handle = KBApiHandle(process, line, token, model_id)
    try:
        if options:
            handle.configure(**options)
        yield handle
    finally:
        handle.stop()


# -- command line ---------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local knowledge-base API for tests")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", default="test-token")
    parser.add_argument("--model-id", default="test-model")
    parser.add_argument("--rate-per-min", type=int, default=0, help="0 = unlimited")
    parser.add_argument("--window-seconds", type=float, default=60.0)
    parser.add_argument("--max-content-chars", type=int, default=20000)
    args = parser.parse_args(argv)
    state = ServerState(
        initial_config={
            "token": args.token,
            "model_id": args.model_id,
            "rate_per_min": args.rate_per_min,
            "window_seconds": args.window_seconds,
            "max_content_chars": args.max_content_chars,
        }
    )
    server = KBServer((args.host, args.port), state)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    host, port = server.server_address[:2]
    print(f"http://{host}:{port}/v1", flush=True)
    try:
        server.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
