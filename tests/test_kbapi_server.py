"""Checks of the fake knowledge-base API itself, so end-to-end failures point at the crawler."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.servers.kbapi import KBApiHandle, running_kbapi

TOKEN = "s3cret-token-value"
MODEL = "model-under-test"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KBApiHandle]:
    """One subprocess for the module keeps the suite fast; each test resets it."""
    with running_kbapi(tmp_path_factory.mktemp("kbapi"), token=TOKEN, model_id=MODEL) as handle:
        yield handle


@pytest.fixture
def kb(server: KBApiHandle) -> KBApiHandle:
    server.reset()
    return server


@pytest.fixture
def client(kb: KBApiHandle) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=kb.url, headers=headers, timeout=5) as c:
        yield c


def doc(i: int = 0, content: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "title": f"Doc {i}",
        "content": content if content is not None else f"Content of document {i}.",
        "url": f"https://example.com/{i}",
        "metadata": {"language": "en", "part": 1},
        **extra,
    }


def post(client: httpx.Client, docs: list[dict[str, Any]], **kw: Any) -> httpx.Response:
    body = {"chatModelId": kw.pop("model", MODEL), "documents": docs}
    return client.post("/documents/import", json=body, **kw)


def test_success_import_assigns_ids_and_keeps_connection(
    kb: KBApiHandle, client: httpx.Client
) -> None:
    r1 = post(client, [doc(0), doc(1)])
    r2 = post(client, [doc(2)])
    assert r1.status_code == 200, r1.text
    body = r1.json()
    assert body["success"] is True and body["imported"] == 2
    assert [d["title"] for d in body["documents"]] == ["Doc 0", "Doc 1"]
    assert all(
        d["id"].startswith("doc_") and d["status"] == "processing" for d in body["documents"]
    )
    assert r2.json()["imported"] == 1

    stored = kb.documents()
    assert [d["title"] for d in stored] == ["Doc 0", "Doc 1", "Doc 2"]
    assert stored[0]["metadata"] == {"language": "en", "part": 1}
    assert stored[0]["id"] == body["documents"][0]["id"]
    log = kb.requests()
    assert [(e["status"], e["error"], e["documents"], e["auth_ok"]) for e in log] == [
        (200, None, 2, True),
        (200, None, 1, True),
    ]
    assert log[0]["connection"] == log[1]["connection"], "keep-alive should reuse the socket"


def test_wrong_or_missing_token_is_401_and_token_never_logged(
    kb: KBApiHandle, client: httpx.Client
) -> None:
    bad = post(client, [doc()], headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    assert bad.json() == {
        "success": False,
        "error": {
            "code": "INVALID_TOKEN",
            "message": "The provided API token is invalid or expired",
        },
    }
    with httpx.Client(base_url=kb.url) as anonymous:
        assert post(anonymous, [doc()]).json()["error"]["code"] == "INVALID_TOKEN"
    assert kb.documents() == []
    assert [e["auth_ok"] for e in kb.requests()] == [False, False]
    admin = httpx.get(f"{kb.admin_url}/__admin/requests").text
    admin += httpx.get(f"{kb.admin_url}/__admin/config").text
    assert TOKEN not in admin and "nope" not in admin


def test_wrong_model_id(client: httpx.Client) -> None:
    r = post(client, [doc()], model="other-model")
    assert r.status_code == 404
    assert r.json()["error"] == {"code": "INVALID_MODEL_ID", "message": "Unknown chat model ID"}


@pytest.mark.parametrize(
    ("documents", "fragment"),
    [
        ([doc(i) for i in range(101)], "at most 100"),
        ([], "at least 1"),
        ("not a list", "documents must be an array"),
        ([doc(0), doc(1), doc(2), doc(3, content="")], "documents[3].content"),
        ([doc(0), {"content": "x"}], "documents[1].title"),
        ([doc(0, url=5)], "documents[0].url"),
        ([doc(0, metadata={"tags": ["a"]})], "documents[0].metadata.tags"),
    ],
)
def test_malformed_requests_fail_whole_request(
    kb: KBApiHandle, client: httpx.Client, documents: Any, fragment: str
) -> None:
    r = client.post("/documents/import", json={"chatModelId": MODEL, "documents": documents})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "INVALID_REQUEST"
    assert fragment in r.json()["error"]["message"]
    assert kb.documents() == []


def test_hundred_documents_accepted_and_body_must_be_json_object(client: httpx.Client) -> None:
    assert post(client, [doc(i) for i in range(100)]).json()["imported"] == 100
    r = client.post(
        "/documents/import", content=b"[1]", headers={"Content-Type": "application/json"}
    )
    assert (r.status_code, r.json()["error"]["code"]) == (400, "INVALID_REQUEST")


def test_too_large_content_is_413(kb: KBApiHandle, client: httpx.Client) -> None:
    assert post(client, [doc(0, content="x" * 20000)]).status_code == 200
    r = post(client, [doc(0), doc(1, content="x" * 20001)])
    assert r.status_code == 413
    assert r.json()["error"] == {
        "code": "DOCUMENT_TOO_LARGE",
        "message": "Content exceeds limit of 20000 characters (documents[1])",
    }
    kb.configure(max_content_chars=10)
    r = post(client, [doc(0, content="x" * 11)])
    assert "limit of 10 characters (documents[0])" in r.json()["error"]["message"]
    assert len(kb.documents()) == 1


def test_rate_limit_sliding_window(kb: KBApiHandle, client: httpx.Client) -> None:
    kb.configure(rate_per_min=3, window_seconds=1)
    first_sent = time.monotonic()  # the server's window opens after this (one system clock)
    assert [post(client, [doc(i)]).status_code for i in range(3)] == [200, 200, 200]
    limited = post(client, [doc(9)])
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "RATE_LIMITED"
    assert int(limited.headers["Retry-After"]) >= 1
    # Knock until the window lets the next one in (refused requests take no slot).
    deadline = time.monotonic() + 5
    while (answer := post(client, [doc(10)])).status_code == 429:
        assert time.monotonic() < deadline, "the window never slid"
        time.sleep(0.05)
    assert answer.status_code == 200
    assert time.monotonic() - first_sent >= 1.0  # not before the first slot left the window
    assert len(kb.documents()) == 4
    assert [e["status"] for e in kb.requests()].count(200) == 4


def test_fail_5xx_then_recovers(kb: KBApiHandle, client: httpx.Client) -> None:
    kb.configure(fail_5xx=2)
    statuses = [post(client, [doc(i)]).status_code for i in range(3)]
    assert statuses == [503, 503, 200]
    assert [d["title"] for d in kb.documents()] == ["Doc 2"]
    assert [e["fault"] for e in kb.requests()] == ["fail_5xx", "fail_5xx", None]


def test_outage_and_quota(kb: KBApiHandle, client: httpx.Client) -> None:
    kb.configure(outage=True)
    r = post(client, [doc()])
    assert (r.status_code, r.json()["error"]["code"]) == (503, "SERVICE_UNAVAILABLE")
    kb.configure(outage=False, quota_exceeded=True)
    r = post(client, [doc()])
    assert r.status_code == 402
    assert r.json()["error"] == {"code": "QUOTA_EXCEEDED", "message": "Plan limits reached"}
    assert kb.documents() == []


def test_drop_closes_connection_without_response(kb: KBApiHandle, client: httpx.Client) -> None:
    kb.configure(drop=1)
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        post(client, [doc(0)])
    assert post(client, [doc(1)]).status_code == 200
    assert [d["title"] for d in kb.documents()] == ["Doc 1"]
    assert [e["fault"] for e in kb.requests()] == ["drop", None]


def test_drop_after_import_and_delay_leave_outcome_unknown(
    kb: KBApiHandle, client: httpx.Client
) -> None:
    kb.configure(drop_after_import=1)
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        post(client, [doc(0)])
    kb.configure(delay_seconds=0.6, delay_count=1)
    with pytest.raises(httpx.ReadTimeout):
        post(client, [doc(1)], timeout=0.2)
    deadline = time.monotonic() + 3
    while len(kb.documents()) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [d["title"] for d in kb.documents()] == ["Doc 0", "Doc 1"]
    assert post(client, [doc(2)]).status_code == 200
    assert [e["delay"] for e in kb.requests()] == [0.0, 0.6, 0.0]  # the delay was consumed


def test_partial_import_reports_errors(kb: KBApiHandle, client: httpx.Client) -> None:
    kb.configure(reject_substring="BAD")
    r = post(client, [doc(0), doc(1, content="has BAD bytes"), doc(2)])
    assert r.status_code == 200
    body = r.json()
    assert body["success"] is True and body["imported"] == 2
    assert [d["status"] for d in body["documents"]] == ["processing", "failed", "processing"]
    assert body["documents"][1]["id"] is None and body["documents"][1]["error"]
    assert body["errors"] == [
        {
            "index": 1,
            "title": "Doc 1",
            "code": "INVALID_DOCUMENT",
            "message": body["documents"][1]["error"],
        }
    ]
    assert [d["title"] for d in kb.documents()] == ["Doc 0", "Doc 2"]


def test_invalid_substring_fails_whole_request_naming_index(
    kb: KBApiHandle, client: httpx.Client
) -> None:
    kb.configure(invalid_substring="\x00")
    r = post(client, [doc(0), doc(1), doc(2, content="nul \x00 here")])
    assert r.status_code == 400
    assert r.json()["error"] == {
        "code": "INVALID_REQUEST",
        "message": "documents[2] contains invalid characters",
    }
    assert kb.documents() == []
    assert post(client, [doc(0), doc(1)]).json()["imported"] == 2


def test_search_and_admin_validation(kb: KBApiHandle, client: httpx.Client) -> None:
    post(client, [doc(0, content="alpha beta"), doc(1, content="gamma")])
    r = client.post("/documents/search", json={"chatModelId": MODEL, "query": "GAMMA"})
    assert [d["title"] for d in r.json()["documents"]] == ["Doc 1"]
    unauth = httpx.post(f"{kb.url}/documents/search", json={"chatModelId": MODEL, "query": "a"})
    assert unauth.status_code == 401
    with pytest.raises(RuntimeError, match="unknown option"):
        kb.configure(no_such_fault=1)


@pytest.mark.parametrize(
    ("kind", "stored"),
    [("not_json", 0), ("unknown_code", 0), ("short", 2), ("missing", 3)],
)
def test_nonsense_answers_are_200s_that_are_not_the_documented_success(
    kb: KBApiHandle, client: httpx.Client, kind: str, stored: int
) -> None:
    kb.configure(nonsense=kind, nonsense_count=1)
    r = post(client, [doc(0), doc(1), doc(2)])
    assert r.status_code == 200
    if kind == "not_json":
        assert r.headers["content-type"] == "text/html" and "<html>" in r.text
    else:
        body = r.json()
        assert body.get("success") is not True or body.get("imported") != 3
        assert "documents" not in body
    assert len(kb.documents()) == stored
    assert kb.requests()[-1]["fault"] == f"nonsense:{kind}"
    # A count of 1: the next answer is the documented success again.
    assert post(client, [doc(3)]).json() == {
        "success": True,
        "imported": 1,
        "documents": [{"id": kb.documents()[-1]["id"], "title": "Doc 3", "status": "processing"}],
    }


def test_nonsense_only_for_requests_holding_a_substring(
    kb: KBApiHandle, client: httpx.Client
) -> None:
    kb.configure(nonsense="not_json", nonsense_substring="odd one")
    assert post(client, [doc(0)]).json()["success"] is True
    assert "<html>" in post(client, [doc(1), doc(2, content="the odd one")]).text
    assert [d["title"] for d in kb.documents()] == ["Doc 0"]
    with pytest.raises(RuntimeError, match="unknown nonsense"):
        kb.configure(nonsense="whatever")
    assert kb.config()["faults"]["nonsense"] == "not_json"


def test_search_answers_credentials_like_the_import_and_has_faults(
    kb: KBApiHandle, client: httpx.Client
) -> None:
    query = {"chatModelId": MODEL, "query": "anything", "limit": 1}
    assert client.post("/documents/search", json=query).json() == {
        "success": True,
        "documents": [],
    }
    wrong = client.post("/documents/search", json=query, headers={"Authorization": "Bearer x"})
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "INVALID_TOKEN"
    unknown = client.post("/documents/search", json={**query, "chatModelId": "nope"})
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "INVALID_MODEL_ID"
    kb.configure(search_fail_5xx=1, search_drop=1)
    with pytest.raises(httpx.RemoteProtocolError):
        client.post("/documents/search", json=query)
    assert client.post("/documents/search", json=query).status_code == 503
    assert client.post("/documents/search", json=query).status_code == 200
    searches = kb.searches()
    assert [(s["status"], s.get("fault")) for s in searches] == [
        (200, None),
        (401, None),
        (404, None),
        (None, "drop"),
        (503, "fail_5xx"),
        (200, None),
    ]
    assert all(s["limit"] == 1 for s in searches) and not kb.requests()
