"""What the operator commands (``kb-check``, ``kb-explain``, ``kb-search``, ``kb-query``) share:
finding a site's spider and the absolute state and outbox folders.

They run without a crawler process (no reactor, no Scrapy logging set-up) and print to
stdout; a user mistake is one line on stderr and exit status 2.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError
from scrapy.utils.misc import load_object

from crawler.config import ConfigError, SettingError
from crawler.exitstatus import (
    EXIT_CONFIG,
    EXIT_FAILED,
    EXIT_KB_REFUSED,
    EXIT_OK,
    EXIT_UNDELIVERED,
)
from crawler.paths import resolve_path
from crawler.settings_check import check_kb_settings

if TYPE_CHECKING:
    import argparse
    from collections.abc import Awaitable, Callable

    from scrapy.settings import BaseSettings

    from crawler.config import SiteConfig
    from crawler.spiders.site import SiteSpider
    from pipelines.client import KBClient, Source

EXIT_USAGE = EXIT_CONFIG  # a bad site name, option or site file: as `scrapy crawl`


class UnknownSite(ConfigError):
    """No spider of that name (no ``settings/sites/<name>.yaml``)."""


def config_error_line(exc: ConfigError) -> str:
    """The one line a command prints for a bad or unknown site (as ``scrapy crawl`` does)."""
    if isinstance(exc, UnknownSite):
        return f"kbcrawler: {exc}"
    if isinstance(exc, SettingError):
        return f"kbcrawler: bad setting: {exc}"
    return f"kbcrawler: bad site file: {exc}"


class SiteCommand(ScrapyCommand):
    """An operator command about one site: no crawler process, ``--json`` and ``-a`` options."""

    requires_project = True
    requires_crawler_process = False

    def add_site_options(self, parser: argparse.ArgumentParser, title: str) -> Any:
        """The shared options; returns the argument group for the command's own."""
        super().add_options(parser)
        group = parser.add_argument_group(title=title)
        group.add_argument("--json", action="store_true", help="print the result as JSON")
        group.add_argument(
            "-a", dest="spargs", action="append", default=[], metavar="NAME=VALUE",
            help="spider argument, e.g. -a config=PATH with the 'site' spider",
        )  # fmt: skip
        return group

    @staticmethod
    def config_arg(opts: argparse.Namespace) -> str | None:
        """The ``-a config=PATH`` value, if given."""
        return dict(a.partition("=")[::2] for a in opts.spargs).get("config")


def site_spider(settings: BaseSettings, name: str, config: str | None = None) -> SiteSpider:
    """The spider ``scrapy crawl <name>`` would run (its rules, no crawler attached).

    ``name`` is a site (``settings/sites/<name>.yaml``), or ``site`` with ``config`` a path.
    Its site has the effective values of the keys a setting backs (the run's ``settings``,
    as in the crawl). Raises :class:`ConfigError` (one line) for an unknown site, a bad site
    file or a bad setting (:class:`crawler.config.SettingError`).
    """
    loader = load_object(settings["SPIDER_LOADER_CLASS"]).from_settings(settings.frozencopy())
    if name not in loader.list():
        raise UnknownSite(
            f"no site named {name!r} (`scrapy list` shows the sites; or use: site -a config=PATH)"
        )
    spidercls = loader.load(name)
    spider = spidercls(config=config)
    spider.site = spider.site.with_settings(settings)  # as the crawl's from_crawler does
    if spider.full_sync is None:
        spider.full_sync = settings.getbool("KB_FULL_SYNC")
    return spider


def state_dir(settings: BaseSettings) -> Path:
    """``KB_STATE_DIR`` as an absolute path (see :mod:`crawler.paths`)."""
    return resolve_path(settings.get("KB_STATE_DIR"))


def outbox_dir(settings: BaseSettings) -> Path:
    """``KB_OUTBOX`` as an absolute path (see :mod:`crawler.paths`)."""
    return resolve_path(settings.get("KB_OUTBOX"))


# -- kb-search / kb-query ----------------------------------------------------------------------


def kb_client(settings: BaseSettings, site: SiteConfig) -> KBClient:
    """A :class:`pipelines.client.KBClient` for ``site``; :class:`ConfigError` without a token
    (``KB_API_TOKEN``, from the environment only) or a chat model id."""
    from pipelines.client import KBClient, client_options
    from pipelines.kb import TOKEN_ENV

    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise ConfigError(
            f"{TOKEN_ENV} is not set: searching asks the knowledge base itself "
            f"(export {TOKEN_ENV}=...)"
        )
    model = site.chat_model_id or settings.get("KB_CHAT_MODEL_ID")
    if not model:
        raise ConfigError(
            "no chat model id: set chat_model_id in the site file or KB_CHAT_MODEL_ID"
        )
    return KBClient(settings.get("KB_API_URL"), token, model, **client_options(settings))


def urls_of_documents(state: Path, site: str, ids: list[str]) -> dict[str, str]:
    """{document id: page URL} from the sync state (the API's answers may carry no URL)."""
    path = state / site / "state.sqlite"
    wanted = [i for i in ids if i]
    if not path.exists() or not wanted:
        return {}
    found: dict[str, str] = {}
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        for doc_id in wanted:
            row = db.execute(
                "SELECT url FROM pages WHERE doc_ids LIKE ? LIMIT 1", (f'%"{doc_id}"%',)
            ).fetchone()
            if row:
                found[doc_id] = row[0]
    finally:
        db.close()
    return found


