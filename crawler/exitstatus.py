"""The exit status of ``scrapy crawl`` (and ``kb-flush``), read from a finished crawl's stats.

Scrapy exits 0 whatever a spider's close reason; cron and scrapyd users need a non-zero
status when the knowledge base refused us or the run is not trustworthy. The run report's
``failed`` (:func:`failure_of`) says the same thing in words.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_CONFIG = 2
EXIT_KB_REFUSED = 3
EXIT_LOCKED = 4
EXIT_RUN_FAILED = 5
EXIT_UNDELIVERED = 6
EXIT_INTERRUPTED = 7
EXIT_NO_CONTENT = 8
EXIT_FAILED = 1


def exit_status(stats: dict[str, object]) -> tuple[int, str | None]:
    """Map a finished crawl's stats to (exit status, one-line reason)."""
    reason = str(stats.get("finish_reason") or "")
    pending, flush = stats.get("kb/pending_batches_left"), stats.get("kb/flush_command")
    waiting = f"; {pending} batch(es) wait in the outbox" if pending else ""
    if stats.get("kb/fatal"):
        what = "credentials" if stats.get("kb/credentials") == "refused" else "import"
        fix = f": once fixed, send them with `{flush}`" if waiting and flush else ""
        return EXIT_KB_REFUSED, (
            f"the knowledge base refused the {what} ({stats['kb/fatal']}){waiting}{fix}"
        )
    if reason == "already_running":
        return EXIT_LOCKED, "another crawl of this site is running"
    if stats.get("kb/no_content"):  # unreachable, all disallowed, all 4xx, all skipped
        return EXIT_NO_CONTENT, str(stats["kb/no_content"])
    if stats.get("kb/run_failed"):
        return EXIT_RUN_FAILED, f"the run failed its sync guard ({stats['kb/run_failed']})"
    if stats.get("kb/unavailable") and stats.get("kb/pending_batches_left"):
        what = (
            "did not confirm the import"
            if stats["kb/unavailable"] == "UNCONFIRMED"
            else "was unavailable"
        )
        return EXIT_UNDELIVERED, (
            f"the knowledge base {what}{waiting}" + (f": send them with `{flush}`" if flush else "")
        )
    if not reason:
        return EXIT_FAILED, "the crawl ended without a close reason (it did not finish)"
    if reason != "finished" and reason != "max_pages":
        return EXIT_INTERRUPTED, f"the crawl was stopped ({reason}); the next run resumes delivery"
    return EXIT_OK, None


def failure_of(stats: dict[str, object]) -> str | None:
    """What the run report's ``failed`` says: None exactly when the exit status is 0.

    The knowledge base's refusal code, the sync guard's reason, or the exit status's cause.
    """
    status, _ = exit_status(stats)
    if status == EXIT_OK:
        return None
    if status == EXIT_KB_REFUSED:
        return str(stats.get("kb/fatal"))
    if status == EXIT_RUN_FAILED:
        return str(stats.get("kb/run_failed"))
    if status == EXIT_UNDELIVERED:
        return f"undelivered ({stats.get('kb/unavailable')})"
    if status == EXIT_INTERRUPTED:
        return f"stopped ({stats.get('finish_reason')})"
    return {
        EXIT_LOCKED: "already_running",
        EXIT_FAILED: "no_close_reason",
        EXIT_NO_CONTENT: "no_content",
    }.get(status, f"exit_status_{status}")
