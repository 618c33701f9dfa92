"""Private sections: a site's request headers, cookies and HTTP basic auth (issue 16).

Values in a site file may reference environment variables (``${DOCS_COOKIE}``), so the
secrets never sit in the YAML; they are resolved when the crawl starts
(:func:`resolve_credentials`), kept in the downloader middleware only
(:class:`crawler.middlewares.SiteCredentialsMiddleware`), and masked in every log line.
The basic-auth password must come from the environment.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, field_validator

__all__ = [
    "HttpAuth",
    "MissingVariableError",
    "SiteCredentials",
    "check_request_values",
    "env_references",
    "resolve_credentials",
]

ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # RFC 9110 token
_COOKIE_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_SET_ELSEWHERE = {"cookie": "cookies", "host": None, "content-length": None}


def env_references(value: str) -> list[str]:
    """Names of the environment variables ``value`` references (``${NAME}``), in order."""
    return ENV_REF.findall(value)


def _check_template(value: str) -> None:
    rest = ENV_REF.sub("", value)
    if "${" in rest:
        raise ValueError("write an environment variable as ${NAME} (letters, digits, _)")
    if any(ch in rest for ch in "\r\n\x00"):
        raise ValueError("a value must be one line")


def check_request_values(key: str, values: dict[str, str]) -> dict[str, str]:
    """Validate ``headers`` or ``cookies`` (names, one-line values, ``${NAME}`` syntax).

    Raises ``ValueError`` (one line, never the value itself) for the site-file model.
    """
    for name, value in values.items():
        pattern = _HEADER_NAME if key == "headers" else _COOKIE_NAME
        if not pattern.match(name):
            raise ValueError(f"{name!r} is not a valid {key[:-1]} name")
        if key == "headers" and name.lower() in _SET_ELSEWHERE:
            other = _SET_ELSEWHERE[name.lower()]
            raise ValueError(
                f"{name} is set by the crawler" + (f"; use the {other} key" if other else "")
            )
        if key == "cookies" and any(ch in ENV_REF.sub("", value) for ch in ";,"):
            raise ValueError(f"{name}: a cookie value cannot hold ';' or ','")
        try:
            _check_template(value)
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from None
    return values


class HttpAuth(BaseModel):
    """``http_auth: {username: ..., password: ${VAR}}``: HTTP basic auth for the site's hosts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    username: str
    password: str

    @field_validator("username", "password")
    @classmethod
    def _template(cls, value: str) -> str:
        _check_template(value)
        return value

    @field_validator("password")
    @classmethod
    def _from_environment(cls, value: str) -> str:
        if not env_references(value):
            raise ValueError("must come from the environment, e.g. password: ${DOCS_PASSWORD}")
        return value


@dataclass(frozen=True)
class SiteCredentials:
    """What a site's requests carry: ``headers`` (name -> resolved value, Cookie and
    Authorization included) and ``secrets`` (every value resolved from the environment,
    and the basic-auth token: what log lines must never show)."""

    headers: dict[str, str]
    secrets: tuple[str, ...]


class MissingVariableError(ValueError):
    """A site file references an environment variable that is not set."""


def _resolve(value: str, where: str, environ: Mapping[str, str], secrets: list[str]) -> str:
    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        resolved = environ.get(name)
        if resolved is None or resolved == "":
            raise MissingVariableError(f"{where}: environment variable {name} is not set")
        secrets.append(resolved)
        return resolved

    return ENV_REF.sub(one, value)


def resolve_credentials(
    headers: Mapping[str, str],
    cookies: Mapping[str, str],
    http_auth: HttpAuth | None,
    environ: Mapping[str, str] | None = None,
) -> SiteCredentials | None:
    """The site's request headers with ``${NAME}`` resolved; None when it sets none.

    ``cookies`` become one ``Cookie`` header (``a=1; b=2``), ``http_auth`` an
    ``Authorization: Basic`` header. Raises :class:`MissingVariableError` (one line naming the
    key and the variable, never a value) when a referenced variable is unset or empty.
    """
    if not headers and not cookies and http_auth is None:
        return None
    env = os.environ if environ is None else environ
    secrets: list[str] = []
    out = {name: _resolve(v, f"headers.{name}", env, secrets) for name, v in headers.items()}
    if cookies:
        pairs = [f"{n}={_resolve(v, f'cookies.{n}', env, secrets)}" for n, v in cookies.items()]
        out["Cookie"] = "; ".join(pairs)
    if http_auth is not None:
        user = _resolve(http_auth.username, "http_auth.username", env, secrets)
        password = _resolve(http_auth.password, "http_auth.password", env, secrets)
        token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        secrets.append(token)
        out["Authorization"] = f"Basic {token}"
    return SiteCredentials(out, tuple(dict.fromkeys(s for s in secrets if s)))