def source_lines(sources: list[Source], urls: dict[str, str]) -> list[str]:
    """``  1. 0.92  Title`` then the URL (from the answer, else the sync state) and the id."""
    lines = []
    for i, source in enumerate(sources, 1):
        relevance = f"{source.relevance:.2f}" if source.relevance is not None else "  ? "
        lines.append(f"  {i}. {relevance}  {source.title or '(no title)'}")
        url = source.url or urls.get(source.id or "")
        lines.append(
            f"           {url or '(URL unknown)'}" + (f"  [{source.id}]" if source.id else "")
        )
    return lines


def source_rows(sources: list[Source], urls: dict[str, str]) -> list[dict[str, Any]]:
    """The sources as JSON objects: ``{"id", "title", "relevance", "url"}``."""
    return [
        {
            "id": s.id,
            "title": s.title,
            "relevance": s.relevance,
            "url": s.url or urls.get(s.id or ""),
        }
        for s in sources
    ]


class KnowledgeBaseCommand(SiteCommand):
    """``scrapy <name> <site> "<text>"``: one call to a site's knowledge base, printed with
    its sources (relevance, title, URL from the answer or else the sync state, id).

    A subclass names itself and its text (``name``, ``noun``) and gives :meth:`ask` and
    :meth:`head`. Exit status: 0, 2 for a usage mistake (one line), 3 when the knowledge
    base refused (token, model, quota), 6 when it is unavailable, 1 for another answer.
    """

    name = ""  # the command, e.g. "kb-search"
    noun = ""  # what its second argument is, e.g. "query"

    def syntax(self) -> str:
        return f'[options] <site> "{self.noun}"'

    async def ask(
        self, client: KBClient, text: str, opts: argparse.Namespace
    ) -> tuple[str | None, list[Source]]:
        """The knowledge base's answer to ``text`` (None when it gives only documents) and
        the documents it found or used."""
        raise NotImplementedError

    def head(self, site: str, text: str, answer: str | None, sources: list[Source]) -> list[str]:
        """The lines printed before the sources (without ``--json``)."""
        raise NotImplementedError

    def check_options(self, opts: argparse.Namespace) -> None:
        """Raises :class:`UsageError` for a bad option value."""

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) != 2 or not args[1].strip():
            raise UsageError(
                f'give a site and a {self.noun}: scrapy {self.name} <site> "{self.noun}"'
            )
        self.check_options(opts)
        name, text = args
        assert self.settings is not None
        settings = self.settings

        async def call(client: KBClient, site: SiteConfig) -> list[str]:
            answer, sources = await self.ask(client, text, opts)
            urls = urls_of_documents(state_dir(settings), site.name, [s.id or "" for s in sources])
            if opts.json:
                rows = source_rows(sources, urls)
                data = rows if answer is None else {"answer": answer, "sources": rows}
                return [json.dumps(data, indent=2, ensure_ascii=False)]
            return self.head(site.name, text, answer, sources) + source_lines(sources, urls)

        self.exitcode = run_kb_call(settings, name, self.config_arg(opts), call)


def run_kb_call(
    settings: BaseSettings,
    name: str,
    config: str | None,
    call: Callable[[KBClient, SiteConfig], Awaitable[list[str]]],
) -> int:
    """Run ``call(client, site) -> lines`` on a site's knowledge base, print the lines; the
    exit status (see :class:`KnowledgeBaseCommand`)."""
    from pipelines.client import KBError, KBFatal, KBUnavailable

    problems, warnings = check_kb_settings(settings)  # as crawl and kb-check do
    for warning in warnings:
        print(f"kbcrawler: warning: {warning}", file=sys.stderr)
    try:
        if problems:
            raise SettingError("; ".join(problems))
        spider = site_spider(settings, name, config)
    except ConfigError as exc:  # unknown site, bad site file, bad setting: as every command
        print(config_error_line(exc), file=sys.stderr)
        return EXIT_USAGE
    try:
        client = kb_client(settings, spider.site)
    except ConfigError as exc:  # no token, no chat model id
        print(f"kbcrawler: {exc}", file=sys.stderr)
        return EXIT_USAGE

    async def go() -> list[str]:
        try:
            return await call(client, spider.site)
        finally:
            await client.aclose()

    try:
        lines = asyncio.run(go())
    except KBFatal as exc:
        print(f"kbcrawler: the knowledge base refused ({exc.code}): {exc.hint}", file=sys.stderr)
        return EXIT_KB_REFUSED
    except KBUnavailable as exc:
        print(f"kbcrawler: the knowledge base is unavailable ({exc.code}: {exc.message})",
              file=sys.stderr)  # fmt: skip
        return EXIT_UNDELIVERED  # as `scrapy crawl` when the knowledge base is unavailable
    except KBError as exc:
        print(f"kbcrawler: the knowledge base answered {exc.code}: {exc.message}", file=sys.stderr)
        return EXIT_KB_REFUSED if exc.status in (401, 402, 403, 404) else EXIT_FAILED
    print("\n".join(lines))
    return EXIT_OK
