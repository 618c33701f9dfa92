"""JavaScript rendering through scrapy-playwright and the system's Chromium (``render_js``).

Only a site with ``render_js: auto`` or ``always`` installs :class:`RenderDownloadHandler`
(spider-priority ``DOWNLOAD_HANDLERS``, see :func:`render_settings`); with ``never`` the
crawl's download path is Scrapy's own, untouched. The handler passes every request without
``meta["playwright"]`` to Scrapy's HTTP handler, so sitemaps, robots.txt and the plain
first fetch of ``auto`` never touch the browser.

The browser is the system's Chromium (``KB_BROWSER_PATH``, Debian's ``chromium``), launched
with Playwright's ``executable_path``: nothing is downloaded, ``playwright install`` is never
run. Memory is bounded: one browser context, ``KB_RENDER_PAGES`` pages at a time, images,
fonts and media never loaded. The handler closes the browser when the downloader closes
(the end of the crawl, also after Ctrl-C or a fatal error).
"""

from __future__ import annotations

import functools
import logging
import os
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from crawler.config import ConfigError
from crawler.runrecords import REFUSALS

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.settings import BaseSettings

    from crawler.config import SiteConfig
    from crawler.extract.result import PageResult

logger = logging.getLogger(__name__)

__all__ = [
    "DOCUMENT_EXTENSIONS",
    "RenderPolicy",
    "check_browser",
    "is_document_url",
    "playwright_version",
    "render_meta",
    "render_prefix",
    "render_settings",
]

#: URL endings of documents: fetched over plain HTTP, never through the browser (which would
#: return a viewer page or a download instead of the file).
DOCUMENT_EXTENSIONS = (".pdf", ".docx", ".doc", ".odt", ".rtf", ".xlsx", ".xls", ".pptx", ".ppt")
#: Resource types the browser never loads while rendering (memory and time, not text).
ABORTED_RESOURCES = frozenset({"image", "font", "media"})
HANDLER = "crawler.render.RenderDownloadHandler"


def is_document_url(url: str) -> bool:
    """True when ``url``'s path ends like a document (:data:`DOCUMENT_EXTENSIONS`)."""
    return urlsplit(url).path.lower().endswith(DOCUMENT_EXTENSIONS)


def render_prefix(url: str) -> str:
    """The path prefix ``auto`` remembers its verdict for: the URL up to the last ``/`` of
    its path (``https://h/app/users/42`` -> ``https://h/app/users/``)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path.rpartition('/')[0]}/"


def abort_request(request: Any) -> bool:
    """``PLAYWRIGHT_ABORT_REQUEST``: True for images, fonts and media (a Playwright request)."""
    return request.resource_type in ABORTED_RESOURCES


def playwright_version() -> str:
    """The installed Playwright package's version, or ``"missing"``."""
    try:
        return package_version("playwright")
    except PackageNotFoundError:
        return "missing"


def check_browser(render_js: str, settings: BaseSettings) -> None:
    """Raises :class:`ConfigError` (one line) when a rendering site cannot render.

    ``render_js`` is the site's key; ``never`` needs nothing. Checked before any request:
    the browser at ``KB_BROWSER_PATH`` must be an executable file, and Playwright installed.
    """
    if render_js == "never":
        return
    path = settings.get("KB_BROWSER_PATH") or ""
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise ConfigError(
            f"render_js: {render_js} needs Chromium at {path or '(empty)'} (KB_BROWSER_PATH); "
            "install the system's package (apt-get install chromium) or set KB_BROWSER_PATH"
        )
    if playwright_version() == "missing":
        raise ConfigError(f"render_js: {render_js} needs the playwright package: pip install -e .")


