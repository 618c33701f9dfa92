"""The knowledge-base client: its pure parts, the token redaction filter, and the client
against the test API."""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from pipelines.client import (
    KBClient,
    KBFatal,
    KBInvalidRequest,
    KBTooLarge,
    RateLimiter,
    _error_of,
    _retry_after,
    check_api_url,
    import_outcome,
)
from pipelines.redact import RedactingFilter
from tests.servers.kbapi import KBApiHandle, running_kbapi

TOKEN = "client-test-token"
MODEL = "client-test-model"


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


class FakeClock:
    """A clock that moves only when the limiter sleeps: waits are exact, nothing sleeps."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_rate_limiter_spaces_requests_evenly() -> None:
    clock = FakeClock()
    limiter = RateLimiter(600, clock=clock, sleep=clock.sleep)
    interval = 60 / (600 * RateLimiter.SAFETY)  # 0.103 s: a little under the limit

    async def main() -> list[float]:
        starts = []
        for _ in range(5):
            await limiter.acquire()
            starts.append(clock.now)
        return starts

    starts = asyncio.run(main())
    assert clock.sleeps == pytest.approx([interval] * 4)  # the first request does not wait
    assert [b - a for a, b in itertools.pairwise(starts)] == pytest.approx([interval] * 4)


def test_rate_limiter_does_not_wait_for_a_request_that_comes_late() -> None:
    clock = FakeClock()
    limiter = RateLimiter(60, clock=clock, sleep=clock.sleep)  # one every 1.03 s

    async def main() -> None:
        await limiter.acquire()
        clock.now += 5.0  # the next request comes long after its turn
        await limiter.acquire()
        clock.now += 0.5  # and the one after it too early: it waits for the rest
        await limiter.acquire()

    asyncio.run(main())
    assert clock.sleeps == pytest.approx([60 / (60 * RateLimiter.SAFETY) - 0.5])


def test_retry_after_defers_every_sender() -> None:
    clock = FakeClock()
    limiter = RateLimiter(0, clock=clock, sleep=clock.sleep)  # no client-side limit

    async def main() -> None:
        await limiter.acquire()
        limiter.defer(7.0)  # the server said Retry-After: 7
        limiter.defer(2.0)  # a shorter one (another sender's answer) does not pull it forward
        await asyncio.gather(limiter.acquire(), limiter.acquire())  # both wait for the 7 s

    asyncio.run(main())
    assert clock.sleeps == pytest.approx([7.0])


def test_redaction_masks_the_token_in_messages_and_tracebacks() -> None:
    secret = "tok-very-secret-123"
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "auth %s failed", (secret,), None)
    record.exc_text = f"Traceback ... Bearer {secret}"
    RedactingFilter(secret).filter(record)
    assert secret not in record.getMessage() and secret not in record.exc_text
    assert "***" in record.getMessage()


# -- the documented success shape (issue 13) -----------------------------------------------


def _docs(*entries: dict[str, object]) -> list[dict[str, object]]:
    return list(entries)


@pytest.mark.parametrize(
    ("body", "count", "ids", "refused"),
    [
        # The documented answer: every document imported, each with an id.
        (
            {"success": True, "imported": 2, "documents": _docs({"id": "a"}, {"id": "b"})},
            2,
            ["a", "b"],
            {},
        ),
        # imported equals what was sent, no per-document list: delivered, ids unknown.
        ({"success": True, "imported": 3}, 3, [None, None, None], {}),
        # A partial import told by the errors array alone.
        (
            {"success": True, "imported": 1, "errors": [{"index": 0, "code": "BAD"}]},
            2,
            [None, None],
            {0: ("BAD", "")},
        ),
        # A partial import told by per-document statuses alone.
        (
            {
                "success": True,
                "imported": 1,
                "documents": _docs({"id": None, "status": "failed", "error": "no"}, {"id": "b"}),
            },
            2,
            [None, "b"],
            {0: ("REFUSED", "no")},
        ),
    ],
)
def test_import_outcome_confirms_the_documented_success(
    body: dict[str, object], count: int, ids: list[str | None], refused: dict[int, object]
) -> None:
    result = import_outcome(body, count)
    assert result.ids == ids and result.refused == refused


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (None, "not a JSON object"),
        ("OK", "not a JSON object"),
        ([], "not a JSON object"),
        ({"success": False, "error": {"code": "SOMETHING_NEW"}}, "success is False"),
        ({"imported": 2}, "success is None"),
        ({"success": "true", "imported": 2}, "success is 'true'"),
        ({"success": True}, "imported is None"),
        ({"success": True, "imported": "2"}, "imported is '2'"),
        ({"success": True, "imported": True}, "imported is True"),
        # imported lower than sent, without saying which ones.
        ({"success": True, "imported": 1}, "imported is 1 of 2"),
        ({"success": True, "imported": 1, "documents": [{"id": "a"}]}, "imported is 1 of 2"),
        ({"success": True, "imported": 3}, "imported is 3 of 2"),
        # Per-document statuses that do not add up to imported.
        (
            {"success": True, "imported": 2, "documents": [{"id": "a"}, {"status": "failed"}]},
            "imported is 2 of 2 documents sent, and 1 are reported refused",
        ),
        ({"success": True, "imported": 2, "documents": [{"id": "a"}, "b"]}, "documents[1]"),
    ],
)
def test_import_outcome_refuses_anything_else(body: object, reason: str) -> None:
    with pytest.raises(ValueError, match=re.escape(reason)):
        import_outcome(body, 2)


@pytest.mark.parametrize(
    "url",
    [
        "https://api.aismarttalk.tech/v1",
        "https://api.aismarttalk.tech/v1/",
        "http://127.0.0.1:8766/v1",
        "https://kb.example.com/api/v2",
    ],
)
def test_check_api_url_accepts_a_base_url_with_its_version(url: str) -> None:
    assert check_api_url(url) is None  # raises ValueError when refused


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("127.0.0.1:8766/v1", "scheme"),
        ("localhost:8766/v1", "scheme"),
        ("ftp://host/v1", "scheme"),
        ("", "scheme"),
        ("https:///v1", "no host"),
        ("https://api.aismarttalk.tech", "no API version"),
        ("https://api.aismarttalk.tech/documents", "no API version"),
        ("http://127.0.0.1:port/v1", "not a URL"),
        ("https://api.aismarttalk.tech/v1?x=1", "query"),
    ],
)
def test_check_api_url_refuses_with_one_line(url: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem) as info:
        check_api_url(url)
    assert "\n" not in str(info.value) and "KB_API_URL" in str(info.value)


# -- KBClient against the test API: one transport, each endpoint its own rules -------------


@pytest.fixture(scope="module")
def kbapi(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KBApiHandle]:
    with running_kbapi(tmp_path_factory.mktemp("kbapi"), token=TOKEN, model_id=MODEL) as api:
        yield api


@pytest.fixture
def api(kbapi: KBApiHandle) -> KBApiHandle:
    kbapi.reset()
    return kbapi


def _call(api: KBApiHandle, use: Any, *, token: str = TOKEN, **options: Any) -> Counter[str]:
    """``use(client)`` on a fresh client (fast backoff); the counters it reported."""
    events: Counter[str] = Counter()

    async def main() -> None:
        client = KBClient(
            api.url, token, MODEL, backoff_base=0.01, backoff_max=0.05,
            on_event=lambda name, n: events.update({name: n}), **options,
        )  # fmt: skip
        try:
            await use(client)
        finally:
            await client.aclose()

    asyncio.run(main())
    return events


DOCS = [{"title": f"Doc {i}", "content": f"Harbor text {i}.", "url": f"https://e.com/{i}",
         "metadata": {"language": "en"}} for i in range(3)]  # fmt: skip


def test_client_imports_searches_and_queries_through_one_transport(api: KBApiHandle) -> None:
    api.configure(fail_5xx=1)
    found: dict[str, Any] = {}

    async def use(client: KBClient) -> None:
        found["imported"] = await client.send(DOCS)
        found["search"] = await client.search("harbor text 1", limit=5)
        found["answer"] = await client.query("harbor text?", max_tokens=50)

    events = _call(api, use)
    ids = [d["id"] for d in api.documents()]
    assert found["imported"].ids == ids and len(ids) == 3 and not found["imported"].refused
    assert [s.title for s in found["search"]] == ["Doc 1"]
    answer, sources = found["answer"]
    assert answer.startswith("According to Doc") and sources
    assert {s.id for s in sources} <= set(ids)
    # The 503 was retried; each endpoint counts under its own name.
    assert events["kb/requests"] == 2 and events["kb/retries"] == 1
    assert events["kb/response_status/503"] == 1 and events["kb/response_status/200"] == 1
    assert events["kb/search_requests"] == 1 and events["kb/query_requests"] == 1


def test_credentials_check_is_one_try_and_a_refusal_is_fatal(api: KBApiHandle) -> None:
    problems: list[str | None] = []

    async def check(client: KBClient) -> None:
        problems.append(await client.check_credentials())

    api.configure(search_fail_5xx=1, fail_status=502)
    assert _call(api, check)["kb/search_requests"] == 1  # not retried
    assert problems == ["502 HTTP_502: Bad Gateway"]
    assert [s["status"] for s in api.searches()] == [502]

    with pytest.raises(KBFatal) as refused:
        _call(api, check, token="wrong-token")
    assert refused.value.code == "INVALID_TOKEN" and "regenerate it" in refused.value.hint
    assert _call(api, check) == Counter(
        {"kb/search_requests": 1, "kb/search_response_status/200": 1}
    )
    assert problems[-1] is None


def test_client_refusals_are_typed(api: KBApiHandle) -> None:
    api.configure(max_content_chars=5)

    async def send(client: KBClient) -> None:
        await client.send(DOCS[:1])

    with pytest.raises(KBTooLarge):
        _call(api, send)

    async def search(client: KBClient) -> None:
        await client.search("x", limit=0)

    with pytest.raises(KBInvalidRequest) as bad:
        _call(api, search)
    assert bad.value.status == 400 and not api.documents()
