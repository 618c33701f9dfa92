"""The end-of-run summary: a short table in the log, and the same in the run report.

New, changed and unchanged pages (by sync layer), pages skipped by reason, failed by
status, documents delivered and pending, and the ten URLs that failed most: counted over
the per-URL records (:mod:`crawler.runrecords`) of the last :data:`FAILURE_RUNS` runs, so a
URL failing night after night comes first.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from crawler.runrecords import RECORDS_SUFFIX, read_url_records

FAILURE_RUNS = 10
TOP_FAILING = 10
#: Record reasons that are failures (the page could not be had), not decisions to skip.
FAILURE_REASONS = frozenset(
    {"timeout", "dns", "connection", "download_error", "extraction_failed", "too_large"}
    | {"render_failed"}
)


def is_failure(reason: str) -> bool:
    """``http_<status>`` and the download/extraction errors of :data:`FAILURE_REASONS`."""
    return reason.startswith("http_") or reason in FAILURE_REASONS


def top_failing(runs: Path, limit: int = TOP_FAILING) -> list[dict[str, Any]]:
    """The URLs that failed in most of the last runs' records, newest reason first.

    Returns ``[{"url", "failures" (runs it failed in), "reason", "detail"}]``, at most
    ``limit``; ties go to the URL that failed most recently.
    """
    files = sorted(runs.glob(f"*{RECORDS_SUFFIX}"), reverse=True)[:FAILURE_RUNS]
    failures: Counter[str] = Counter()
    latest: dict[str, tuple[int, str, str | None]] = {}
    for age, path in enumerate(files):
        try:
            for record in read_url_records(path):
                reason = str(record.get("reason") or "")
                url = record.get("url")
                if not url or not is_failure(reason):
                    continue
                failures[url] += 1
                latest.setdefault(url, (age, reason, record.get("detail")))
        except OSError:
            continue
    ranked = sorted(failures, key=lambda u: (-failures[u], latest[u][0], u))[:limit]
    return [
        {"url": u, "failures": failures[u], "reason": latest[u][1], "detail": latest[u][2]}
        for u in ranked
    ]


def run_summary(stats: dict[str, Any], runs: Path) -> dict[str, Any]:
    """The summary of a finished run from its stats and the runs' records (see module doc)."""

    def get(key: str) -> int:
        value = stats.get(key, 0)
        return int(value) if isinstance(value, int | float) else 0

    reasons = {
        k.removeprefix("skipped/"): get(k) for k in sorted(stats) if k.startswith("skipped/")
    }
    return {
        "new": get("sync/new"),
        "changed": get("sync/changed"),
        "unchanged": {
            "lastmod": get("sync/unchanged/lastmod"),
            "not_modified_304": get("sync/unchanged/304"),
            "fingerprint": get("sync/unchanged/fingerprint"),
        },
        "skipped": {r: n for r, n in reasons.items() if not is_failure(r)},
        "failed": {r: n for r, n in reasons.items() if is_failure(r)},
        "documents_delivered": get("kb/documents_posted"),
        "documents_written": get("kb/documents_written"),
        "documents_quarantined": get("kb/quarantined"),
        "pending_batches": get("kb/pending_batches_left"),
        "top_failing": top_failing(runs),
    }


def _counts(table: dict[str, int]) -> str:
    items = sorted(((r, n) for r, n in table.items() if n), key=lambda x: (-x[1], x[0]))
    return ", ".join(f"{r} {n}" for r, n in items) or "none"


def summary_table(site: str, summary: dict[str, Any]) -> str:
    """The summary as a few aligned lines for the log."""
    u = summary["unchanged"]
    unchanged = u["lastmod"] + u["not_modified_304"] + u["fingerprint"]
    rows = [
        ("pages", f"new {summary['new']}, changed {summary['changed']}, unchanged {unchanged} "
                  f"(lastmod {u['lastmod']}, 304 {u['not_modified_304']}, "
                  f"fingerprint {u['fingerprint']})"),
        ("skipped", _counts(summary["skipped"])),
        ("failed", _counts(summary["failed"])),
        ("documents", f"delivered {summary['documents_delivered']}, written to the outbox "
                      f"{summary['documents_written']}, quarantined "
                      f"{summary['documents_quarantined']}, pending "
                      f"{summary['pending_batches']} batch(es)"),
    ]  # fmt: skip
    lines = [f"Run summary of {site}:"]
    lines += [f"  {name:<10} {text}" for name, text in rows]
    if summary["top_failing"]:
        lines.append(f"  {'failing':<10} runs  URL  (last reason)")
        for entry in summary["top_failing"]:
            detail = f": {entry['detail']}" if entry.get("detail") else ""
            lines.append(
                f"  {'':<10} {entry['failures']:>4}  {entry['url']}  ({entry['reason']}{detail})"
            )
    return "\n".join(lines)
