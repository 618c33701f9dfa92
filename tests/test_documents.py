"""Linked documents (PDF, DOCX): pure text normalization, extraction of the committed
fixtures (tests/fixtures/documents), and real crawls of the test website's /library/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from crawler.config import ConfigError, parse_site_config
from crawler.documentkinds import document_kind
from crawler.documents import extract_document, file_title, normalize_pdf_text, pdf_date
from crawler.options import ExtractOptions
from crawler.robots_directives import RobotsDirectives
from crawler.runrecords import read_url_records
from tests.crawl_runner import CrawlResult, crawl_env, crawl_site, run_scrapy, write_site
from tests.servers.kbapi import running_kbapi
from tests.servers.website import running_website

FIXTURES = Path(__file__).parent / "fixtures" / "documents"
SITE = "library"

# -- text normalization -----------------------------------------------------------------


def test_ligatures_become_letters() -> None:
    text = normalize_pdf_text(["The con\ufb01guration \ufb01le sets the \ufb02ow, e\ufb03ciently."])
    assert text == "The configuration file sets the flow, efficiently."


def test_words_hyphenated_at_line_ends_are_joined() -> None:
    pages = ["The allocation is recom-\nputed at once and the berth is re-\nassigned."]
    assert (
        normalize_pdf_text(pages)
        == "The allocation is recomputed at once and the berth is reassigned."
    )


def test_pdfium_hyphen_marks_and_soft_hyphens_are_removed() -> None:
    # PDFium joins a word broken at a line end itself and marks the hyphen with U+0002.
    assert normalize_pdf_text(["manip\x02ulation of the\u00adse files"]) == (
        "manipulation of these files"
    )


def test_a_hyphen_before_a_capital_or_digit_stays() -> None:
    assert normalize_pdf_text(["the Franco-\nGerman border and ISO-\n8859"]) == (
        "the Franco-German border and ISO-8859"
    )


def test_lines_merge_into_paragraphs() -> None:
    page = (
        "Introduction\n"
        "The harbor controller schedules berths for arriving vessels and it reads\n"
        "its configuration at start.\n"
        "A second paragraph starts after a short line that ends a sentence and goes\n"
        "on over a second line.\n"
        "\n"
        "- first item\n"
        "- second item\n"
        "1. numbered"
    )
    assert normalize_pdf_text([page, "Next page\r\nstarts  here."]).split("\n\n") == [
        "Introduction",
        "The harbor controller schedules berths for arriving vessels and it reads "
        "its configuration at start.",
        "A second paragraph starts after a short line that ends a sentence and goes "
        "on over a second line.",
        "- first item",
        "- second item",
        "1. numbered",
        "Next page starts here.",
    ]


def test_running_heads_and_footers_are_dropped() -> None:
    bodies = [
        "Tides rise twice a day.",
        "Pilots board at the buoy.",
        "Cranes lift containers.",
        "Ships leave at dawn.",
    ]
    pages = [
        f"Harbor Guide\n{body}\nThe quay is long.\nPage {n} of 4"
        for n, body in enumerate(bodies, 1)
    ]
    text = normalize_pdf_text(pages)
    assert text.count("Harbor Guide") == text.count("of 4") == 1  # kept on the first page
    assert all(body in text for body in bodies)
    # two pages are too few to tell a running head from a repeated heading
    assert normalize_pdf_text(pages[:2]).count("Harbor Guide") == 2


def test_pdf_dates() -> None:
    assert pdf_date("D:20250208122313Z") == "2025-02-08"
    assert pdf_date("D:2024") == "2024"
    assert pdf_date("yesterday") is None and pdf_date(None) is None


@pytest.mark.parametrize(
    ("ctype", "url", "enabled", "kind"),
    [
        ("application/pdf", "https://x.test/a", ("pdf",), "pdf"),
        ("application/pdf; qs=0.001", "https://x.test/a.pdf", ("docx",), None),
        ("application/octet-stream", "https://x.test/Guide.PDF?v=2", ("pdf",), "pdf"),
        ("", "https://x.test/notes.docx", ("pdf", "docx"), "docx"),
        ("text/html; charset=utf-8", "https://x.test/guide.pdf", ("pdf",), None),
        ("application/octet-stream", "https://x.test/archive.zip", ("pdf", "docx"), None),
        (
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "https://x.test/download?id=3",
            ("docx",),
            "docx",
        ),
    ],
)
def test_document_kind(ctype: str, url: str, enabled: tuple[str, ...], kind: str | None) -> None:
    assert document_kind(ctype, url, enabled) == kind


def test_file_title() -> None:
    assert file_title("https://x.test/files/install-guide.pdf") == "Install guide"
    assert file_title("https://x.test/files/Release%20Notes.docx") == "Release Notes"


# -- extraction of the fixtures -------------------------------------------------------------


def _extract(name: str, kind: str = "pdf", **options: Any) -> Any:
    body = (FIXTURES / name).read_bytes()
    return extract_document(body, f"https://x.test/library/{name}", kind, ExtractOptions(**options))


def test_multi_page_pdf() -> None:
    page = _extract("harbor-guide.pdf")
    assert page.skip_reason is None
    assert page.title == "Harbor Operations Guide"  # the metadata title
    assert (page.language, page.author) == ("en", "Harbor Docs Team")
    assert page.description == "Operating the harbor controller"
    for words in ("Every configuration file lives", "the flow of ships", "is recomputed whenever"):
        assert words in page.content
    assert "Berth allocation" in page.content.split("\n\n")  # page 2's heading, alone
    assert page.content.index("Berth allocation") < page.content.index("Closing the season")
    assert not any("\ufb00" <= ch <= "\ufb06" for ch in page.content)
    assert page.content_hash


def test_pdf_title_falls_back_to_the_first_heading_then_the_file_name() -> None:
    handbuch = _extract("handbuch.pdf")
    assert (handbuch.title, handbuch.language) == ("Handbuch für den Hafenbetrieb", "de")
    rules = _extract("quay-rules.pdf")
    assert (rules.title, rules.language) == ("Quay rules", "en")
    assert rules.content.startswith("Vessels moored at the western quay")


def test_title_suffix_applies_to_documents() -> None:
    assert _extract("harbor-guide.pdf", title_suffix="Guide").title == "Harbor Operations"


def test_scanned_pdf_is_skipped_as_no_text() -> None:
    page = _extract("scan.pdf")
    assert (page.skip_reason, page.content, page.content_hash) == ("no_text", "", "")


def test_short_document_is_thin_and_forced_language_wins() -> None:
    page = _extract("quay-rules.pdf", min_chars=1000, forced_language="nl")
    assert (page.skip_reason, page.language) == ("thin", "nl")


def test_x_robots_tag_noindex_decides_before_the_text() -> None:
    """The same rule as pages (crawler/extract/skip.py): noindex first, then thin."""
    body = (FIXTURES / "quay-rules.pdf").read_bytes()
    url = "https://x.test/library/quay-rules.pdf"
    noindex = RobotsDirectives(noindex=True)
    for options in (ExtractOptions(), ExtractOptions(min_chars=1000)):
        page = extract_document(body, url, "pdf", options, header=noindex)
        assert (page.skip_reason, page.content, page.noindex) == ("noindex", "", True)
    scan = (FIXTURES / "scan.pdf").read_bytes()  # unreadable comes first
    assert extract_document(scan, url, "pdf", ExtractOptions(), header=noindex).skip_reason == (
        "no_text"
    )


def test_broken_files_are_parse_errors() -> None:
    garbage = b"%PDF-1.4\n this is no pdf at all"
    assert extract_document(
        garbage, "https://x.test/a.pdf", "pdf", ExtractOptions()
    ).skip_reason == ("parse_error")
    assert extract_document(
        garbage, "https://x.test/a.docx", "docx", ExtractOptions()
    ).skip_reason == ("parse_error")


def test_docx_goes_through_html_to_markdown() -> None:
    page = _extract("deployment-notes.docx", "docx")
    assert page.skip_reason is None
    assert (page.title, page.language, page.author) == (
        "Notes de déploiement",
        "fr",
        "Équipe du port",
    )
    assert page.published == "2026-03-02T09:30:00Z" and page.modified == "2026-03-04T16:00:00Z"
    lines = page.content.splitlines()
    assert "# Préparer le déploiement" in lines and "## Étapes" in lines
    assert "1. Arrêter le planificateur des quais" in lines
    assert any(line.startswith("| Quai") for line in lines)
    assert "data:" not in page.content and "![" not in page.content  # the image is dropped


def test_site_keys_are_validated() -> None:
    site = parse_site_config("start_urls: https://x.test/\ndocuments: PDF\n", "s.yaml", "s")
    assert (site.documents, site.max_document_bytes) == (["pdf"], 20 * 1024 * 1024)
    assert parse_site_config("start_urls: https://x.test/\n", "s.yaml", "s").documents == []
    with pytest.raises(ConfigError, match=r"^s.yaml: documents.0: .*'pdf' or 'docx'"):
        parse_site_config("start_urls: https://x.test/\ndocuments: [doc]\n", "s.yaml", "s")
    with pytest.raises(ConfigError, match="max_document_bytes: must be at least 1024"):
        parse_site_config("start_urls: https://x.test/\nmax_document_bytes: 10\n", "s.yaml", "s")


# -- crawls ---------------------------------------------------------------------------------


def _records(result: CrawlResult, site: str) -> dict[str, dict[str, Any]]:
    (report,) = result.reports(site)
    return {r["url"]: r for r in read_url_records(report["url_records"])}


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Any:
    tmp = tmp_path_factory.mktemp("library")
    with running_website(tmp) as site:
        config = write_site(
            tmp,
            SITE,
            start_urls=[site.url + "/library/"],
            sitemap_urls=[site.url + "/library/sitemap.xml"],
            documents=["pdf", "docx"],
            max_document_bytes=1_000_000,
            max_document_chars=1000,
            max_depth=1,
        )
        result = crawl_site(config, tmp)
        yield site, result, site.requests()


def _delivered(result: CrawlResult, site: str, base: str) -> dict[str, list[dict[str, Any]]]:
    by_path: dict[str, list[dict[str, Any]]] = {}
    for doc in result.documents(site):
        by_path.setdefault(doc["url"].removeprefix(base), []).append(doc)
    return by_path


def test_crawl_delivers_linked_and_sitemap_documents(library: Any) -> None:
    site, result, _ = library
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.log
    docs = _delivered(result, SITE, site.url)
    assert set(docs) == {  # the index page itself is thin
        "/library/harbor-guide.pdf",
        "/library/download?id=7",
        "/library/quay-rules.pdf",
        "/library/notes.docx",
    }
    assert result.stat("documents/pdf") == 4  # guide, handbuch, quay rules, scan
    assert result.stat("documents/docx") == 1


def test_multi_page_pdf_is_split_like_a_page(library: Any) -> None:
    site, result, _ = library
    parts = _delivered(result, SITE, site.url)["/library/harbor-guide.pdf"]
    assert len(parts) >= 2 and all(len(p["content"]) <= 1000 for p in parts)
    assert [p["metadata"]["part"] for p in parts] == list(range(1, len(parts) + 1))
    assert all(p["title"].startswith("Harbor Operations Guide") for p in parts)
    assert len({p["title"] for p in parts}) == len(parts)
    whole = " ".join(p["content"] for p in parts)
    for words in ("configuration file", "flow of ships", "recomputed", "port authority"):
        assert words in whole
    meta = parts[0]["metadata"]
    assert (meta["language"], meta["author"], meta["site"]) == ("en", "Harbor Docs Team", SITE)


def test_titles_and_languages_of_documents(library: Any) -> None:
    site, result, _ = library
    docs = {path: d[0] for path, d in _delivered(result, SITE, site.url).items()}
    handbuch = docs["/library/download?id=7"]  # application/pdf without an extension
    assert (handbuch["title"], handbuch["metadata"]["language"]) == (
        "Handbuch für den Hafenbetrieb",
        "de",
    )
    assert "Gezeitentabelle" in handbuch["content"]
    rules = docs["/library/quay-rules.pdf"]  # sitemap only, application/octet-stream
    assert (rules["title"], rules["metadata"]["language"]) == ("Quay rules", "en")
    notes = docs["/library/notes.docx"]
    assert (notes["title"], notes["metadata"]["language"]) == ("Notes de déploiement", "fr")
    assert "## Étapes" in notes["content"] and "| Quai" in notes["content"]


def test_scanned_and_oversized_documents_are_recorded(library: Any) -> None:
    site, result, requests = library
    records = _records(result, SITE)
    scan = records[site.url + "/library/scan.pdf"]
    assert (scan["reason"], scan["referer"]) == ("no_text", site.url + "/library/")
    huge = records[site.url + "/library/huge.pdf"]
    # max_document_bytes, not DOWNLOAD_MAXSIZE (8 MiB), stopped it
    assert huge["reason"] == "too_large" and "(1000000)" in huge["detail"]
    assert result.stat("skipped/no_text") == result.stat("skipped/too_large") == 1
    assert [r["path"] for r in requests].count("/library/huge.pdf") == 1


def test_only_enabled_kinds_are_extracted(tmp_path: Path) -> None:
    with running_website(tmp_path) as site:
        config = write_site(
            tmp_path, "docx-only", start_urls=[site.url + "/library/"], documents="docx",
            sitemap_urls=[site.url + "/library/sitemap.xml"], max_depth=1,
        )  # fmt: skip
        result = crawl_site(config, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    docs = _delivered(result, "docx-only", site.url)
    assert set(docs) == {"/library/notes.docx"}
    records = _records(result, "docx-only")
    guide = records[site.url + "/library/harbor-guide.pdf"]
    assert (guide["reason"], guide["detail"]) == ("not_html", "application/pdf")
    # a PDF is not capped by max_document_bytes when PDFs are not extracted: a page's cap
    assert records[site.url + "/library/huge.pdf"]["reason"] == "not_html"
    # from the sitemap, application/octet-stream, .pdf: not extracted either
    assert records[site.url + "/library/quay-rules.pdf"]["reason"] == "not_html"


def test_unchanged_documents_are_not_sent_again(tmp_path: Path) -> None:
    """Incremental sync (confirmed by the API) covers documents like pages."""
    token = "documents-token-123456"
    with running_website(tmp_path) as site, running_kbapi(tmp_path, token=token) as api:
        env = crawl_env(
            tmp_path, KB_API_URL=api.url, KB_API_TOKEN=token, KB_CHAT_MODEL_ID="test-model"
        )
        config = write_site(
            tmp_path, "again", start_urls=[site.url + "/library/"], documents=["pdf", "docx"],
            sitemap_urls=[site.url + "/library/sitemap.xml"], max_depth=1,
        )  # fmt: skip
        first = crawl_site(config, tmp_path, env=env)
        assert first.returncode == 0, first.stderr[-3000:]
        assert len({d["url"] for d in api.documents()}) == 4
        api.reset()
        second = crawl_site(config, tmp_path, env=env)
        assert second.returncode == 0, second.stderr[-3000:]
        assert api.documents() == []
        # kb-explain reads documents like the crawl does
        scan, notes = (
            run_scrapy(["kb-explain", "site", "-a", f"config={config}", url], tmp_path, env=env)
            for url in (site.url + "/library/scan.pdf", site.url + "/library/notes.docx")
        )
    # the sitemap's document by its lastmod, the linked ones by a conditional GET (304)
    assert second.stat("sync/unchanged/lastmod") == 1
    assert second.stat("sync/unchanged/304") >= 3
    assert scan.returncode == 0, scan.stderr[-2000:]
    assert "skipped as no_text" in scan.stdout and "not an HTML page" not in scan.stdout
    assert notes.returncode == 0, notes.stderr[-2000:]
    assert "unchanged since the last sync" in notes.stdout and "Étapes" in notes.stdout
