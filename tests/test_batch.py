"""Tests for pipelines.batch: batch limits, order, and the time-based flush."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.batch import (
    API_MAX_DOCUMENTS,
    SEPARATOR_BYTES,
    Batcher,
    bisect,
    document_size,
    encode_document,
)


def doc(i: int, size: int = 10) -> dict[str, Any]:
    return {"title": f"t{i}", "content": "x" * size, "url": f"https://e.com/{i}", "metadata": {}}


def test_document_size_counts_utf8_bytes_and_separator() -> None:
    d = {"title": "é", "content": "中文", "url": "u", "metadata": {"language": "zh"}}
    raw = encode_document(d)
    assert json.loads(raw) == d
    assert document_size(d) == len(raw) + SEPARATOR_BYTES
    assert "中文".encode() in raw  # counted as UTF-8, not as \\u escapes
    assert b'"title":"\xc3\xa9"' in raw  # compact: the bytes the request body carries


def test_sizes_add_up_to_the_posted_array() -> None:
    docs = [doc(i, 50 + i) for i in range(7)] + [{"title": "ü", "content": "日本", "url": "u"}]
    array = b"[" + b",".join(encode_document(d) for d in docs) + b"]"
    assert json.loads(array) == docs
    assert len(array) == sum(document_size(d) for d in docs) - SEPARATOR_BYTES + 2


def test_entries_with_their_own_size_are_batched_as_given() -> None:
    b: Batcher[tuple[str, bytes]] = Batcher(max_docs=10, max_bytes=100)
    assert b.add(("a", b"x" * 60), 0.0, size=61) == []
    assert b.add(("b", b"y" * 60), 0.0, size=61) == [[("a", b"x" * 60)]]
    assert b.drain() == [("b", b"y" * 60)]


def test_full_batch_of_max_docs_is_returned_at_once() -> None:
    b = Batcher(max_docs=3, max_bytes=10_000)
    assert b.add(doc(1), 0.0) == []
    assert b.add(doc(2), 0.0) == []
    assert b.add(doc(3), 0.0) == [[doc(1), doc(2), doc(3)]]
    assert len(b) == 0
    assert b.drain() is None


def test_default_is_the_api_limit_of_100() -> None:
    b = Batcher()
    batches = [batch for i in range(250) for batch in b.add(doc(i), 0.0)]
    assert [len(x) for x in batches] == [100, 100]
    assert len(b) == 50


def test_byte_budget_closes_the_batch_before_it_overflows() -> None:
    size = document_size(doc(0, 100))
    b = Batcher(max_docs=100, max_bytes=size * 2 + size // 2)
    assert b.add(doc(1, 100), 0.0) == []
    assert b.add(doc(2, 100), 0.0) == []
    assert b.add(doc(3, 100), 0.0) == [[doc(1, 100), doc(2, 100)]]
    assert len(b) == 1
    assert b.buffered_bytes == size


def test_oversized_document_goes_alone_after_the_buffer() -> None:
    b = Batcher(max_docs=10, max_bytes=500)
    b.add(doc(1), 0.0)
    big = doc(2, 1000)
    assert b.add(big, 1.0) == [[doc(1)], [big]]
    assert len(b) == 0
    assert b.add(big, 2.0) == [[big]]


def test_due_waits_for_the_oldest_document() -> None:
    b = Batcher(max_docs=10, max_bytes=10_000, flush_seconds=5.0)
    assert b.due(100.0) is None  # nothing buffered
    b.add(doc(1), 10.0)
    b.add(doc(2), 13.0)
    assert b.due(14.9) is None
    assert b.due(15.0) == [doc(1), doc(2)]
    assert len(b) == 0
    assert b.due(100.0) is None
    b.add(doc(3), 20.0)  # the clock restarts with the next document
    assert b.due(24.0) is None
    assert b.due(25.0) == [doc(3)]


def test_drain_returns_everything_once() -> None:
    b = Batcher(max_docs=10)
    assert b.drain() is None
    b.add(doc(1), 0.0)
    b.add(doc(2), 0.0)
    assert b.drain() == [doc(1), doc(2)]
    assert b.drain() is None
    assert len(b) == 0


@pytest.mark.parametrize(
    "kwargs",
    [{"max_docs": 0}, {"max_docs": 101}, {"max_bytes": 0}, {"flush_seconds": -1.0}],
)
def test_invalid_limits_raise(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        Batcher(**kwargs)


@pytest.mark.parametrize(("n", "left"), [(0, 0), (1, 1), (2, 1), (5, 3), (100, 50)])
def test_bisect_halves_in_order(n: int, left: int) -> None:
    docs = [doc(i) for i in range(n)]
    first, second = bisect(docs)
    assert len(first) == left
    assert first + second == docs


# --- property test ------------------------------------------------------------------------

EVENT = st.one_of(
    st.tuples(st.just("add"), st.integers(0, 3000), st.floats(0, 5)),  # doc size, time step
    st.tuples(st.just("due"), st.just(0), st.floats(0, 20)),
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(EVENT, max_size=300),
    st.integers(1, API_MAX_DOCUMENTS),
    st.integers(200, 20_000),
    st.floats(0, 15),
)
def test_property_batches_respect_limits_and_order(
    events: list[tuple[str, int, float]], max_docs: int, max_bytes: int, flush: float
) -> None:
    b = Batcher(max_docs=max_docs, max_bytes=max_bytes, flush_seconds=flush)
    now, added, batches = 0.0, [], []
    arrival: dict[int, float] = {}
    for kind, size, step in events:
        now += step
        if kind == "add":
            d = doc(len(added), size)
            arrival[id(d)] = now
            added.append(d)
            batches.extend(b.add(d, now))
        else:
            oldest = None
            if len(b):
                pending = added[len(added) - len(b) :]
                oldest = min(arrival[id(x)] for x in pending)
            batch = b.due(now)
            if oldest is not None and now - oldest >= flush:
                assert batch
                batches.append(batch)
            else:
                assert batch is None
        assert len(b) < max_docs
        assert b.buffered_bytes <= max_bytes
    rest = b.drain()
    if rest is not None:
        batches.append(rest)
    assert len(b) == 0
    assert [d for batch in batches for d in batch] == added  # nothing lost, order kept
    for batch in batches:
        assert 1 <= len(batch) <= max_docs
        total = sum(document_size(d) for d in batch)
        assert total <= max_bytes or len(batch) == 1
