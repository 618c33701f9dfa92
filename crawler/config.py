"""Site files: the typed, validated model of ``settings/sites/<name>.yaml``.

A bad site file must stop the crawl before any request with one line that names
the file, the key and what is wrong; :class:`ConfigError` carries that line.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from crawler.access import HttpAuth, check_request_values
from crawler.langcodes import ISO_639_1
from crawler.settings_check import BOUNDS, check_value, kb_defaults
from crawler.siteselectors import compile_selector, compile_title_suffix

SITES_PACKAGE = "settings"
SITES_FOLDER = "sites"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

Scalar = str | int | float | bool | None


#: Site-file keys whose default is a ``KB_*`` setting (settings/__init__.py, the one place
#: defaults live). A key in the site file wins: the file speaks for its one site. A key left
#: out takes the setting: the project's default, scrapyd's, or the run's ``-s``.
#: :meth:`SiteConfig.with_settings` is where the effective value is decided.
SETTING_OF_KEY: dict[str, str] = {
    "max_depth": "KB_MAX_DEPTH",
    "max_pages": "KB_MAX_PAGES",
    "max_document_chars": "KB_MAX_DOCUMENT_CHARS",
    "min_chars": "KB_MIN_CHARS",
}


class ConfigError(Exception):
    """A site file is unusable; the message is one line meant for the user."""


class SettingError(ConfigError):
    """A ``KB_*`` setting a site key falls back on is unusable (one line, ``KB_X=v: expected``)."""


def _at_least(setting: str) -> Any:
    """The lower bound of a site key: its setting's (:data:`crawler.settings_check.BOUNDS`)."""
    return Field(ge=BOUNDS.get(setting, (0, None))[0])


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{url!r} is not an absolute http(s) URL")
    return url


def _check_regex(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"invalid regex {pattern!r}: {exc}") from None
    return pattern