class PageFailureTracebackFilter(logging.Filter):
    """Drops the traceback from scrapy-playwright's "Closing page due to failed request" line:
    the line names the error already, and the page is recorded as ``render_failed``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and str(record.msg).startswith("Closing page due to failed request"):
            record.exc_info = None
            record.exc_text = None
        return True


def render_settings(settings: BaseSettings) -> dict[str, Any]:
    """The Scrapy settings that install the rendering handler, from the ``KB_*`` settings.

    Returns ``{name: value}`` to set with spider priority: the handler for http and https,
    the browser's launch options (``KB_BROWSER_PATH``, headless), one context of
    ``KB_RENDER_PAGES`` pages, ``KB_RENDER_TIMEOUT`` seconds per navigation, the aborted
    resource types. Also quiets scrapy-playwright's tracebacks of failed pages.
    """
    handler_logger = logging.getLogger("scrapy-playwright")
    if not any(isinstance(f, PageFailureTracebackFilter) for f in handler_logger.filters):
        handler_logger.addFilter(PageFailureTracebackFilter())
    timeout_ms = settings.getfloat("KB_RENDER_TIMEOUT") * 1000
    return {
        "DOWNLOAD_HANDLERS": {
            **settings.getdict("DOWNLOAD_HANDLERS"),
            "http": HANDLER,
            "https": HANDLER,
        },
        "PLAYWRIGHT_BROWSER_TYPE": "chromium",
        "PLAYWRIGHT_LAUNCH_OPTIONS": {
            "executable_path": settings.get("KB_BROWSER_PATH"),
            "headless": True,
            "timeout": timeout_ms,
        },
        "PLAYWRIGHT_MAX_CONTEXTS": 1,
        "PLAYWRIGHT_MAX_PAGES_PER_CONTEXT": settings.getint("KB_RENDER_PAGES"),
        "PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT": timeout_ms,
        "PLAYWRIGHT_ABORT_REQUEST": "crawler.render.abort_request",
    }


def render_meta(wait_for: str | None, timeout: float) -> dict[str, Any]:
    """Request meta that renders a page: wait for ``wait_for`` (a CSS selector) or, without
    one, for the network to be idle; ``timeout`` in seconds for each."""
    from scrapy_playwright.page import PageMethod

    timeout_ms = timeout * 1000
    meta: dict[str, Any] = {
        "playwright": True,
        "playwright_page_goto_kwargs": {
            "wait_until": "load" if wait_for else "networkidle",
            "timeout": timeout_ms,
        },
    }
    if wait_for:
        meta["playwright_page_methods"] = [
            PageMethod("wait_for_selector", wait_for, state="attached", timeout=timeout_ms)
        ]
    return meta


class RenderPolicy:
    """Which page requests of a site go through the browser, per its ``render_js``.

    ``never``: none (every method is then a no-op). ``always``: every page but documents.
    ``auto``: a page fetched over plain HTTP whose text is too short and whose HTML is an
    application shell (:mod:`crawler.appshell`, run in the extraction worker) is fetched again
    through the browser; the verdict holds for its path prefix (:func:`render_prefix`) for
    the rest of the run, until a rendered page there still has too little text.
    Stats: ``render/pages``, ``render/auto/<reason>``, ``render/failed``, versions.
    """

    def __init__(self, site: SiteConfig, timeout: float, crawler: Crawler):
        self.mode = site.render_js
        self.wait_for = site.wait_for
        self.timeout = timeout  # seconds
        self.crawler = crawler
        # auto's verdicts: prefix -> True (render straight away) / False (rendering gave no
        # more text there).
        self.prefixes: dict[str, bool] = {}

    def open(self) -> None:
        """At the crawl's start: record Playwright's version (the browser's comes at launch)."""
        if self.mode != "never":
            self.crawler.stats.set_value("render/playwright", playwright_version())

    def request_meta(self, url: str, reason: str | None = None) -> dict[str, Any]:
        """Meta for a page request of ``url``: empty for plain HTTP, else :func:`render_meta`
        plus ``kb_render`` (why: ``always``, ``prefix`` or an app-shell reason). ``reason``
        forces rendering; without it the mode and auto's verdicts decide."""
        if reason is None:
            if self.mode == "never" or is_document_url(url):
                return {}
            if self.mode == "always":
                reason = "always"
            elif self.prefixes.get(render_prefix(url)):
                reason = "prefix"
            else:
                return {}
        return {**render_meta(self.wait_for, self.timeout), "kb_render": reason}

    def rendered(self, response: Response) -> str | None:
        """Why ``response`` was rendered (counted in ``render/pages``), or None."""
        reason = response.meta.get("kb_render")
        if reason:
            self.crawler.stats.inc_value("render/pages")
            if reason == "prefix":
                self.crawler.stats.inc_value("render/auto/prefix")
        return reason

    def checks_shell(self, rendered: str | None) -> bool:
        """Whether the extraction worker checks a thin page for an application shell."""
        return self.mode == "auto" and not rendered

    def after_extraction(self, url: str, result: PageResult, rendered: str | None) -> str | None:
        """``auto``: the reason to render ``url`` now (its extraction ``result``), or None."""
        if self.mode != "auto":
            return None
        thin = result.page.skip_reason in ("thin", "empty")
        prefix = render_prefix(url)
        if rendered:
            if thin:  # rendering did not help here: back to plain HTTP
                self.prefixes[prefix] = False
            return None
        reason = result.app_shell
        if not thin or not reason or self.prefixes.get(prefix) is False:
            return None
        self.prefixes[prefix] = True
        self.crawler.stats.inc_value(f"render/auto/{reason}")
        logger.debug("Rendering %s: its static HTML is an application shell (%s)", url, reason)
        return reason

    def failure_reason(
        self, request: Any, exc: BaseException, reason: str, detail: str | None
    ) -> tuple[str, str | None]:
        """(reason, detail) of a failed page request without an HTTP status: ``render_failed``
        and ``Type: first line of the error`` when the browser rendered it, else unchanged."""
        if not request.meta.get("kb_render") or reason in REFUSALS:
            return reason, detail
        self.crawler.stats.inc_value("render/failed")
        lines = str(exc).strip().splitlines()
        return "render_failed", f"{type(exc).__name__}: {lines[0] if lines else ''}"[:300]


@functools.cache
def _handler_class() -> type:
    from scrapy_playwright.handler import ScrapyPlaywrightDownloadHandler

    class RenderDownloadHandler(ScrapyPlaywrightDownloadHandler):
        """scrapy-playwright's handler, recording the launched browser's version
        (stat ``render/browser``)."""

        # The one place the launched browser is at hand (scrapy-playwright has no signal).
        async def _maybe_launch_browser(self) -> None:
            await super()._maybe_launch_browser()
            if self.stats.get_value("render/browser") is None and hasattr(self, "browser"):
                version = f"{self.config.browser_type_name} {self.browser.version}"
                self.stats.set_value("render/browser", version)
                logger.info("Rendering with %s (Playwright %s)", version, playwright_version())

    return RenderDownloadHandler


def __getattr__(name: str) -> Any:
    # Imported lazily: a crawl that never renders never imports Playwright.
    if name == "RenderDownloadHandler":
        return _handler_class()
    raise AttributeError(name)
