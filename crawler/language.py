"""Language identification for extracted page text.

Runs inside process-pool workers, so the expensive part (loading langdetect's ~55 language
profiles) happens once per process at import time, and detection is made deterministic
with ``DetectorFactory.seed = 0`` (langdetect is randomised by default, which would make the
same page flip language between crawls and churn the knowledge base).

The result is always an ISO 639-1 code because ``metadata.language`` in the knowledge base is
typed that way. When neither the text nor ``<html lang>`` gives an answer we return ``"en"``
(``DEFAULT_LANGUAGE``) instead of ``"und"``: "und" is not an ISO 639-1 code, and the crawled
sites are overwhelmingly English, so "en" is the least wrong default for search/stemming.
"""

from __future__ import annotations

import json
import os
from array import array

from langdetect import DetectorFactory
from langdetect import detector_factory as _detector_factory
from langdetect.lang_detect_exception import ErrorCode, LangDetectException

from crawler.langcodes import DEFAULT_LANGUAGE, ISO_639_1, normalize_lang

__all__ = ["DEFAULT_LANGUAGE", "ISO_639_1", "detect_language", "normalize_lang"]

MIN_CONFIDENCE = 0.6
"""Below this top probability a valid ``<html lang>`` is trusted more than langdetect."""


def _load_profiles() -> DetectorFactory:
    """langdetect's factory with its profiles, each n-gram's probabilities in an ``array('f')``.

    Same files, same order (``os.listdir``, as ``DetectorFactory.load_profile``), same values
    as langdetect's own loader, but stored as 32-bit floats: langdetect keeps each of the
    ~88,000 n-grams as a list of 55 Python floats in every extraction worker; the arrays
    take far less memory (``Detector`` only indexes them; docs/benchmarks.md). On 244 page
    samples in eight languages (Python and PostgreSQL docs, tests.perf's site, the article
    fixtures) the detected language is the same for every one and no probability moves by
    0.001.
    Raises ``LangDetectException`` when the profiles are missing or malformed, as langdetect.
    """
    factory = DetectorFactory()
    directory = _detector_factory.PROFILES_DIRECTORY
    names = [
        n
        for n in os.listdir(directory)
        if not n.startswith(".") and os.path.isfile(os.path.join(directory, n))
    ]
    if not names:
        raise LangDetectException(ErrorCode.NeedLoadProfileError, f"Not found profile: {directory}")
    langsize = len(os.listdir(directory))  # langdetect sizes the vectors on every entry
    zeros = array("f", [0.0]) * langsize
    table: dict[str, array[float]] = {}
    for index, name in enumerate(names):
        try:
            with open(os.path.join(directory, name), encoding="utf-8") as fh:
                data = json.load(fh)
            freq: dict[str, int] = data["freq"]
            n_words: list[int] = data["n_words"]
            lang = data["name"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise LangDetectException(
                ErrorCode.FormatError, f"Profile format error in {name!r}"
            ) from exc
        factory.langlist.append(lang)
        for word, count in freq.items():
            probs = table.get(word)
            if probs is None:
                probs = table[word] = zeros[:]
            if 1 <= len(word) <= 3:
                probs[index] = 1.0 * count / n_words[len(word) - 1]
    factory.word_lang_prob_map = table
    return factory


# Deterministic results across runs and processes; must be set before detectors are created.
DetectorFactory.seed = 0
_detector_factory._factory = _load_profiles()  # once per process (import-time warm-up)
_FACTORY: DetectorFactory = _detector_factory._factory

_FIRST_PASS_CHARS = 1000
_FIRST_PASS_CONFIDENCE = 0.95
_SAMPLE_WINDOWS = 3


def _map_langdetect_code(code: str) -> str:
    """langdetect emits 'zh-cn'/'zh-tw' for Chinese; everything else is already 2 letters."""
    return code[:2].lower()


def _snap_start(text: str, pos: int, limit: int = 40) -> int:
    """Move a window start forward to the next whitespace so we do not cut a word in half."""
    if pos <= 0:
        return 0
    end = min(len(text), pos + limit)
    for i in range(pos, end):
        if text[i].isspace():
            return i + 1
    return pos


def _sample(text: str, sample_chars: int) -> str:
    """Bounded sample from the start, middle and end of the text.

    langdetect's cost grows with input and pages often start with a non-representative
    intro (English product names, a code block), so several spread windows are both cheaper
    and more robust than one long prefix.
    """
    if sample_chars <= 0 or len(text) <= sample_chars:
        return text
    width = sample_chars // _SAMPLE_WINDOWS
    if width <= 0:
        return text[:sample_chars]
    last = len(text) - width
    parts = []
    for k in range(_SAMPLE_WINDOWS):
        start = _snap_start(text, (last * k) // (_SAMPLE_WINDOWS - 1))
        parts.append(text[start : start + width])
    return "\n".join(parts)


def _langdetect(sample: str) -> tuple[str, float] | None:
    """Top (language, probability) from langdetect, or None if it cannot decide."""
    try:
        detector = _FACTORY.create()
        detector.append(sample)
        probabilities = detector.get_probabilities()
    except LangDetectException:
        return None
    if not probabilities:
        return None
    best = probabilities[0]
    return _map_langdetect_code(best.lang), float(best.prob)


def detect_language(
    text: str,
    *,
    html_lang: str | None = None,
    sample_chars: int,
    min_chars: int = 40,
) -> str:
    """ISO 639-1 language of ``text``; falls back to ``html_lang``, then to ``DEFAULT_LANGUAGE``.

    Declared languages are frequently wrong (templates hard-code ``lang="en"``), so the text
    wins when langdetect is confident; the declaration wins for short or ambiguous text.
    ``sample_chars`` (required: ``KB_LANG_SAMPLE_CHARS``, through ``ExtractOptions``) bounds
    the characters langdetect reads; text shorter than ``min_chars`` is not detected.
    """
    declared = normalize_lang(html_lang)
    fallback = declared or DEFAULT_LANGUAGE
    stripped = text.strip() if text else ""
    if len(stripped) < min_chars or not any(ch.isalpha() for ch in stripped):
        return fallback
    result = None
    if sample_chars > _FIRST_PASS_CHARS and len(stripped) > _FIRST_PASS_CHARS:
        # Cheap first pass: langdetect's cost is linear in the input's length, and
        # a confident answer on 1000 spread chars rarely changes with 3000.
        result = _langdetect(_sample(stripped, _FIRST_PASS_CHARS))
        if result is not None and result[1] < _FIRST_PASS_CONFIDENCE:
            result = None
    if result is None:
        result = _langdetect(_sample(stripped, sample_chars))
    if result is None:
        return fallback
    code, probability = result
    if declared and probability < MIN_CONFIDENCE:
        return declared
    return code if code in ISO_639_1 else fallback
