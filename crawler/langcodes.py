"""Language codes: ISO 639-1 validation and normalisation of sloppy ``lang`` tags.

Kept apart from :mod:`crawler.language` (which loads langdetect's profiles, ~60 MB) so the
crawler process can validate site files and options without loading them: only the
extraction workers need langdetect.
"""

from __future__ import annotations

import re

__all__ = ["DEFAULT_LANGUAGE", "ISO_639_1", "normalize_lang"]

DEFAULT_LANGUAGE = "en"
"""Last-resort code when nothing can be detected (see module docstring for why not 'und')."""

_ISO_639_1_CODES = """
    aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv
    cy da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr
    ht hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw
    ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv
    ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr
    ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi
    yo za zh zu
"""
ISO_639_1: frozenset[str] = frozenset(re.findall(r"[a-z]{2}", _ISO_639_1_CODES))
"""All ISO 639-1 codes, to reject junk such as ``lang="xx"`` or ``lang="{{ locale }}"``."""

# Deprecated ISO 639-1 codes still seen in the wild, and common ISO 639-2/3 spellings.
_ALIASES: dict[str, str] = {
    "iw": "he",
    "in": "id",
    "ji": "yi",
    "jw": "jv",
    "mo": "ro",
    "eng": "en",
    "fra": "fr",
    "fre": "fr",
    "deu": "de",
    "ger": "de",
    "spa": "es",
    "ita": "it",
    "por": "pt",
    "nld": "nl",
    "dut": "nl",
    "zho": "zh",
    "chi": "zh",
    "cmn": "zh",
    "yue": "zh",
    "jpn": "ja",
    "kor": "ko",
    "rus": "ru",
    "pol": "pl",
    "swe": "sv",
    "dan": "da",
    "nor": "no",
    "nob": "nb",
    "nno": "nn",
    "fin": "fi",
    "tur": "tr",
    "ukr": "uk",
    "ces": "cs",
    "cze": "cs",
    "ara": "ar",
    "heb": "he",
    "hin": "hi",
}

_LANG_SPLIT = re.compile(r"[-_.@;,\s]")


def normalize_lang(code: str | None) -> str | None:
    """Reduce a BCP 47-ish tag ('en-US', 'pt_BR', 'zh-Hans', 'eng') to ISO 639-1, else None.

    Used for ``<html lang>`` values, which are often sloppy; anything we cannot map to a real
    ISO 639-1 code is ignored rather than propagated into metadata.
    """
    if not code or not isinstance(code, str):
        return None
    primary = _LANG_SPLIT.split(code.strip(), maxsplit=1)[0].lower()
    primary = _ALIASES.get(primary, primary)
    return primary if primary in ISO_639_1 else None
