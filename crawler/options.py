"""Per-site extraction options, shared by the crawler process and the extraction workers.

A module of its own so the crawler process can build them without importing trafilatura
(only the workers extract).
"""

from __future__ import annotations

from dataclasses import dataclass

from crawler.langcodes import normalize_lang

__all__ = ["ExtractOptions"]


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
