"""Language codes: ISO 639-1 validation and normalisation of sloppy ``lang`` tags.

The codes come from the maintained ``langcodes`` library (the IANA language subtag registry
and CLDR's replacements: ``iw`` → ``he``, ``deu``/``ger`` → ``de``, ``cmn`` → ``zh``); its
language-name data (``language_data``) is not needed. Kept apart from
:mod:`crawler.language` (which loads langdetect's profiles, tens of MB) so the crawler process can
validate site files and options without loading them: only the extraction workers need
langdetect.
"""

from __future__ import annotations

import re
from itertools import product
from string import ascii_lowercase

from langcodes import Language, tag_is_valid

__all__ = ["DEFAULT_LANGUAGE", "ISO_639_1", "normalize_lang"]

DEFAULT_LANGUAGE = "en"
"""Last-resort code when nothing can be detected (see :mod:`crawler.language` for why not
'und')."""


def _iso_639_1() -> frozenset[str]:
    """Every two-letter language subtag of the registry that is not replaced by another
    two-letter code: the deprecated ``in``, ``iw``, ``ji``, ``jw``, ``mo``, ``sh`` are out;
    ``tl`` (which CLDR prefers as ``fil``) and the collection ``bh`` stay, as in ISO 639-1."""
    codes = set()
    for first, second in product(ascii_lowercase, repeat=2):
        code = first + second
        if tag_is_valid(code):
            replacement = Language.get(code).language or ""
            if replacement == code or len(replacement) != 2:
                codes.add(code)
    return frozenset(codes)


ISO_639_1: frozenset[str] = _iso_639_1()
"""All ISO 639-1 codes (184), to reject junk such as ``lang="xx"`` or ``lang="{{ locale }}"``."""

_LANG_SPLIT = re.compile(r"[-_.@;,\s]")
_ISO_639 = re.compile(r"[a-z]{2,3}")  # 639-1, -2/B, -2/T, -3: bounds langcodes' parse cache


def normalize_lang(code: str | None) -> str | None:
    """Reduce a BCP 47-ish tag ('en-US', 'pt_BR', 'zh-Hans', 'eng', 'ger', 'iw') to ISO 639-1,
    else None.

    Used for ``<html lang>`` values, which are often sloppy; anything we cannot map to a real
    ISO 639-1 code is ignored rather than propagated into metadata. A three-letter code maps
    to its two-letter equivalent, an individual language to its macrolanguage's code
    (``cmn`` → ``zh``), by ``langcodes``; one without an ISO 639-1 code (``fil``, ``yue``) is
    None.
    """
    if not code or not isinstance(code, str):
        return None
    primary = _LANG_SPLIT.split(code.strip(), maxsplit=1)[0].lower()
    if primary in ISO_639_1:
        return primary
    if not _ISO_639.fullmatch(primary):  # langcodes caches every tag it parses
        return None
    try:
        language = Language.get(primary).prefer_macrolanguage().language
    except ValueError:  # langcodes' LanguageTagError
        return None
    return language if language in ISO_639_1 else None
