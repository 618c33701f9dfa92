"""URL normalization and host rules (pure functions)."""

from __future__ import annotations

import re

import pytest

from crawler.urls import host_allowed, is_private_host, normalize_url, url_in_rules, url_rule


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTP://Example.COM:80/a?b=1#frag", "http://example.com/a?b=1"),
        ("https://example.com:443", "https://example.com/"),
        ("https://example.com:8443/x", "https://example.com:8443/x"),
        ("https://e.com/p?utm_source=x&utm_medium=y&id=7", "https://e.com/p?id=7"),
        ("https://e.com/p?gclid=1&fbclid=2&msclkid=3", "https://e.com/p"),
        ("https://e.com/p;jsessionid=ABC?x=1", "https://e.com/p?x=1"),
        ("https://e.com/p?b=2&a=1", "https://e.com/p?b=2&a=1"),  # order kept
        ("https://e.com/p?q=", "https://e.com/p?q="),
    ],
)
def test_normalize_url(url: str, expected: str) -> None:
    assert normalize_url(url) == expected
    assert normalize_url(expected) == expected  # idempotent


def test_hosts() -> None:
    assert host_allowed("docs.example.com", ["example.com"])
    assert host_allowed("example.com", ["example.com"])
    assert not host_allowed("badexample.com", ["example.com"])
    for host in [
        "127.0.0.1",
        "10.1.2.3",
        "192.168.0.9",
        "localhost",
        "::1",
        "169.254.1.1",
        "[::1]",
    ]:
        assert is_private_host(host), host
    assert not is_private_host("example.com") and not is_private_host("8.8.8.8")


def test_allow_deny() -> None:
    allow, deny = [re.compile("/docs/")], [re.compile(r"\?print=")]
    assert url_in_rules("https://e.com/docs/a", allow, deny)
    assert not url_in_rules("https://e.com/docs/a?print=1", allow, deny)
    assert not url_in_rules("https://e.com/blog/", allow, deny)
    assert url_in_rules("https://e.com/blog/", [], deny)


def test_allow_deny_in_words_is_the_same_decision() -> None:
    """kb-explain's words come from the rule the crawl applies, not from a copy of it."""
    allow, deny = [re.compile("/docs/"), re.compile("/help/")], [re.compile(r"\?print=")]
    assert url_rule("https://e.com/docs/a?print=1", allow, deny) == (
        False, "matches deny '\\?print='",
    )  # fmt: skip
    assert url_rule("https://e.com/help/a", allow, deny) == (True, "matches allow '/help/'")
    assert url_rule("https://e.com/blog/", allow, deny) == (
        False, "matches none of allow ('/docs/', '/help/')",
    )  # fmt: skip
    assert url_rule("https://e.com/blog/", [], deny) == (True, "no allow/deny rule stops it")
    for url in ("https://e.com/docs/a", "https://e.com/docs/a?print=1", "https://e.com/x"):
        assert url_rule(url, allow, deny)[0] == url_in_rules(url, allow, deny)
