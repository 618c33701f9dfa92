"""Linked documents (PDF, DOCX) as knowledge-base documents: text, title, language.

Pure functions (bytes in, :class:`crawler.extract.ExtractedPage` out) for the extraction
workers; no Scrapy imports. Which responses are documents is decided in the crawler
process (:mod:`crawler.documentkinds`, which imports none of this).

- PDF: text by pypdfium2 (PDFium; Apache-2.0/BSD-3), pypdf (BSD-3) when PDFium cannot
  open the file. Chosen by measurement on Debian's documentation PDFs
  (docs/benchmarks/pdf_choice.py): PDFium is 13x faster (1.3-1.7 ms a page against
  20-23 ms) and re-joins words hyphenated at line ends, which pypdf leaves split.
  The text is normalized by :func:`normalize_pdf_text`.
- DOCX: mammoth (BSD-2) to HTML, then HTML to Markdown like pages (:func:`html_markdown`).
"""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from typing import Any
from urllib.parse import unquote, urlsplit
from xml.etree import ElementTree

from crawler.extract import ExtractedPage, content_fingerprint, title_from_url
from crawler.language import DEFAULT_LANGUAGE, detect_language
from crawler.options import ExtractOptions

__all__ = [
    "extract_document",
    "file_title",
    "html_markdown",
    "normalize_pdf_text",
    "pdf_date",
]

DOCX_MAX_INFLATED = 200 * 1024 * 1024
"""A DOCX (a zip) whose entries inflate beyond this many bytes is refused (zip bomb)."""


# --------------------------------------------------------------------------- PDF text

_LINE_END_HYPHEN = re.compile(r"(\w)[\x02\u00ad-]\n(?=[a-zäöüßàâçéèêëîïôûùœæ])")
_COMPOUND_BREAK = re.compile(r"(\w-)\n(?=\w)")
_SOFT_HYPHENS = re.compile("[\x02\u00ad]")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_BULLET = re.compile(r"^(?:[•◦▪‣●○■□–—*-]\s|\(?\d{1,3}[.)]\s|\(?[a-z][.)]\s)")
_SENTENCE_END = re.compile(r"[.!?:;)\]\"'”’»]$")
_HEADING_MAX_CHARS = 120


def _pdf_lines(text: str) -> list[str]:
    """One page's text as stripped lines; NFKC (ﬁ -> fi), hyphenated line ends joined."""
    text = unicodedata.normalize("NFKC", text.replace("\r\n", "\n").replace("\r", ""))
    text = _LINE_END_HYPHEN.sub(r"\1", text)  # "configu-\nration" -> "configuration"
    text = _COMPOUND_BREAK.sub(r"\1", text)  # "Franco-\nGerman" -> "Franco-German"
    text = _SOFT_HYPHENS.sub("", _CONTROL.sub("", text))  # PDFium marks joined hyphens \x02
    return [" ".join(line.split()) for line in text.split("\n")]


def _paragraphs(lines: list[str]) -> list[str]:
    """Lines merged into paragraphs.

    A paragraph ends at a blank line; before a list item (bullet, '1.', 'a)'); after a line
    that ends a sentence while clearly shorter than the page's full lines; and around a
    short line without final punctuation followed by a capital (a heading).
    """
    width = max((len(line) for line in lines), default=0)
    paragraphs: list[str] = []
    current: list[str] = []

    def close() -> None:
        if current:
            paragraphs.append(" ".join(current))
            current.clear()

    for line in lines:
        if not line:
            close()
            continue
        if current:
            previous = current[-1]
            short = len(previous) < 0.7 * width
            heading = (
                len(current) == 1
                and short
                and not _SENTENCE_END.search(previous)
                and line[:1].isupper()
            )
            if _BULLET.match(line) or heading or (short and _SENTENCE_END.search(previous)):
                close()
        current.append(line)
    close()
    return paragraphs


