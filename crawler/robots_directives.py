"""Robots directives of a page (``<meta name="robots">`` and ``X-Robots-Tag``), by the standard.

Pure functions, no Scrapy: the spider reads response headers, the extraction worker reads
``<meta>`` tags, both through :func:`parse_directives`.

The rules (Google's and Bing's robots meta tag / X-Robots-Tag documentation, which every
crawler follows; https://developers.google.com/search/docs/crawling-indexing/robots-meta-tag):

- A value is a comma-separated list of directives, case-insensitive, whitespace ignored:
  ``noindex, nofollow``. Directives may carry a value after a colon
  (``max-snippet: 20``, ``max-image-preview: none``, ``unavailable_after: <date>``): those are
  not user agents, and their value (``none``) is not the ``none`` directive.
- Words separated by spaces instead of commas (``noindex nofollow``, common) are read too.
- ``none`` is ``noindex, nofollow``; ``all`` (and ``index``, ``follow``) restrict nothing.
- A ``<user agent>:`` prefix scopes the directives after it (to the end of the value, or to
  the next prefix) to that crawler: ``otherbot: noindex, nofollow`` is not for us. A crawler
  obeys the unscoped directives and the ones scoped to its own product token.
- Several headers, and several meta tags, combine: the most restrictive wins.
- ``<meta name="robots">`` is for every crawler; ``<meta name="<our token>">`` is for us, with
  the same syntax.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = [
    "RobotsDirectives",
    "bot_token",
    "header_directives",
    "meta_directives",
    "parse_directives",
]

# Directives whose value follows a colon: a token "<name>:" with one of these names is a
# directive, never a user agent.
VALUE_DIRECTIVES = frozenset(
    {"max-snippet", "max-image-preview", "max-video-preview", "unavailable_after"}
)
_SCOPE = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*:\s*(.*)$", re.S)
_TOKEN = re.compile(r"^[A-Za-z0-9_.\-]+")


@dataclass(frozen=True)
class RobotsDirectives:
    """What a page asks of us: ``noindex`` (no document) and ``nofollow`` (no links)."""

    noindex: bool = False
    nofollow: bool = False

    def __or__(self, other: RobotsDirectives) -> RobotsDirectives:
        return RobotsDirectives(self.noindex or other.noindex, self.nofollow or other.nofollow)


def bot_token(user_agent: str) -> str:
    """The product token of a User-Agent, lower-cased: ``"kbcrawler/0.1 (+…)"`` -> ``"kbcrawler"``.

    Returns ``""`` for an empty or token-less user agent.
    """
    match = _TOKEN.match(user_agent.strip())
    return match.group(0).lower() if match else ""


def _directive(token: str) -> RobotsDirectives:
    name = token.strip().lower()
    if name == "none":
        return RobotsDirectives(True, True)
    return RobotsDirectives(name == "noindex", name == "nofollow")


def parse_directives(value: str, bots: Iterable[str] = ()) -> RobotsDirectives:
    """Directives of one header or meta value that apply to a crawler named any of ``bots``.

    ``bots`` are product tokens (case-insensitive). Unscoped directives always apply;
    directives after ``<agent>:`` apply only when ``<agent>`` is one of ``bots``.
    Unknown directives are ignored. Never raises.
    """
    ours = {b.strip().lower() for b in bots if b and b.strip()}
    result = RobotsDirectives()
    applies = True  # unscoped until a user-agent prefix
    for raw in value.split(","):
        token = raw.strip()
        if not token:
            continue
        scoped = _SCOPE.match(token)
        if scoped and scoped.group(1).lower() in VALUE_DIRECTIVES:
            continue  # max-image-preview: none is not "none"
        if scoped:
            applies = scoped.group(1).lower() in ours
            token = scoped.group(2)
        if applies:  # "noindex nofollow" (spaces, not commas) is common: read each word
            for word in token.split():
                result = result | _directive(word)
    return result


def header_directives(values: Iterable[str | bytes], bots: Iterable[str] = ()) -> RobotsDirectives:
    """Every ``X-Robots-Tag`` header value of a response, combined (latin-1 for bytes)."""
    bots = tuple(bots)
    result = RobotsDirectives()
    for value in values:
        text = value.decode("latin-1") if isinstance(value, bytes) else value
        result = result | parse_directives(text, bots)
    return result


def meta_directives(
    metas: Mapping[str, Iterable[str]], names: Iterable[str] = ("robots",)
) -> RobotsDirectives:
    """Every ``<meta name=…>`` addressed to us, combined.

    ``metas`` maps lower-cased meta names to their contents (one entry per tag); ``names``
    are the names we obey: ``"robots"`` (every crawler) and our product token(s). A name
    other than ``"robots"`` is also a bot token for ``<agent>:`` prefixes inside the values.
    """
    names = tuple(n.strip().lower() for n in names if n and n.strip())
    bots = tuple(n for n in names if n != "robots")
    result = RobotsDirectives()
    for name in names:
        for content in metas.get(name, ()):
            result = result | parse_directives(content, bots)
    return result
