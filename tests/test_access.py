"""Private sections (issue 16, point 3): headers, cookies and basic auth from the environment,
sent to the site's hosts only, never written anywhere nor logged."""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from scrapy import Request, Spider
from scrapy.downloadermiddlewares.redirect import RedirectMiddleware
from scrapy.http import Response
from scrapy.utils.test import get_crawler

from crawler.access import HttpAuth, MissingVariableError, resolve_credentials
from crawler.config import ConfigError, parse_site_config
from crawler.middlewares import SiteCredentialsMiddleware
from crawler.runrecords import read_url_records
from pipelines.redact import RedactingFilter
from tests.crawl_runner import crawl_env, crawl_site, run_scrapy, write_site
from tests.servers.website import (
    PRIVATE_BASIC,
    PRIVATE_COOKIE,
    PRIVATE_HEADER,
    running_website,
    start_website,
)

SITE = "private"
ENV = {
    "DOCS_COOKIE": PRIVATE_COOKIE[1],
    "DOCS_TOKEN": PRIVATE_HEADER[1],
    "DOCS_PASSWORD": PRIVATE_BASIC[1],
}
BASIC_TOKEN = base64.b64encode(":".join(PRIVATE_BASIC).encode()).decode()
SECRETS = (*ENV.values(), BASIC_TOKEN)
CREDENTIAL_KEYS: dict[str, Any] = {
    "headers": {PRIVATE_HEADER[0]: "${DOCS_TOKEN}", "Accept-Language": "en"},
    "cookies": {PRIVATE_COOKIE[0]: "${DOCS_COOKIE}"},
    "http_auth": {"username": PRIVATE_BASIC[0], "password": "${DOCS_PASSWORD}"},
}
PRIVATE_TITLES = {"Members area", "Billing for members", "Staff handbook", "Leave policy for staff"}


