"""The end-of-run summary: a table in the log and ``summary`` in the run report."""

from __future__ import annotations

import json
from pathlib import Path

from crawler.runsummary import top_failing
from tests.crawl_runner import crawl_env, crawl_site, write_site
from tests.servers.kbapi import running_kbapi
from tests.servers.website import running_website


def test_two_runs_give_the_table_and_the_report_summary(tmp_path: Path) -> None:
    with running_website(tmp_path) as site, running_kbapi(tmp_path) as api:
        config = write_site(
            tmp_path, "summed", start_urls=[site.url + "/"], max_depth=1,
            chat_model_id=api.model_id,
        )  # fmt: skip
        env = crawl_env(tmp_path, KB_API_URL=api.url, KB_API_TOKEN=api.token)
        first = crawl_site(config, tmp_path, env=env)
        second = crawl_site(config, tmp_path, env=env)
        posted = len(api.documents())
    assert first.returncode == 0 and second.returncode == 0, second.stderr[-3000:]
    reports = first.reports("summed")
    one, two = reports[0]["summary"], reports[1]["summary"]
    assert one["new"] > 0 and one["documents_delivered"] == one["new"]
    assert one["documents_delivered"] + two["documents_delivered"] == posted
    # The second run re-sends nothing it had sent: only pages it reached for the first time.
    assert two["changed"] == 0 and two["documents_delivered"] == two["new"] < one["new"]
    unchanged = sum(two["unchanged"].values())
    assert unchanged >= one["new"] - two["new"] and two["unchanged"]["not_modified_304"] > 0
    assert one["skipped"]["thin"] == 1 and one["skipped"]["noindex"] >= 1
    assert one["failed"] == {"http_404": 1}
    # /missing-page.html failed in both runs: first of the failing URLs, counted twice.
    assert two["top_failing"][0] == {
        "url": site.url + "/missing-page.html", "failures": 2, "reason": "http_404",
        "detail": None,
    }  # fmt: skip
    log = second.stderr
    assert "Run summary of summed:" in log
    assert f"  pages      new {two['new']}, changed 0, unchanged {unchanged} (lastmod " in log
    assert "  failed     http_404 1" in log
    assert (
        f"  documents  delivered {two['new']}, written to the outbox 0, quarantined 0, pending 0"
        in log
    )
    assert f"        2  {site.url}/missing-page.html  (http_404)" in log


def test_top_failing_ranks_by_runs_then_recency(tmp_path: Path) -> None:
    def run(stamp: str, *records: tuple[str, str]) -> None:
        lines = [json.dumps({"url": u, "reason": r, "detail": None}) for u, r in records]
        (tmp_path / f"{stamp}.urls.jsonl").write_text("\n".join(lines) + "\n")

    run("20260101T000000Z", ("a", "http_500"), ("b", "timeout"), ("c", "thin"))
    run("20260102T000000Z", ("a", "http_503"), ("d", "dns"), ("c", "thin"))
    ranked = top_failing(tmp_path)
    assert [(e["url"], e["failures"], e["reason"]) for e in ranked] == [
        ("a", 2, "http_503"), ("d", 1, "dns"), ("b", 1, "timeout"),
    ]  # fmt: skip
    assert top_failing(tmp_path, limit=1)[0]["url"] == "a"