def normalize_pdf_text(pages: list[str]) -> str:
    """Plain text of a PDF's pages as paragraphs separated by blank lines.

    NFKC turns ligature code points into letters (ﬁ, ﬂ -> fi, fl), words hyphenated at a
    line end are joined (a lowercase letter after the break: the hyphen goes; a capital or
    digit: it stays, 'Franco-German', 'ISO-8859'), PDFium's hyphen marks
    (U+0002) and soft hyphens are removed, lines are merged into paragraphs
    (:func:`_paragraphs`), whitespace runs collapsed. Each page starts a paragraph.
    """
    paragraphs: list[str] = []
    for page in pages:
        paragraphs.extend(_paragraphs(_pdf_lines(page)))
    return "\n\n".join(p for p in paragraphs if p)


_PDF_DATE = re.compile(r"^(?:D:)?(\d{4})(\d{2})?(\d{2})?")


def pdf_date(value: str | None) -> str | None:
    """A PDF date ('D:20250208122313Z') as ISO 'YYYY-MM-DD' (or 'YYYY-MM', 'YYYY'); None
    when absent or unreadable."""
    match = _PDF_DATE.match((value or "").strip())
    if not match:
        return None
    return "-".join(part for part in match.groups() if part)


def _pdf_pages(body: bytes) -> tuple[list[str], dict[str, str]]:
    """The text of each page and the document information (Title, Author, ...).

    PDFium first; pypdf when PDFium cannot open the file. Raises ValueError when neither can.
    """
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(body)
    except pdfium.PdfiumError as first:
        try:
            from pypdf import PdfReader

            reader = PdfReader(io.BytesIO(body))
            info = {str(k).lstrip("/"): str(v) for k, v in (reader.metadata or {}).items()}
            return [page.extract_text() or "" for page in reader.pages], info
        except Exception as second:  # pypdf raises many types on broken files
            raise ValueError(f"pdfium: {first}; pypdf: {second}") from None
    try:
        pages = []
        for page in pdf:
            textpage = page.get_textpage()
            pages.append(textpage.get_text_bounded())
            textpage.close()
            page.close()
        return pages, {k: str(v) for k, v in pdf.get_metadata_dict().items()}
    finally:
        pdf.close()


# --------------------------------------------------------------------------- DOCX


def html_markdown(html: str) -> str:
    """An HTML fragment (mammoth's output) as Markdown: the pages' converter.

    Until the extract branch's crawler/markdown.py is merged, html-to-markdown directly
    (the same library, default options).
    """
    import html_to_markdown

    return (html_to_markdown.convert(html).content or "").strip()


_IMG = re.compile(r"<img\b[^>]*>", re.I)
_CORE = {
    "title": "{http://purl.org/dc/elements/1.1/}title",
    "author": "{http://purl.org/dc/elements/1.1/}creator",
    "description": "{http://purl.org/dc/elements/1.1/}description",
    "language": "{http://purl.org/dc/elements/1.1/}language",
    "modified": "{http://purl.org/dc/terms/}modified",
    "published": "{http://purl.org/dc/terms/}created",
}


def _docx(body: bytes) -> tuple[str, dict[str, str]]:
    """Mammoth's HTML of a DOCX and its core properties (docProps/core.xml).

    Raises ValueError for a file that is not a zip, or inflates beyond DOCX_MAX_INFLATED.
    """
    import mammoth

    try:
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            inflated = sum(info.file_size for info in archive.infolist())
            if inflated > DOCX_MAX_INFLATED:
                raise ValueError(f"inflates to {inflated} bytes")
            try:
                core = ElementTree.fromstring(archive.read("docProps/core.xml"))
            except (KeyError, ElementTree.ParseError):
                core = None
    except zipfile.BadZipFile as exc:
        raise ValueError(f"not a DOCX: {exc}") from None
    props: dict[str, str] = {}
    if core is not None:
        for key, tag in _CORE.items():
            element = core.find(tag)
            if element is not None and element.text and element.text.strip():
                props[key] = " ".join(element.text.split())
    # Images are dropped, as on pages: mammoth would inline each one as a data: URI.
    no_images = mammoth.images.img_element(lambda image: {})
    html = mammoth.convert_to_html(io.BytesIO(body), convert_image=no_images).value
    return _IMG.sub("", html), props


