"""``scrapy kb-schedule``: ask a scrapyd server to run sites, once each, never twice at once.

Meant for a systemd timer or a cron line next to scrapyd::

    scrapy kb-schedule --scrapyd http://127.0.0.1:6800 --all
    scrapy kb-schedule --scrapyd http://127.0.0.1:6800 --site books -a full=1

The sites are the spiders of the project *as deployed* (``listspiders.json``: one per
site file in the egg's ``settings/sites/``; the generic ``site`` spider only when named
with ``--site site -a config=...``), so the checkout this command runs from may differ
from what scrapyd runs. A site whose previous job is still pending or running is skipped.
One line per site on stdout; errors are one line on stderr and a non-zero exit status.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import urllib.parse
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError

from crawler.exitstatus import EXIT_CONFIG, EXIT_FAILED, EXIT_OK

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Iterator

DEFAULT_SCRAPYD = "http://127.0.0.1:6800"
DEFAULT_PROJECT = "kbcrawler"
GENERIC_SPIDER = "site"
# schedule.json parameters that are not spider arguments.
RESERVED_ARGS = frozenset({"project", "spider", "setting", "jobid", "priority", "_version", "_job"})
TIMEOUT = 120  # seconds; the first listspiders.json after a deploy runs `scrapy list` in the egg
MISSING_CLIENT = (
    "kb-schedule needs scrapyd-client: pip install 'kbcrawler[scrapyd]' (or pip install "
    "scrapyd-client)"
)

EXIT_SCRAPYD = EXIT_FAILED  # scrapyd unreachable or refused a call
EXIT_USAGE = EXIT_CONFIG  # unknown site, bad option, scrapyd-client not installed


class ScrapydError(Exception):
    """scrapyd could not be reached or answered with an error; the message is one line."""


class ClientMissing(Exception):
    """scrapyd-client (the optional extra ``[scrapyd]``) is not installed."""


class Scrapyd:
    """The calls of scrapyd's JSON API we need, through scrapyd-client's ``ScrapydClient``.

    ``url`` may carry ``user:password@`` (else ``SCRAPYD_USERNAME``/``SCRAPYD_PASSWORD``);
    :attr:`base` is the URL without them, for messages. Each call gives up after ``timeout``
    seconds (ScrapydClient has no timeout of its own). Errors: :class:`UsageError` for a URL
    that is not http(s), :class:`ClientMissing`, :class:`ScrapydError` from the calls.
    """

    def __init__(self, url: str, timeout: int = TIMEOUT):
        parts = urllib.parse.urlsplit(url if "://" in url else f"http://{url}")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UsageError(f"--scrapyd: {url!r} is not an http(s) URL", print_help=False)
        user = urllib.parse.unquote(parts.username or "") or os.environ.get("SCRAPYD_USERNAME", "")
        password = urllib.parse.unquote(parts.password or "") or os.environ.get(
            "SCRAPYD_PASSWORD", ""
        )
        netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
        if ":" in parts.hostname:  # IPv6 literal
            netloc = f"[{parts.hostname}]" + (f":{parts.port}" if parts.port else "")
        self.base = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
        self.timeout = timeout
        if parts.hostname in ("127.0.0.1", "::1", "localhost"):
            # A local scrapyd is never reached through $http_proxy (requests reads no_proxy).
            hosts = [os.environ.get("no_proxy") or os.environ.get("NO_PROXY"), parts.hostname]
            os.environ["no_proxy"] = ",".join(h for h in hosts if h)
        try:
            from scrapyd_client import ScrapydClient  # the optional extra '[scrapyd]'
        except ImportError:
            raise ClientMissing(MISSING_CLIENT) from None
        self.client = ScrapydClient(self.base, username=user or None, password=password)

    def call(self, endpoint: str, method: Callable[..., Any], *args: Any) -> Any:
        """``method(*args)`` (a ScrapydClient call of ``endpoint``), its errors as one line."""
        from requests import RequestException
        from scrapyd_client.exceptions import ErrorResponse, MalformedResponse

        try:
            with _deadline(self.timeout, f"scrapyd at {self.base}: no answer to {endpoint}"):
                return method(*args)
        except ErrorResponse as exc:
            raise ScrapydError(f"scrapyd at {self.base}: {endpoint}: {_line(exc)}") from None
        except MalformedResponse as exc:  # an error page (401, proxy, wrong URL): not JSON
            raise ScrapydError(
                f"scrapyd at {self.base}: {endpoint} did not answer JSON: {_line(exc)[:100]}"
            ) from None
        except RequestException as exc:
            reason = re.search(r"\[Errno -?\d+\][^'\")]*", str(exc))
            reason = reason.group(0).strip() if reason else type(exc).__name__
            raise ScrapydError(f"cannot reach scrapyd at {self.base} ({reason})") from None
        except (KeyError, TypeError, RuntimeError) as exc:  # JSON without the expected keys
            raise ScrapydError(f"scrapyd at {self.base}: {endpoint}: unexpected answer") from exc

    def spiders(self, project: str) -> list[str]:
        return list(self.call("listspiders.json", self.client.spiders, project))

    def busy(self, project: str) -> dict[str, tuple[str, str]]:
        """{spider: (state, job id)} for jobs still pending or running."""
        jobs = self.call("listjobs.json", self.client.jobs, project)
        busy: dict[str, tuple[str, str]] = {}
        for state in ("running", "pending"):
            for job in jobs.get(state) or []:
                busy.setdefault(job.get("spider", ""), (state, job.get("id", "?")))
        return busy

    def schedule(self, project: str, spider: str, args: dict[str, str], settings: list[str]) -> str:
        params = [("setting", s) for s in settings] + list(args.items())
        return str(self.call("schedule.json", self.client.schedule, project, spider, params))


@contextmanager
def _deadline(seconds: int, message: str) -> Iterator[None]:
    """Raise :class:`ScrapydError` (``message``) when the block lasts over ``seconds``
    (SIGALRM: this command is a process of its own, its main thread does the calls)."""

    def expired(signum: int, frame: Any) -> None:
        raise ScrapydError(f"{message} within {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _line(exc: Exception) -> str:
    return " ".join(str(exc).split())[:300]


def _pairs(values: list[str], option: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in values:
        key, sep, val = value.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"{option} expects NAME=VALUE, got {value!r}", print_help=False)
        out[key.strip()] = val
    return out


class Command(ScrapyCommand):
    requires_project = True
    requires_crawler_process = False  # no crawl here: no reactor, no logging set-up

    def syntax(self) -> str:
        return "--scrapyd URL (--all | --site NAME [--site NAME ...]) [options]"

    def short_desc(self) -> str:
        return "Schedule sites on a scrapyd server, skipping those still pending or running"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        group = parser.add_argument_group(title="kb-schedule options")
        group.add_argument(
            "--scrapyd",
            metavar="URL",
            default=os.environ.get("SCRAPYD_URL") or DEFAULT_SCRAPYD,
            help=f"scrapyd's base URL (default: $SCRAPYD_URL or {DEFAULT_SCRAPYD}); "
            "credentials as http://user:pass@host:port or SCRAPYD_USERNAME/SCRAPYD_PASSWORD",
        )
        group.add_argument(
            "--project",
            default=DEFAULT_PROJECT,
            help=f"scrapyd project name (default: {DEFAULT_PROJECT})",
        )
        group.add_argument(
            "--site",
            dest="sites",
            action="append",
            default=[],
            metavar="NAME",
            help="a site to schedule (repeatable)",
        )
        group.add_argument("--all", action="store_true", help="every site the deployed project has")
        group.add_argument(
            "--timeout",
            type=int,
            default=TIMEOUT,
            metavar="SECONDS",
            help=f"give up on a scrapyd call after this long (default: {TIMEOUT})",
        )
        group.add_argument(
            "-a",
            dest="spargs",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="spider argument passed to every job, e.g. -a full=1 (repeatable)",
        )
        group.add_argument(
            "--setting",
            dest="job_settings",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="Scrapy setting for every job, e.g. --setting LOG_LEVEL=DEBUG (repeatable)",
        )

    def process_options(self, args: list[str], opts: argparse.Namespace) -> None:
        super().process_options(args, opts)
        if args:
            raise UsageError(f"unexpected argument(s): {' '.join(args)}")
        if opts.timeout < 1:
            raise UsageError("--timeout must be at least 1 (seconds)", print_help=False)
        if opts.all == bool(opts.sites):
            raise UsageError("give either --all or one or more --site NAME")
        opts.spargs = _pairs(opts.spargs, "-a")
        reserved = sorted(RESERVED_ARGS.intersection(opts.spargs))
        if reserved:
            raise UsageError(f"-a {reserved[0]}=... is reserved by scrapyd", print_help=False)
        _pairs(opts.job_settings, "--setting")

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        try:
            scrapyd = Scrapyd(opts.scrapyd, opts.timeout)
            self.exitcode = self.schedule_sites(scrapyd, opts)
        except ClientMissing as exc:
            print(f"kbcrawler: {exc}", file=sys.stderr)
            self.exitcode = EXIT_USAGE
        except ScrapydError as exc:
            print(f"kbcrawler: {exc}", file=sys.stderr)
            self.exitcode = EXIT_SCRAPYD

    def schedule_sites(self, scrapyd: Scrapyd, opts: argparse.Namespace) -> int:
        project = opts.project
        deployed = scrapyd.spiders(project)
        if opts.all:
            sites = [s for s in deployed if s != GENERIC_SPIDER]
        else:
            sites = list(dict.fromkeys(opts.sites))
            unknown = [s for s in sites if s not in deployed]
            if unknown:
                print(
                    f"kbcrawler: unknown site(s) {', '.join(unknown)}: project {project!r} on "
                    f"{scrapyd.base} has {', '.join(deployed) or 'no spiders'} "
                    "(add settings/sites/<name>.yaml and run scrapyd-deploy)",
                    file=sys.stderr,
                )
                return EXIT_USAGE
        if not sites:
            print(f"kbcrawler: project {project!r} on {scrapyd.base} has no site", file=sys.stderr)
            return EXIT_USAGE
        busy = scrapyd.busy(project)
        status = EXIT_OK
        for site in sites:
            if site in busy:
                state, job = busy[site]
                print(f"{site}: skipped, job {job} is still {state}")
                continue
            try:
                job = scrapyd.schedule(project, site, opts.spargs, opts.job_settings)
            except ScrapydError as exc:
                print(f"kbcrawler: {site}: not scheduled: {exc}", file=sys.stderr)
                status = EXIT_SCRAPYD
                continue
            print(f"{site}: scheduled job {job}")
        sys.stdout.flush()
        return status
