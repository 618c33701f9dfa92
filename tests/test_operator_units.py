"""The pure parts of the operator features: setting checks, paths, progress numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.extensions.progress import progress_line, progress_numbers
from crawler.paths import resolve_path
from crawler.settings_check import check_value


@pytest.mark.parametrize(
    ("name", "value", "default", "ok"),
    [
        ("KB_MAX_BATCH_DOCS", "100", 100, True),
        ("KB_MAX_BATCH_DOCS", "101", 100, False),
        ("KB_MAX_BATCH_DOCS", "0", 100, False),
        ("KB_MAX_BATCH_DOCS", "1.5", 100, False),
        ("KB_EXTRACT_WORKERS", "0", 0, True),
        ("KB_EXTRACT_WORKERS", 4, 0, True),
        ("KB_SHRINK_RATIO", "0.7", 0.5, True),
        ("KB_SHRINK_RATIO", "1.5", 0.5, False),
        ("KB_FLUSH_SECONDS", "0", 10.0, False),
        ("KB_FULL_SYNC", "yes", False, True),
        ("KB_FULL_SYNC", True, False, True),
        ("KB_FULL_SYNC", "2", False, False),
        ("KB_API_URL", "anything", "https://x", True),
    ],
)
def test_check_value(name: str, value: object, default: object, ok: bool) -> None:
    problem = check_value(name, value, default)
    assert (problem is None) == ok, problem
    if problem:
        assert problem.startswith(f"{name}={value}: expected ")


def test_resolve_path(tmp_path: Path) -> None:
    assert resolve_path("/abs/x", tmp_path) == Path("/abs/x")
    assert resolve_path("state", tmp_path) == tmp_path / "state"
    assert resolve_path("~/kb").is_absolute()


def test_progress_numbers_and_line() -> None:
    stats = {
        "kb/pages": 10, "kb/pages_split": 2, "kb/parts": 6, "kb/documents_posted": 9,
        "kb/quarantined": 1, "scheduler/enqueued": 30, "scheduler/dequeued": 12,
        "sitemap/pages": 100, "sync/unchanged/lastmod": 10,
    }  # fmt: skip
    n = progress_numbers(stats, pages=20, elapsed=60.0)
    # 8 whole pages + 6 parts = 14 documents made; 9 delivered, 1 quarantined: 4 pending.
    assert (n["delivered"], n["pending"], n["queued"]) == (9, 4, 18)
    assert n["per_min"] == 20.0 and n["total"] == 100
    assert n["eta_seconds"] == pytest.approx((100 - 30) / 20 * 60)
    assert progress_line(n) == (
        "Progress: 20 of ~100 pages crawled (20.0/min), 18 queued, 9 documents delivered, "
        "4 pending, ETA 3m30s"
    )
    unknown = progress_numbers({}, pages=0, elapsed=0.0)
    assert unknown["total"] is None and unknown["eta_seconds"] is None
    assert progress_line(unknown).endswith("ETA unknown")
