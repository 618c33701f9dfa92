"""Per-site extraction options, shared by the crawler process and the extraction workers.

A module of its own so the crawler process can build them without importing trafilatura
(only the workers extract).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from crawler.langcodes import normalize_lang
from crawler.robots_directives import bot_token

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings

    from crawler.config import SiteConfig

__all__ = ["ExtractOptions", "site_options"]


@dataclass(frozen=True)
class ExtractOptions:
    """Per-site extraction settings; frozen, so hashable (extractor cache key) and picklable."""

    include_tables: bool = True
    include_links: bool = False
    include_images: bool = False
    include_comments: bool = False
    favor_precision: bool = True
    """False means trafilatura's balanced default (which escalates to recall on short output)."""
    # The crawl always passes the effective values (the site's min_chars, KB_LANG_SAMPLE_CHARS).
    # These serve direct callers (tests, warm-up) and equal settings/__init__.py's defaults
    # (tests/test_settings.py checks): reading them from there here would import Scrapy into
    # every spawned extraction worker.
    min_chars: int = 200
    lang_sample_chars: int = 3000
    forced_language: str | None = None
    fast: bool = True
    """Run trafilatura's fast path first; full cascade only below ``FULL_CASCADE_BELOW_CHARS``."""
    robots_meta_names: tuple[str, ...] = ("robots",)
    """``<meta name=...>`` values obeyed for noindex/nofollow (add e.g. our bot's token)."""
    # The site file's selectors and title suffix (crawler/siteselectors.py), validated there.
    content_selector: str | None = None
    exclude_selectors: tuple[str, ...] = ()
    title_suffix: str | None = None

    def __post_init__(self) -> None:
        """Normalise the forced language once, so a typo fails at config time, not per page."""
        if self.forced_language is not None:
            code = normalize_lang(self.forced_language)
            if code is None:
                raise ValueError(
                    f"forced_language is not an ISO 639-1 code: {self.forced_language!r}"
                )
            object.__setattr__(self, "forced_language", code)
        raw = self.robots_meta_names
        raw = (raw,) if isinstance(raw, str) else raw
        names = tuple(name.strip().lower() for name in raw if name.strip())
        object.__setattr__(self, "robots_meta_names", names)

    @property
    def bots(self) -> tuple[str, ...]:
        """Our product tokens: the ``robots_meta_names`` other than ``robots``, for
        ``X-Robots-Tag: <token>: noindex`` (:func:`crawler.robots_directives.header_directives`)."""
        return tuple(name for name in self.robots_meta_names if name != "robots")


def site_options(site: SiteConfig, settings: BaseSettings) -> ExtractOptions:
    """A site's extraction options, built by one rule for the crawl and ``kb-explain`` (so
    they never disagree): the site file's ``min_chars``, language and selectors,
    ``KB_LANG_SAMPLE_CHARS``, and the robots names we obey: ``robots`` and our product token,
    from ``ROBOTSTXT_USER_AGENT``, else the site's ``user_agent``, else ``USER_AGENT``.
    """
    user_agent = (
        settings.get("ROBOTSTXT_USER_AGENT") or site.user_agent or settings.get("USER_AGENT")
    )
    token = bot_token(user_agent or "")
    return ExtractOptions(
        robots_meta_names=("robots", token) if token else ("robots",),
        min_chars=site.min_chars,
        lang_sample_chars=settings.getint("KB_LANG_SAMPLE_CHARS"),
        forced_language=site.forced_language,
        content_selector=site.content_selector,
        exclude_selectors=tuple(site.exclude_selectors),
        title_suffix=site.title_suffix,
    )
