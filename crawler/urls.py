"""URL normalization and host rules: pure functions, used before the dupe filter."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Parameters that only track a visit: they create duplicate URLs of one page.
TRACKING_PARAMS = frozenset(
    {
        "gclid", "gclsrc", "dclid", "fbclid", "msclkid", "yclid", "mc_cid", "mc_eid",
        "_ga", "_gl", "igshid", "ref_src", "spm", "sessionid", "session_id",
        "phpsessid", "jsessionid", "sid", "oly_anon_id", "oly_enc_id", "vero_id",
    }
)  # fmt: skip
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_JSESSION_RE = re.compile(r";jsessionid=[^/?#]*", re.IGNORECASE)


def _is_tracking(name: str) -> bool:
    low = name.lower()
    return low in TRACKING_PARAMS or low.startswith(TRACKING_PREFIXES)


def normalize_url(url: str) -> str:
    """Canonical form of ``url`` for dedup and sync state.

    Drops the fragment, tracking parameters and default ports, lower-cases scheme
    and host; keeps the remaining query in its order (order can matter to a site).
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().rstrip(".")
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host if ":" not in host else f"[{host}]"
    if port and _DEFAULT_PORTS.get(scheme) != port:
        netloc = f"{netloc}:{port}"
    path = _JSESSION_RE.sub("", parts.path) or "/"
    query = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k)
    ]
    return urlunsplit((scheme, netloc, path, urlencode(query, doseq=True), ""))


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower().rstrip(".")


def host_allowed(host: str, domains: list[str]) -> bool:
    """True if ``host`` is one of ``domains`` or a subdomain of one (Scrapy's rule)."""
    host = host.lower().rstrip(".")
    return any(host == d or host.endswith("." + d) for d in domains)


def is_private_host(host: str) -> bool:
    """Loopback, private, link-local or otherwise non-public addresses (and localhost).

    Only literal addresses and ``localhost`` are judged: resolving names here would
    block the reactor, and a site that resolves to private space is the operator's call.
    """
    host = host.lower().strip("[]").rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        return False
    return not addr.is_global


def url_in_rules(url: str, allow: list[re.Pattern[str]], deny: list[re.Pattern[str]]) -> bool:
    """The site file's allow/deny regexes (``re.search``, like Scrapy's LinkExtractor)."""
    return url_rule(url, allow, deny)[0]


def url_rule(
    url: str, allow: list[re.Pattern[str]], deny: list[re.Pattern[str]]
) -> tuple[bool, str]:
    """The allow/deny decision of :func:`url_in_rules` with the pattern that made it, in words
    (``kb-explain``): ``(False, "matches deny '/print/'")``, ``(True, "no allow/deny rule
    stops it")``. A deny pattern wins over every allow pattern."""
    for pattern in deny:
        if pattern.search(url):
            return False, f"matches deny '{pattern.pattern}'"
    if not allow:
        return True, "no allow/deny rule stops it"
    for pattern in allow:
        if pattern.search(url):
            return True, f"matches allow '{pattern.pattern}'"
    return False, "matches none of allow (" + ", ".join(f"'{p.pattern}'" for p in allow) + ")"