# -- the site file ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        (
            "http_auth: {username: u, password: hunter22}\n",
            "http_auth.password: must come from the environment, e.g. password: ${DOCS_PASSWORD}",
        ),
        ("headers: {Cookie: a=b}\n", "headers: Cookie is set by the crawler; use the cookies key"),
        ("cookies: {s: '${BROKEN'}\n", "cookies: s: write an environment variable as ${NAME}"),
        ("headers: {'bad name': x}\n", "headers: 'bad name' is not a valid header name"),
        (
            "headers: {Authorization: '${T}'}\nhttp_auth: {username: u, password: '${P}'}\n",
            "give http_auth or an Authorization header, not both",
        ),
        ("http_auth: {username: u}\n", "http_auth.password: is required"),
    ],
)
def test_credential_mistakes_are_one_line(keys: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_site_config("start_urls: [https://docs.example.com/]\n" + keys, "d.yaml", "d")
    assert message in str(err.value) and "\n" not in str(err.value)
    assert "hunter22" not in str(err.value)


def test_credentials_resolve_from_the_environment() -> None:
    environ = {"TOKEN": "tok-1234", "SESSION": "sess-5678", "PASS": "pw-9999"}
    creds = resolve_credentials(
        {"X-Token": "Bearer ${TOKEN}"},
        {"session": "${SESSION}", "lang": "en"},
        HttpAuth(username="bob", password="${PASS}"),
        environ,
    )
    assert creds is not None
    token = base64.b64encode(b"bob:pw-9999").decode()
    assert creds.headers == {
        "X-Token": "Bearer tok-1234",
        "Cookie": "session=sess-5678; lang=en",
        "Authorization": f"Basic {token}",
    }
    assert set(creds.secrets) == {"tok-1234", "sess-5678", "pw-9999", token}
    assert resolve_credentials({}, {}, None, environ) is None


def test_an_unset_variable_names_the_key_and_variable_only() -> None:
    with pytest.raises(MissingVariableError) as err:
        resolve_credentials({"X-Token": "${TOKEN}"}, {"s": "${SESSION}"}, None, {"TOKEN": "t-1"})
    assert str(err.value) == "cookies.s: environment variable SESSION is not set"


# -- the middleware, with Scrapy's own redirect middleware -------------------------------------


def _middleware() -> tuple[SiteCredentialsMiddleware, RedirectMiddleware]:
    crawler = get_crawler(Spider)
    crawler.spider = Spider(name="x")
    crawler.stats.open_spider()
    middleware = SiteCredentialsMiddleware(crawler)
    middleware.headers = {b"X-Token": b"tok-1234", b"Cookie": b"s=sess-5678"}
    middleware.domains = ["docs.example.com"]
    return middleware, RedirectMiddleware.from_crawler(crawler)


def test_credentials_go_to_the_site_and_never_follow_a_redirect_off_it() -> None:
    middleware, redirect = _middleware()
    request = Request("https://help.docs.example.com/a")  # a subdomain is the site too
    middleware.process_request(request)
    assert request.headers[b"X-Token"] == b"tok-1234"
    assert request.headers[b"Cookie"] == b"s=sess-5678"
    answer = Response(request.url, status=302, headers={"Location": "https://evil.example.org/"})
    away = redirect.process_response(request, answer)
    assert isinstance(away, Request)
    assert away.headers.get(b"X-Token") == b"tok-1234"  # Scrapy alone would send it on
    middleware.process_request(away)
    assert b"X-Token" not in away.headers and b"Cookie" not in away.headers
    # A request going back to the scheduler (redirect, retry) carries nothing to the disk queue.
    middleware.process_request(request)
    middleware.request_scheduled(request)
    assert b"X-Token" not in request.headers and b"Cookie" not in request.headers


def test_redaction_masks_every_site_secret() -> None:
    record = logging.LogRecord("x", logging.DEBUG, __file__, 1, "h=%s c=%s", SECRETS[:2], None)
    for secret in SECRETS:
        RedactingFilter(secret).filter(record)
    assert not any(secret in record.getMessage() for secret in SECRETS)


# -- end to end ---------------------------------------------------------------------------------


def _no_secret_in_files(root: Path) -> None:
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for secret in SECRETS:
                assert secret.encode() not in data, path


def test_private_sections_end_to_end(tmp_path: Path) -> None:
    _, away = start_website(tmp_path / "away", host="127.0.0.2")
    try:
        with running_website(tmp_path / "site", away=away.url) as website:
            keys = {
                "start_urls": [website.url + "/members/cookie/"],
                "allow": ["/members/"],
                "max_depth": 3,
            }
            config = write_site(tmp_path, SITE, **keys, **CREDENTIAL_KEYS)
            env = crawl_env(tmp_path / "run", **ENV)
            result = crawl_site(config, tmp_path / "run", env=env, settings={"LOG_LEVEL": "DEBUG"})
            requests = website.requests()
            website.reset_log()
            (tmp_path / "run2").mkdir()
            closed = write_site(tmp_path / "run2", SITE, **keys)
            without = crawl_site(closed, tmp_path / "run2")
            closed_requests = website.requests()
        away_requests = away.requests()
    finally:
        away.stop()
    assert result.returncode == 0, result.stderr[-3000:]
    docs = result.documents(SITE)
    assert {d["title"] for d in docs} == PRIVATE_TITLES
    assert (
        "Invoices are issued"
        in next(d for d in docs if d["title"] == "Billing for members")["content"]
    )
    # Sent to the site: every request to it (pages, robots.txt) carried all three.
    assert requests
    for entry in requests:
        headers = entry["headers"]
        assert headers.get(PRIVATE_HEADER[0]) == PRIVATE_HEADER[1], entry["path"]
        assert f"{PRIVATE_COOKIE[0]}={PRIVATE_COOKIE[1]}" in headers.get("Cookie", "")
        assert headers.get("Authorization") == f"Basic {BASIC_TOKEN}"
    assert any(e["path"] == "/robots.txt" for e in requests)
    # Never to the other host: the redirect to it is recorded as off-site and not followed
    # (the middleware test above covers a redirect that is followed).
    assert not any(s in json.dumps(away_requests) for s in SECRETS)
    assert not away_requests
    records = [r for p in (tmp_path / "run/state" / SITE / "runs").glob("*.urls.jsonl")
               for r in read_url_records(p)]  # fmt: skip
    away_record = next(r for r in records if r["url"].endswith("/members/away"))
    assert away_record["reason"] == "offsite"
    assert away_record["detail"] == away.url + "/members/landing"
    # Never written or logged, even at DEBUG.
    assert "DEBUG" in result.log
    assert not any(s in result.stderr or s in result.stdout for s in SECRETS)
    _no_secret_in_files(tmp_path / "run")
    # Without the keys the sections are closed (403 and 401), so the first run proves access.
    assert without.returncode != 0 and not without.documents(SITE)
    statuses = {e["path"]: e["status"] for e in closed_requests}
    assert statuses["/members/cookie/"] == 403
    assert all("Cookie" not in e["headers"] for e in closed_requests)


def test_an_unset_variable_stops_the_crawl_before_any_request(tmp_path: Path) -> None:
    with running_website(tmp_path) as website:
        config = write_site(
            tmp_path, SITE, start_urls=[website.url + "/members/cookie/"], **CREDENTIAL_KEYS
        )
        env = crawl_env(tmp_path, **{**ENV, "DOCS_COOKIE": None})
        result = crawl_site(config, tmp_path, env=env)
        requests = website.requests()
    assert result.returncode == 2
    lines = [x for x in result.stderr.splitlines() if x.startswith("kbcrawler:")]
    assert lines == [
        f"kbcrawler: bad site file: {config}: cookies.{PRIVATE_COOKIE[0]}: "
        "environment variable DOCS_COOKIE is not set"
    ]
    assert "Traceback" not in result.stderr and not requests


def test_kb_explain_fetches_a_private_page_with_the_site_credentials(tmp_path: Path) -> None:
    with running_website(tmp_path) as website:
        config = write_site(
            tmp_path, SITE, start_urls=[website.url + "/members/basic/"], **CREDENTIAL_KEYS
        )
        url = website.url + "/members/basic/leave.html"
        result = run_scrapy(
            ["kb-explain", "site", "-a", f"config={config}", url],
            tmp_path,
            env=crawl_env(tmp_path, **ENV),
        )
        requests = website.requests()
    assert result.returncode == 0, result.stderr[-3000:]
    assert "1. Leave policy for staff" in result.stdout
    page = next(e for e in requests if e["path"] == "/members/basic/leave.html")
    assert page["status"] == 200
    assert not any(s in result.stdout + result.stderr for s in SECRETS)
