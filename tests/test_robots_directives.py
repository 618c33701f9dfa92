"""The robots meta / X-Robots-Tag parser (crawler/robots_directives.py), a pure function."""

from __future__ import annotations

import pytest

from crawler.robots_directives import (
    RobotsDirectives,
    bot_token,
    header_directives,
    meta_directives,
    parse_directives,
)

BOTS = ("kbcrawler",)
NOTHING = RobotsDirectives(noindex=False, nofollow=False)
NOINDEX = RobotsDirectives(noindex=True, nofollow=False)
NOFOLLOW = RobotsDirectives(noindex=False, nofollow=True)
BOTH = RobotsDirectives(noindex=True, nofollow=True)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("noindex", NOINDEX),
        ("NoIndex", NOINDEX),
        ("nofollow", NOFOLLOW),
        ("noindex, nofollow", BOTH),
        ("noindex,nofollow", BOTH),
        ("noindex nofollow", BOTH),  # spaces instead of commas, common in the wild
        ("none", BOTH),
        ("all", NOTHING),
        ("index, follow", NOTHING),
        ("", NOTHING),
        (" , ,", NOTHING),
        # a directive's value is not a directive
        ("max-image-preview:none", NOTHING),
        ("max-image-preview: none", NOTHING),
        ("max-snippet:-1, max-image-preview:large, max-video-preview:-1", NOTHING),
        ("unavailable_after: 25 Jun 2010 15:00:00 PST", NOTHING),
        ("noindex, max-image-preview:none", NOINDEX),
        # rules for another crawler are not ours
        ("otherbot: noindex, nofollow", NOTHING),
        ("otherbot:none", NOTHING),
        ("googlebot: noindex", NOTHING),
        # rules for us, whatever the case
        ("kbcrawler: noindex", NOINDEX),
        ("KBCrawler: none", BOTH),
        # a prefix scopes what follows it, up to the next prefix
        ("nofollow, otherbot: noindex", NOFOLLOW),
        ("otherbot: noindex, kbcrawler: nofollow", NOFOLLOW),
        ("kbcrawler: nofollow, otherbot: noindex", NOFOLLOW),
        ("otherbot: noindex, max-snippet: 3, nofollow", NOTHING),
        ("substring-noindex-is-not-a-token", NOTHING),
    ],
)
def test_parse_directives(value: str, expected: RobotsDirectives) -> None:
    assert parse_directives(value, BOTS) == expected


def test_without_a_bot_name_only_unscoped_rules_apply() -> None:
    assert parse_directives("kbcrawler: noindex") == NOTHING
    assert parse_directives("noindex, kbcrawler: nofollow") == NOINDEX


def test_several_headers_combine_most_restrictive() -> None:
    assert header_directives([b"max-image-preview:none", b"otherbot: none"], BOTS) == NOTHING
    assert header_directives([b"nofollow", "kbcrawler: noindex"], BOTS) == BOTH
    assert header_directives([], BOTS) == NOTHING


def test_meta_tags_robots_and_our_name_combine() -> None:
    metas = {
        "robots": ["max-image-preview:none", "nofollow"],
        "kbcrawler": ["noindex"],
        "otherbot": ["none"],
        "googlebot": ["noindex"],
    }
    assert meta_directives(metas, ("robots", "kbcrawler")) == BOTH
    assert meta_directives(metas, ("robots",)) == NOFOLLOW
    assert meta_directives({"otherbot": ["none"]}, ("robots", "kbcrawler")) == NOTHING
    # scoped values inside our own tags use the same rules
    assert meta_directives({"robots": ["otherbot: noindex"]}, ("robots", "kbcrawler")) == NOTHING
    assert meta_directives({"robots": ["kbcrawler: none"]}, ("robots", "kbcrawler")) == BOTH


@pytest.mark.parametrize(
    ("user_agent", "token"),
    [
        ("kbcrawler/0.1 (+https://github.com/kbcrawler/kbcrawler; bot)", "kbcrawler"),
        ("MyDocsBot", "mydocsbot"),
        ("  acme-bot/2 ", "acme-bot"),
        ("", ""),
        ("(compatible)", ""),
    ],
)
def test_bot_token(user_agent: str, token: str) -> None:
    assert bot_token(user_agent) == token