# --------------------------------------------------------------------------- documents

_FILE_NAME_TITLE = re.compile(r"\.(?:pdf|docx?)$|^(?:microsoft word|untitled)\b", re.I)
_PLACEHOLDERS = frozenset({"", "anonymous", "unspecified", "unknown", "untitled"})
_MD_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*$", re.M)


def _metadata_title(value: str | None) -> str:
    """A metadata title, unless it is empty or a tool's placeholder ('Microsoft Word -
    x.docx', 'untitled', a file name)."""
    title = " ".join((value or "").split())
    return "" if not title or _FILE_NAME_TITLE.search(title) else title


def _heading_line(text: str) -> str:
    """The first paragraph if it looks like a heading: 3-120 chars, letters, no final
    period; '' otherwise."""
    first = text.split("\n\n", 1)[0].strip()
    if (
        3 <= len(first) <= _HEADING_MAX_CHARS
        and not first.endswith(".")
        and any(ch.isalpha() for ch in first)
    ):
        return first
    return ""


def file_title(url: str) -> str:
    """The file name as a title ('/files/install-guide.pdf' -> 'Install guide')."""
    parts = urlsplit(url)
    path = re.sub(r"\.(?:pdf|docx)$", "", unquote(parts.path), flags=re.I)
    return title_from_url(parts._replace(path=path).geturl())


def extract_document(body: bytes, url: str, kind: str, options: ExtractOptions) -> ExtractedPage:
    """One PDF or DOCX as a page: Markdown/plain text, title, language, metadata.

    ``skip_reason``: 'no_text' (no letters: a scanned PDF), 'thin' (under
    ``options.min_chars``), 'parse_error' (unreadable file; never raises for bad input).
    The title is the document's metadata title, else its first heading(-like line),
    else the file name.
    """
    language = options.forced_language or DEFAULT_LANGUAGE
    page = ExtractedPage(url=url, title=file_title(url), language=language)
    facts: dict[str, Any] = {}
    try:
        if kind == "pdf":
            pages, info = _pdf_pages(body)
            content = normalize_pdf_text(pages)
            title = _metadata_title(info.get("Title")) or _heading_line(content)
            facts = {
                "author": info.get("Author"),
                "description": info.get("Subject"),
                "published": pdf_date(info.get("CreationDate")),
                "modified": pdf_date(info.get("ModDate")),
            }
        elif kind == "docx":
            html, props = _docx(body)
            content = html_markdown(html)
            heading = _MD_HEADING.search(content)
            title = _metadata_title(props.get("title")) or (heading[1] if heading else "")
            facts = {k: props.get(k) for k in ("author", "description", "published", "modified")}
            facts["html_lang"] = props.get("language")
        else:
            raise ValueError(f"unknown document kind {kind!r}")
    except Exception:  # any library's error on a broken file: a reason, not a crash
        page.skip_reason = "parse_error"
        return page
    page.title = title[:300] or page.title
    for key, value in facts.items():
        value = " ".join((value or "").split())[:300]
        setattr(page, key, None if value.lower() in _PLACEHOLDERS else value)
    if not any(ch.isalpha() for ch in content):
        page.skip_reason = "no_text"
        return page
    if not options.forced_language:
        page.language = detect_language(
            content, html_lang=page.html_lang, sample_chars=options.lang_sample_chars
        )
    if len(content) < options.min_chars:
        page.skip_reason = "thin"
        return page
    page.content = content
    page.content_hash = content_fingerprint(content)
    return page
