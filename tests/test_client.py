"""The import client's pure parts, and the token redaction filter."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time

import httpx

from pipelines.client import RateLimiter, _error_of, _retry_after, import_outcome
from pipelines.redact import RedactingFilter


def _response(
    status: int, body: object = None, headers: dict[str, str] | None = None
) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


def test_error_codes_from_body_or_status() -> None:
    body = {"success": False, "error": {"code": "INVALID_MODEL_ID", "message": "Unknown"}}
    assert _error_of(_response(404, body)) == ("INVALID_MODEL_ID", "Unknown")
    assert _error_of(httpx.Response(401, text="<html>nope</html>"))[0] == "INVALID_TOKEN"
    assert _error_of(httpx.Response(413, text=""))[0] == "DOCUMENT_TOO_LARGE"
    assert _error_of(httpx.Response(418, text=""))[0] == "HTTP_418"
    assert _retry_after(_response(429, {}, {"Retry-After": "7"})) == 7.0
    assert _retry_after(_response(429, {}, {"Retry-After": "soon"})) is None


def test_partial_import_answer_maps_refused_documents() -> None:
    body = {
        "success": True,
        "imported": 2,
        "documents": [
            {"id": "doc_1", "status": "processing"},
            {"id": None, "status": "failed", "error": "bad"},
            {"id": "doc_3", "status": "processing"},
        ],
        "errors": [{"index": 1, "code": "INVALID_DOCUMENT", "message": "bad"}],
    }
    result = import_outcome(body, 3)
    assert result.ids == ["doc_1", None, "doc_3"]
    assert result.refused == {1: ("INVALID_DOCUMENT", "bad")}


def test_rate_limiter_spaces_requests_evenly() -> None:
    async def main() -> list[float]:
        limiter = RateLimiter(600)  # one every 0.1 s (0.103 s with the safety margin)
        stamps = []
        for _ in range(5):
            await limiter.acquire()
            stamps.append(time.monotonic())
        return stamps

    stamps = asyncio.run(main())
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    assert all(g >= 0.09 for g in gaps), gaps


def test_retry_after_defers_every_sender() -> None:
    async def main() -> float:
        limiter = RateLimiter(0)
        limiter.defer(0.3)
        start = time.monotonic()
        await limiter.acquire()
        return time.monotonic() - start

    assert asyncio.run(main()) >= 0.28


def test_redaction_masks_the_token_in_messages_and_tracebacks() -> None:
    secret = "tok-very-secret-123"
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "auth %s failed", (secret,), None)
    record.exc_text = f"Traceback ... Bearer {secret}"
    RedactingFilter(secret).filter(record)
    assert secret not in record.getMessage() and secret not in record.exc_text
    assert "***" in record.getMessage()
