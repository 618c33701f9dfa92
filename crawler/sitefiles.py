"""robots.txt and sitemap bytes as real servers send them: BOMs, UTF-16, CR/CRLF, whitespace.

Scrapy reads robots.txt as UTF-8 (a UTF-16 file becomes "allow everything"), and its
``sitemap_urls_from_robots`` splits on ``\\n`` only and misses a ``Sitemap:`` line that
follows a BOM. These pure functions decode the bytes once, the same way for the rules
(:class:`RobotsTxtParser`, our ``ROBOTSTXT_PARSER``) and for the sitemap lines.
"""

from __future__ import annotations

import codecs
import re
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

from protego import Protego
from scrapy.robotstxt import ProtegoRobotParser
from scrapy.utils.gz import gzip_magic_number

from crawler.scrapy_compat import DecompressedTooLarge, gunzip_within

if TYPE_CHECKING:
    from collections.abc import Iterator

    from scrapy import Spider
    from scrapy.http import Response

__all__ = [
    "DecompressedTooLarge",
    "RobotsTxtParser",
    "decode_text",
    "llms_txt_urls",
    "markdown_links",
    "robots_sitemap_urls",
    "sitemap_body",
    "sitemap_xml",
]

# Longest BOMs first: the UTF-32 LE BOM starts with the UTF-16 LE one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)


def _encoding_of(body: bytes) -> tuple[str, int]:
    """(codec, BOM length): from a BOM, else UTF-16 guessed from NUL bytes, else UTF-8."""
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return codec, len(bom)
    head = body[:200]
    if len(head) >= 4 and head.count(b"\x00") * 3 >= len(head):  # UTF-16 without a BOM
        return ("utf-16-le" if head[1:2] == b"\x00" else "utf-16-be"), 0
    return "utf-8", 0


def decode_text(body: bytes) -> str:
    """Text of a robots.txt (or any small text file): BOM and encoding honoured.

    UTF-8 unless a BOM or NUL pattern says UTF-16/32; bytes that are not valid in that
    encoding are read as Latin-1 (robots rules are ASCII: never drop the whole file).
    A leading U+FEFF is removed. Never raises.
    """
    codec, skip = _encoding_of(body)
    try:
        text = body[skip:].decode(codec)
    except UnicodeDecodeError:
        text = body[skip:].decode("latin-1")
    return text.lstrip("\ufeff")


def robots_sitemap_urls(body: bytes, base_url: str) -> Iterator[str]:
    """Absolute URLs of the ``Sitemap:`` lines of a robots.txt, in order.

    Any line ending (LF, CRLF, CR), any case, whitespace around the key and value, a BOM
    before the first line, and a ``#`` comment after the URL are all allowed.
    """
    for line in decode_text(body).splitlines():
        key, sep, value = line.strip().partition(":")
        if not sep or key.strip().lower() != "sitemap":
            continue
        url = value.split(" #", 1)[0].strip()
        if url:
            yield urljoin(base_url, url)


def sitemap_xml(body: bytes) -> bytes:
    """A sitemap's XML as UTF-8 bytes starting at its first ``<``.

    A UTF-16/32 document is transcoded (its XML declaration dropped, so lxml does not read
    the old encoding name); a UTF-8 BOM and leading whitespace are removed.
    """
    codec, skip = _encoding_of(body)
    if codec != "utf-8":
        text = body[skip:].decode(codec, errors="replace")
        return _XML_DECL.sub("", text, count=1).lstrip().encode("utf-8")
    return body[skip:].lstrip()


def sitemap_body(response: Response, max_size: int) -> bytes | None:
    """The XML of a sitemap response, for ``scrapy.utils.sitemap.Sitemap``; None when it is
    not a sitemap (no ``<urlset>``/``<sitemapindex>`` near its start, or unreadable gzip).

    A gzip body (by its magic number, as Scrapy's ``SitemapSpider``) is inflated up to
    ``max_size`` bytes (DOWNLOAD_MAXSIZE; 0: no limit), else :class:`DecompressedTooLarge`
    is raised; then :func:`sitemap_xml`. Whatever the URL or Content-Type: servers send
    sitemaps as text/plain or text/html, at URLs without ``.xml``.
    """
    body: bytes | None = response.body
    if gzip_magic_number(response):
        body = gunzip_within(response.body, max_size)
        if body is None:
            return None
    body = sitemap_xml(body)  # BOM, UTF-16, leading whitespace
    head = body[:2048].lower()
    return body if b"<urlset" in head or b"<sitemapindex" in head else None


# [text](url), [text](<url>), [text](url "title"); the text may hold brackets one level deep.
_MD_LINK = re.compile(
    r"\[(?:[^\[\]\n]|\[[^\[\]\n]*\])*\]"  # [text]
    r"\(\s*<?([^()\s<>]+)>?(?:\s+\"[^\"]*\")?\s*\)"  # (url "title")
)


def llms_txt_urls(entry_urls: list[str]) -> list[str]:
    """``/llms.txt`` of each site root among ``entry_urls`` (llmstxt.org), once per origin."""
    roots = []
    for url in entry_urls:
        parts = urlsplit(url)
        roots.append(f"{parts.scheme}://{parts.netloc}/llms.txt")
    return list(dict.fromkeys(roots))


def markdown_links(text: str, base_url: str, limit: int) -> list[str]:
    """Absolute http(s) URLs of the Markdown links of ``text`` (an llms.txt), first ``limit``
    distinct ones, fragments dropped, in order."""
    found: dict[str, None] = {}
    for match in _MD_LINK.finditer(text):
        url = urljoin(base_url, match.group(1)).split("#", 1)[0]
        if url.startswith(("http://", "https://")):
            found[url] = None
            if len(found) >= limit:
                break
    return list(found)


class RobotsTxtParser(ProtegoRobotParser):
    """Scrapy's Protego parser reading the bytes with :func:`decode_text` (ROBOTSTXT_PARSER)."""

    def __init__(self, robotstxt_body: bytes, spider: Spider | None):
        self.spider = spider
        self.body = robotstxt_body  # the spider reads its Sitemap lines (robots_parsed)
        self.rp = Protego.parse(decode_text(robotstxt_body))