class SiteConfig(BaseModel):
    """One site, as its YAML file describes it (keys follow Scrapy's vocabulary)."""

    model_config = ConfigDict(extra="forbid", strict=False, frozen=True)

    name: Annotated[str, Field(pattern=_NAME_RE.pattern)]
    chat_model_id: str | None = None
    start_urls: list[str] = []
    sitemap_urls: list[str] = []
    allowed_domains: list[str] = []
    follow_links: bool = True
    allow: list[str] = []
    deny: list[str] = []
    # None: not in the site file; with_settings() gives the setting (SETTING_OF_KEY).
    max_depth: Annotated[int, _at_least("KB_MAX_DEPTH")] | None = None
    max_pages: Annotated[int, _at_least("KB_MAX_PAGES")] | None = None
    max_document_chars: Annotated[int, _at_least("KB_MAX_DOCUMENT_CHARS")] | None = None
    min_chars: Annotated[int, _at_least("KB_MIN_CHARS")] | None = None
    metadata: dict[str, Scalar] = {}
    language: str = "auto"
    download_delay: Annotated[float, Field(ge=0)] | None = None
    user_agent: str | None = None
    # -- issue 16: private sections, selectors and titles, llms.txt (crawler/access.py) --
    headers: dict[str, str] = {}
    cookies: dict[str, str] = {}
    http_auth: HttpAuth | None = None
    content_selector: str | None = None
    exclude_selectors: list[str] = []
    title_suffix: str | None = None
    seed_llms_txt: bool = False
    # JavaScript rendering (crawler/render.py, crawler/appshell.py)
    render_js: Literal["never", "auto", "always"] = "never"
    wait_for: str | None = None
    # Linked documents (README "Linked documents (PDF, DOCX)"): kinds extracted, size cap.
    documents: list[Literal["pdf", "docx"]] = []
    max_document_bytes: Annotated[int, Field(ge=1024)] = 20 * 1024 * 1024

    @field_validator("documents", mode="before")
    @classmethod
    def _document_kinds(cls, value: Any) -> Any:
        """'pdf' or ['PDF', 'docx'] -> ['pdf', 'docx']."""
        value = [value] if isinstance(value, str) else value
        if not isinstance(value, list):
            return value  # pydantic says "must be a list"
        return [v.strip().lower() if isinstance(v, str) else v for v in value]

    @field_validator(
        "start_urls",
        "sitemap_urls",
        "allowed_domains",
        "allow",
        "deny",
        "exclude_selectors",
        mode="before",
    )
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        """A single URL, domain or regex where a list is expected is a list of one."""
        return [value] if isinstance(value, str) else value

    @field_validator("start_urls", "sitemap_urls")
    @classmethod
    def _urls(cls, value: list[str]) -> list[str]:
        return [_check_url(u) for u in value]

    @field_validator("allow", "deny")
    @classmethod
    def _regexes(cls, value: list[str]) -> list[str]:
        return [_check_regex(p) for p in value]

    @field_validator("allowed_domains")
    @classmethod
    def _domains(cls, value: list[str]) -> list[str]:
        out = []
        for domain in value:
            host = domain.strip().lower()
            if not host or "/" in host or " " in host:
                raise ValueError(f"{domain!r} is not a host name (no scheme, no path)")
            out.append(host)
        return out

    @field_validator("language")
    @classmethod
    def _language(cls, value: str) -> str:
        value = value.strip().lower()
        if value != "auto" and value not in ISO_639_1:
            raise ValueError(f"{value!r} is neither 'auto' nor an ISO 639-1 code such as 'en'")
        return value

    @field_validator("headers", "cookies")
    @classmethod
    def _request_values(cls, value: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        return check_request_values(info.field_name or "", value)

    @field_validator("content_selector", "exclude_selectors", "wait_for")
    @classmethod
    def _selectors(cls, value: Any) -> Any:
        for css in [value] if isinstance(value, str) else value or ():
            compile_selector(css)
        return value

    @field_validator("title_suffix")
    @classmethod
    def _title_suffix(cls, value: str | None) -> str | None:
        if value is not None:
            compile_title_suffix(value)
        return value

    @model_validator(mode="after")
    def _has_entry_points(self) -> SiteConfig:
        if not self.start_urls and not self.sitemap_urls:
            raise ValueError("give start_urls or sitemap_urls (or both)")
        if self.http_auth is not None and "authorization" in {k.lower() for k in self.headers}:
            raise ValueError("give http_auth or an Authorization header, not both")
        if self.wait_for and self.render_js == "never":
            raise ValueError("wait_for: only used with render_js: auto or always")
        return self

    # -- effective values -------------------------------------------------------
    def with_settings(self, settings: Mapping[str, Any] | None) -> SiteConfig:
        """This site with each key of :data:`SETTING_OF_KEY` it leaves out set from its setting.

        ``settings`` is the run's (Scrapy ``Settings``: project, scrapyd, ``-s``); a setting
        missing there, or ``settings=None``, is the project's default (settings/__init__.py).
        Keys the site file gives are kept: the site file wins. Idempotent. The spider
        (``from_crawler``) and the operator commands (``crawler.sitecommands.site_spider``)
        call it before anything reads those keys. Raises :class:`SettingError` (one line) for
        a setting outside its bounds.
        """
        defaults = kb_defaults()
        update: dict[str, int] = {}
        for key, name in SETTING_OF_KEY.items():
            if getattr(self, key) is not None:
                continue
            value = settings.get(name) if settings is not None else None
            value = defaults[name] if value is None else value
            problem = check_value(name, value, defaults[name])
            if problem:
                raise SettingError(problem)
            update[key] = int(str(value).strip())
        return self.model_copy(update=update) if update else self

    # -- derived values ---------------------------------------------------------
    @property
    def domains(self) -> list[str]:
        """Hosts the crawl may visit: ``allowed_domains`` or the entry points' hosts."""
        if self.allowed_domains:
            return list(self.allowed_domains)
        hosts = {urlsplit(u).hostname or "" for u in [*self.start_urls, *self.sitemap_urls]}
        return sorted(h for h in hosts if h)

    @property
    def forced_language(self) -> str | None:
        return None if self.language == "auto" else self.language

    def document_signature(self) -> dict[str, Any]:
        """What shapes the documents: changing any of it must re-send every page."""
        signature: dict[str, Any] = {
            "max_document_chars": self.max_document_chars,
            "metadata": dict(sorted(self.metadata.items())),
            "language": self.language,
            "min_chars": self.min_chars,
        }
        # Only when set: a site file without them keeps its signature (no re-send on upgrade).
        extraction = {
            "content_selector": self.content_selector,
            "exclude_selectors": self.exclude_selectors,
            "title_suffix": self.title_suffix,
        }
        signature.update((key, value) for key, value in extraction.items() if value)
        if self.render_js != "never":  # absent by default: existing sites keep their signature
            signature["render"] = [self.render_js, self.wait_for]
        return signature


_PLAIN: dict[str, str] = {
    "int_parsing": "must be a whole number",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "string_type": "must be text",
    "list_type": "must be a list (or a single value)",
    "dict_type": "must be a mapping of keys to values",
    "missing": "is required",
}
_UNION_MEMBERS = {"str", "int", "float", "bool", "none"}


def _shown(value: Any) -> str:
    if isinstance(value, dict | list):
        return "a mapping" if isinstance(value, dict) else "a list"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _plain(err: Any) -> str:
    """One pydantic error in plain words (no validator jargon)."""
    kind = str(err["type"])
    ctx = err.get("ctx") or {}
    if kind == "extra_forbidden":
        close = difflib.get_close_matches(str(err["loc"][-1]), list(SiteConfig.model_fields), n=1)
        return "unknown key" + (f" (did you mean {close[0]}?)" if close else "")
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        words = {
            "greater_than_equal": "at least", "greater_than": "more than",
            "less_than_equal": "at most", "less_than": "less than",
        }  # fmt: skip
        bound = next(iter(ctx.values()), "?")
        return f"must be {words[kind]} {bound} (got {_shown(err.get('input'))})"
    if kind == "string_pattern_mismatch":
        return "may only hold letters, digits, '.', '_' and '-', and not start with '.', '_' or '-'"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')} (got {_shown(err.get('input'))})"
    if kind in _PLAIN:
        got = f" (got {_shown(err['input'])})" if kind != "missing" else ""
        return _PLAIN[kind] + got
    return str(err["msg"]).removeprefix("Value error, ")


def _describe(exc: ValidationError) -> str:
    """Every problem of a site file, plainly, in one line: ``key: problem; key: problem``."""
    problems: dict[str, str] = {}
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        if loc and loc[-1] in _UNION_MEMBERS and loc[0] == "metadata":
            # A metadata value failed every member of the scalar union: say it once.
            key = ".".join(loc[:-1])
            problems[key] = "must be a single value (text, number, true/false or empty), " + (
                f"not {_shown(err.get('input'))}"
            )
            continue
        key = ".".join(loc)
        problems.setdefault(key, _plain(err))
    return "; ".join(f"{key}: {msg}" if key else msg for key, msg in problems.items())


def parse_site_config(text: str, source: str, default_name: str) -> SiteConfig:
    """Validate YAML ``text``; ``source`` names the file in error messages."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = " ".join(str(getattr(exc, "problem", "") or "").split())
        context = " ".join(str(getattr(exc, "context", "") or "").split())
        started = getattr(exc, "context_mark", None)
        if context and started is not None:
            context += f" started at line {started.line + 1}, column {started.column + 1}"
        what = ": " + ", ".join(filter(None, [problem, context])) if problem or context else ""
        raise ConfigError(f"{source}: not valid YAML{where}{what}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: must be a mapping of keys (name, start_urls, ...)")
    data.setdefault("name", default_name)
    try:
        return SiteConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {_describe(exc)}") from None


def load_site_file(path: str | Path) -> SiteConfig:
    """Load a site file from anywhere on disk (``-a config=PATH``)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read site file ({exc.strerror})") from None
    return parse_site_config(text, str(path), path.stem)


def packaged_site_files() -> dict[str, str]:
    """Site files shipped in ``settings/sites`` as {stem: resource name}.

    Read through importlib.resources so it works from a zipped scrapyd egg too.
    """
    try:
        folder = resources.files(SITES_PACKAGE) / SITES_FOLDER
        entries = list(folder.iterdir())
    except (ModuleNotFoundError, FileNotFoundError, NotADirectoryError):
        return {}
    found: dict[str, str] = {}
    for entry in entries:
        name = entry.name
        if name.endswith((".yaml", ".yml")) and not name.startswith((".", "_")):
            found[name.rsplit(".", 1)[0]] = name
    return dict(sorted(found.items()))


def load_packaged_site(stem: str) -> SiteConfig:
    """Load ``settings/sites/<stem>.yaml`` from the installed package."""
    files = packaged_site_files()
    if stem not in files:
        raise ConfigError(f"no site file settings/sites/{stem}.yaml")
    resource = resources.files(SITES_PACKAGE) / SITES_FOLDER / files[stem]
    text = resource.read_text(encoding="utf-8")
    return parse_site_config(text, f"settings/sites/{files[stem]}", stem)
