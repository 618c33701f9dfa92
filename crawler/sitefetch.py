"""Polite one-off fetches for the operator commands (``kb-check --live``, ``kb-explain``).

The crawl's own limits apply: its user agent, ``DOWNLOAD_DELAY`` (or the site file's
``download_delay``) between two requests to one host, ``DOWNLOAD_TIMEOUT``,
``DOWNLOAD_MAXSIZE`` and ``REDIRECT_MAX_TIMES``. Every redirect hop is checked by the
caller's ``hop_allowed`` (the spider's rules), as Scrapy's redirect middleware plus our
host guard do in a crawl. Answers are Scrapy :class:`~scrapy.http.Response` objects, so
the spider's own checks (HTML or not, sitemap parsing, robots.txt) run on them unchanged.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import urljoin

import httpx
from scrapy.http import Headers, Request
from scrapy.responsetypes import responsetypes

from crawler.access import MissingVariableError, resolve_credentials
from crawler.urls import host_allowed, host_of

if TYPE_CHECKING:
    from scrapy.http import Response
    from scrapy.settings import BaseSettings

    from crawler.config import SiteConfig


class FetchError(Exception):
    """The URL could not be fetched; the message is one line (no traceback for the user)."""


class PoliteFetcher:
    """A synchronous fetcher with the crawl's politeness and size limits (see module doc)."""

    def __init__(self, settings: BaseSettings, site: SiteConfig):
        self.user_agent = site.user_agent or settings.get("USER_AGENT")
        self.delay = (
            site.download_delay
            if site.download_delay is not None
            else settings.getfloat("DOWNLOAD_DELAY")
        )
        self.max_size = settings.getint("DOWNLOAD_MAXSIZE")
        self.max_redirects = settings.getint("REDIRECT_MAX_TIMES")
        self.requests = 0
        self._last: dict[str, float] = {}
        # The site file's headers, cookies and basic auth, to its own hosts only (as in a
        # crawl); an unset variable sends none here (the crawl itself refuses to start).
        try:
            credentials = resolve_credentials(site.headers, site.cookies, site.http_auth)
        except MissingVariableError:
            credentials = None
        self._credentials = credentials.headers if credentials is not None else {}
        self._domains = list(site.domains)
        self._http = httpx.Client(
            headers={"User-Agent": self.user_agent, "Accept-Encoding": "gzip, deflate"},
            timeout=settings.getfloat("DOWNLOAD_TIMEOUT"),
            follow_redirects=False,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PoliteFetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def host_delay(self, host: str, seconds: float) -> None:
        """Raise the pause between requests to ``host`` (robots.txt ``Crawl-delay``)."""
        self.delay = max(self.delay, seconds)

    def _wait_turn(self, host: str) -> None:
        last = self._last.get(host)
        if last is not None and self.delay > 0:
            wait = last + self.delay - time.monotonic()
            if wait > 0:
                time.sleep(wait)
        self._last[host] = time.monotonic()

    def get(
        self, url: str, hop_allowed: Callable[[str], str | None] | None = None
    ) -> tuple[Response, list[str]]:
        """GET ``url``; returns (response, redirect chain of URLs before it).

        ``hop_allowed(url)`` returns None when a redirect target may be fetched, else the
        reason it may not (raised as :class:`FetchError`). Raises :class:`FetchError` on
        network errors, a body over ``DOWNLOAD_MAXSIZE`` or too many redirects.
        """
        chain: list[str] = []
        for _ in range(self.max_redirects + 1):
            response = self._get_once(url)
            location = response.headers.get(b"Location")
            if response.status not in (301, 302, 303, 307, 308) or not location:
                return response, chain
            target = urljoin(url, location.decode("latin-1"))
            chain.append(url)
            if hop_allowed is not None:
                why = hop_allowed(target)
                if why:
                    raise FetchError(f"{url} redirects to {target}, which {why}")
            url = target
        raise FetchError(f"more than {self.max_redirects} redirects (REDIRECT_MAX_TIMES)")

    def _get_once(self, url: str) -> Response:
        self._wait_turn(host_of(url))
        self.requests += 1
        try:
            on_site = self._credentials and host_allowed(host_of(url), self._domains)
            with self._http.stream(
                "GET", url, headers=self._credentials if on_site else None
            ) as answer:
                declared = int(answer.headers.get("Content-Length") or 0)
                if self.max_size and declared > self.max_size:
                    raise FetchError(
                        f"{url}: {declared} bytes, over DOWNLOAD_MAXSIZE ({self.max_size})"
                    )
                chunks: list[bytes] = []
                size = 0
                for chunk in answer.iter_bytes():
                    size += len(chunk)
                    if self.max_size and size > self.max_size:
                        raise FetchError(f"{url}: over DOWNLOAD_MAXSIZE ({self.max_size} bytes)")
                    chunks.append(chunk)
                body = b"".join(chunks)
                headers = Headers(
                    [(k, v) for k, v in answer.headers.multi_items() if k.lower() not in _DROP]
                )
                status = answer.status_code
        except httpx.HTTPError as exc:
            raise FetchError(f"{url}: {type(exc).__name__} ({exc})") from None
        cls = responsetypes.from_args(headers=headers, url=url, body=body)
        return cls(url=url, status=status, headers=headers, body=body, request=Request(url))


# httpx already decoded the body: these headers would describe the encoded one.
_DROP = frozenset({"content-encoding", "content-length", "transfer-encoding"})
