"""The project on a real scrapyd: deploy with scrapyd-client, schedule, read the outcome.

One scrapyd (and one test website, one knowledge-base stand-in) serves the whole module.
The project is deployed from a temporary copy of the repo (so the egg build leaves
nothing in the checkout), with two extra site files pointing at the local website: they
exist only in the egg, so a job that finds them proves scrapyd runs the zipped egg and
reads its package data, not the checkout.

scrapyd gets its KB_* variables through its own environment, which it passes to every
job, exactly as the sample deploy/kbcrawler.env + systemd unit do.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.servers.kbapi import KBApiHandle, running_kbapi
from tests.servers.website import (
    PRIVATE_BASIC,
    PRIVATE_COOKIE,
    PRIVATE_HEADER,
    WebsiteHandle,
    running_website,
)

scrapyd = pytest.importorskip(
    "scrapyd", reason="scrapyd is not installed (pip install -e '.[test]')"
)
pytest.importorskip("scrapyd_client", reason="scrapyd-client is not installed")

REPO_ROOT = Path(__file__).resolve().parents[1]
PROJECT = "kbcrawler"
VERSION = "r1"
JOB_TIMEOUT = 120.0
# Settings every job gets through schedule.json's `setting=` (what the test checks it can do).
FAST = ["AUTOTHROTTLE_ENABLED=False", "KB_FLUSH_SECONDS=1", "KB_EXTRACT_WORKERS=2"]
CORE_PAGES = ["/", "/en/guide.html"]  # pages with no duplicate the crawl might pick instead
PRIVATE_ENV = {
    "DOCS_COOKIE": PRIVATE_COOKIE[1],
    "DOCS_TOKEN": PRIVATE_HEADER[1],
    "DOCS_PASSWORD": PRIVATE_BASIC[1],
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_env(**extra: str) -> dict[str, str]:
    """Our environment without KB_*/SCRAPY* variables and without PYTHONPATH."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("KB_", "SCRAPY_", "SCRAPYD_")) and k != "PYTHONPATH"
    }
    env.update(extra)
    return env


@dataclass
class Scrapyd:
    url: str
    root: Path
    process: subprocess.Popen[bytes]
    log_path: Path
    outbox: Path
    state: Path
    website: WebsiteHandle
    kbapi: KBApiHandle
    sites: Path  # where test-only site files (for `config=`) are written

    # -- scrapyd's JSON API -------------------------------------------------------------
    def api(self, endpoint: str, params: list[tuple[str, str]] | None = None, *, post=False) -> Any:
        query = urllib.parse.urlencode(params or [])
        url = f"{self.url}/{endpoint}"
        data = query.encode() if post else None
        if query and not post:
            url = f"{url}?{query}"
        with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=60) as resp:
            answer = json.loads(resp.read())
        assert answer.get("status") == "ok", answer
        return answer

    def schedule(self, spider: str, *, settings: list[str] = FAST, **args: str) -> str:
        params = [("project", PROJECT), ("spider", spider)]
        params += [("setting", s) for s in settings]
        params += list(args.items())
        return self.api("schedule.json", params, post=True)["jobid"]

    def jobs(self) -> dict[str, list[dict[str, Any]]]:
        return self.api("listjobs.json", [("project", PROJECT)])

    def wait_finished(self, job: str, timeout: float = JOB_TIMEOUT) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for entry in self.jobs()["finished"]:
                if entry["id"] == job:
                    return entry
            time.sleep(0.3)
        raise AssertionError(
            f"job {job} not finished after {timeout} s:\n{self.daemon_log()[-3000:]}"
        )

    def job_log(self, spider: str, job: str) -> str:
        path = self.root / "logs" / PROJECT / spider / f"{job}.log"
        return path.read_text(encoding="utf-8") if path.exists() else ""

    def daemon_log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def site_file(self, name: str, **keys: Any) -> Path:
        path = self.sites / f"{name}.yaml"
        path.write_text(yaml.safe_dump({"name": name, **keys}, sort_keys=False), encoding="utf-8")
        return path

    def stop(self) -> None:
        """Cancel what still runs (jobs are scrapyd's children), then stop scrapyd."""
        if self.process.poll() is None:
            try:
                jobs = self.jobs()
                for job in jobs["pending"] + jobs["running"]:
                    self.api("cancel.json", [("project", PROJECT), ("job", job["id"])], post=True)
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline and any(
                    self.jobs()[s] for s in ("pending", "running")
                ):
                    time.sleep(0.3)
            except Exception:
                pass
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def copy_project(dest: Path, extra_sites: dict[str, dict[str, Any]]) -> Path:
    """The files a deploy needs, as they are now in the checkout, plus extra site files."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build", "dist")
    dest.mkdir(parents=True)
    for name in ("crawler", "pipelines", "settings"):
        shutil.copytree(REPO_ROOT / name, dest / name, ignore=ignore)
    for name in ("setup.py", "pyproject.toml", "README.md", "scrapy.cfg"):
        if (REPO_ROOT / name).exists():
            shutil.copy2(REPO_ROOT / name, dest / name)
    for name, keys in extra_sites.items():
        text = yaml.safe_dump({"name": name, **keys}, sort_keys=False)
        (dest / "settings" / "sites" / f"{name}.yaml").write_text(text, encoding="utf-8")
    return dest


def start_scrapyd(root: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str, Path]:
    port = free_port()
    (root / "scrapyd.conf").write_text(
        "[scrapyd]\n"
        "bind_address = 127.0.0.1\n"
        f"http_port = {port}\n"
        f"eggs_dir = {root / 'eggs'}\n"
        f"logs_dir = {root / 'logs'}\n"
        f"dbs_dir = {root / 'dbs'}\n"
        "items_dir =\n"
        "poll_interval = 0.2\n"
        "max_proc = 4\n"
        "jobs_to_keep = 50\n",
        encoding="utf-8",
    )
    log_path = root / "scrapyd.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "scrapyd", "--pidfile", str(root / "twistd.pid")],
            cwd=root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"scrapyd exited: {log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/daemonstatus.json", timeout=2) as resp:
                if json.loads(resp.read()).get("status") == "ok":
                    return process, url, log_path
        except OSError:
            time.sleep(0.2)
    process.kill()
    process.wait()
    raise RuntimeError(f"scrapyd did not answer: {log_path.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scrapyd]:
    root = tmp_path_factory.mktemp("scrapyd")
    with running_website(root / "website") as website, running_kbapi(root) as kbapi:
        project = copy_project(
            root / "project",
            {
                # Only in the egg: scrapyd can only know them from the deployed package data.
                "localdocs": {"start_urls": [f"{website.url}/"], "metadata": {"via": "scrapyd"}},
                "slowdocs": {
                    "start_urls": [f"{website.url}/"],
                    "download_delay": 2,
                    "max_pages": 3,
                },
            },
        )
        home = root / "home"
        home.mkdir()
        env = clean_env(
            HOME=str(home),
            PYTHONUNBUFFERED="1",
            KB_API_URL=kbapi.url,
            KB_API_TOKEN=kbapi.token,
            KB_CHAT_MODEL_ID=kbapi.model_id,
            KB_OUTBOX=str(root / "kb" / "outbox"),
            KB_STATE_DIR=str(root / "kb" / "state"),
            **PRIVATE_ENV,  # a private section's secrets: from scrapyd's environment only
        )
        process, url, log_path = start_scrapyd(root, env)
        handle = Scrapyd(
            url, root, process, log_path, Path(env["KB_OUTBOX"]), Path(env["KB_STATE_DIR"]),
            website, kbapi, root / "sites",
        )  # fmt: skip
        handle.sites.mkdir()
        try:
            (project / "scrapy.cfg").write_text(
                f"[settings]\ndefault = settings\n\n[deploy]\nurl = {url}/\nproject = {PROJECT}\n",
                encoding="utf-8",
            )
            deploy = subprocess.run(
                [sys.executable, "-m", "scrapyd_client.deploy", "--version", VERSION],
                cwd=project,
                env=clean_env(HOME=str(home)),
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert deploy.returncode == 0, deploy.stdout + deploy.stderr
            assert '"status": "ok"' in deploy.stdout, deploy.stdout + deploy.stderr
            yield handle
        finally:
            handle.stop()


def test_egg_carries_site_files_and_scrapyd_lists_one_spider_per_site(deployed: Scrapyd) -> None:
    egg = deployed.root / "eggs" / PROJECT / f"{VERSION}.egg"
    with zipfile.ZipFile(egg) as zf:
        names = set(zf.namelist())
        entry_points = zf.read("EGG-INFO/entry_points.txt").decode()
    for site in ("books", "localdocs", "slowdocs"):
        assert f"settings/sites/{site}.yaml" in names
    assert "crawler/commands/kb-schedule.py" in names
    assert "[scrapy]" in entry_points and "settings = settings" in entry_points
    # listspiders.json runs `scrapy list` inside the zipped egg.
    spiders = deployed.api("listspiders.json", [("project", PROJECT)])["spiders"]
    assert "localdocs" in spiders, (
        f"scrapyd does not see the egg's site files ({spiders}): is kbcrawler installed "
        "(non-editable) in scrapyd's environment, shadowing the deployed egg?"
    )
    assert sorted(spiders) == ["books", "localdocs", "site", "slowdocs"]


def test_scheduled_site_is_delivered_and_full_rerun_resends(deployed: Scrapyd) -> None:
    kbapi = deployed.kbapi
    kbapi.reset()
    job = deployed.schedule("localdocs", settings=[*FAST, "KB_MAX_BATCH_DOCS=7"])
    deployed.wait_finished(job)
    log = deployed.job_log("localdocs", job)
    docs = kbapi.documents()
    assert docs, log[-4000:]
    urls = {d["url"] for d in docs}
    for path in CORE_PAGES:
        assert f"{deployed.website.url}{path}" in urls, sorted(urls)
    assert all(d["metadata"].get("via") == "scrapyd" for d in docs)
    # setting= overrides reach the job: 7 documents per request at most.
    assert max(r["documents"] for r in kbapi.requests()) <= 7
    assert "kbcrawler summary:" in log
    assert "kbcrawler: localdocs: done (exit status 0)" in log
    assert "Spider closed (finished)" in log
    assert "INVALID_TOKEN" not in log and "Traceback" not in log
    # Outbox and state follow KB_OUTBOX / KB_STATE_DIR, not scrapyd's working directory.
    reports = sorted((deployed.state / "localdocs" / "runs").glob("*.json"))
    assert reports and not json.loads(reports[-1].read_text()).get("failed")
    assert not list((deployed.outbox / "localdocs" / "pending").glob("*.json"))
    assert not (deployed.root / "outbox").exists() and not (deployed.root / ".kbstate").exists()

    # The spider argument full=1 re-sends unchanged pages.
    first = len(docs)
    job = deployed.schedule("localdocs", full="1")
    deployed.wait_finished(job)
    again = kbapi.documents()[first:]
    assert len(again) > first // 2, deployed.job_log("localdocs", job)[-4000:]
    for path in CORE_PAGES:
        assert f"{deployed.website.url}{path}" in {d["url"] for d in again}


def test_refused_token_shows_in_job_log_before_any_page(deployed: Scrapyd) -> None:
    kbapi = deployed.kbapi
    kbapi.reset()
    kbapi.configure(token="not-the-token-scrapyd-has")
    try:
        config = deployed.site_file("refused", start_urls=[f"{deployed.website.url}/"])
        job = deployed.schedule("site", config=str(config))
        deployed.wait_finished(job)
        searches = kbapi.searches()
    finally:
        kbapi.reset()
    log = deployed.job_log("site", job)
    # The credentials check refused the token before the first page request.
    assert "refused the credentials check (INVALID_TOKEN)" in log, log[-4000:]
    assert "refused the credentials (INVALID_TOKEN)" in log, log[-4000:]
    assert [s["error"] for s in searches] == ["INVALID_TOKEN"]
    assert "kbcrawler summary:" in log and "(INVALID_TOKEN)" in log
    assert "'kb/fatal': 'INVALID_TOKEN'" in log
    assert "'downloader/request_count'" not in log
    assert "(exit status 3)" in log
    assert not kbapi.documents()
    assert not list((deployed.outbox / "refused" / "pending").glob("*.json"))
    report = json.loads(
        sorted((deployed.state / "refused" / "runs").glob("*.json"))[-1].read_text()
    )
    assert report["failed"] == "INVALID_TOKEN"
    # scrapyd's own log has the exit status listjobs.json does not give.
    daemon = deployed.daemon_log()
    assert f"Process died: exitstatus=3 project='{PROJECT}' spider='site' job='{job}'" in daemon


def test_private_section_secrets_stay_out_of_listjobs_logs_and_files(deployed: Scrapyd) -> None:
    kbapi = deployed.kbapi
    kbapi.reset()
    config = deployed.site_file(
        "members",
        start_urls=[f"{deployed.website.url}/members/cookie/"],
        allow=["/members/"],
        headers={PRIVATE_HEADER[0]: "${DOCS_TOKEN}"},
        cookies={PRIVATE_COOKIE[0]: "${DOCS_COOKIE}"},
        http_auth={"username": PRIVATE_BASIC[0], "password": "${DOCS_PASSWORD}"},
    )
    job = deployed.schedule("site", settings=[*FAST, "LOG_LEVEL=DEBUG"], config=str(config))
    listed = json.dumps(deployed.jobs())
    deployed.wait_finished(job)
    listed += json.dumps(deployed.jobs())
    log = deployed.job_log("site", job)
    titles = {d["title"] for d in kbapi.documents()}
    assert {"Members area", "Leave policy for staff"} <= titles, log[-4000:]
    assert "(exit status 0)" in log
    token = base64.b64encode(":".join(PRIVATE_BASIC).encode()).decode()
    for secret in [*PRIVATE_ENV.values(), token]:
        assert secret not in listed and secret not in log
        for path in deployed.root.rglob("*"):
            if path.is_file() and "website" not in path.parts:
                assert secret.encode() not in path.read_bytes(), path


def kb_schedule(
    deployed: Scrapyd, *args: str, url: str | None = None
) -> subprocess.CompletedProcess:
    """`scrapy kb-schedule` from the checkout, as an operator's timer runs it."""
    return subprocess.run(
        [sys.executable, "-m", "scrapy", "kb-schedule", "--scrapyd", url or deployed.url, *args],
        cwd=REPO_ROOT,
        env=clean_env(PYTHONPATH=str(REPO_ROOT)),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_kb_schedule_skips_a_site_still_running(deployed: Scrapyd) -> None:
    settings = [f"--setting={s}" for s in FAST]
    first = kb_schedule(deployed, "--site", "slowdocs", *settings)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("slowdocs: scheduled job "), first.stdout
    job = first.stdout.split()[-1]
    second = kb_schedule(deployed, "--site", "slowdocs", *settings)
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() in (
        f"slowdocs: skipped, job {job} is still running",
        f"slowdocs: skipped, job {job} is still pending",
    ), second.stdout
    jobs = deployed.jobs()
    slow = [j for state in ("pending", "running", "finished") for j in jobs[state]]
    assert [j["id"] for j in slow if j["spider"] == "slowdocs"] == [job]
    deployed.api("cancel.json", [("project", PROJECT), ("job", job)], post=True)
    deployed.wait_finished(job, timeout=60)


def test_kb_schedule_errors_are_one_line_and_non_zero(deployed: Scrapyd) -> None:
    unknown = kb_schedule(deployed, "--site", "no-such-site")
    assert unknown.returncode == 2
    assert unknown.stdout == ""
    assert unknown.stderr.strip().splitlines() == [
        f"kbcrawler: unknown site(s) no-such-site: project 'kbcrawler' on {deployed.url} has "
        "books, localdocs, site, slowdocs (add settings/sites/<name>.yaml and run scrapyd-deploy)"
    ]
    down = kb_schedule(deployed, "--all", url=f"http://127.0.0.1:{free_port()}")
    assert down.returncode == 1
    assert len(down.stderr.strip().splitlines()) == 1
    assert down.stderr.startswith("kbcrawler: cannot reach scrapyd at http://127.0.0.1:")
    assert not deployed.jobs()["pending"]


def test_kb_schedule_gives_up_on_a_silent_scrapyd(deployed: Scrapyd) -> None:
    """A server that accepts the connection and never answers: one line, exit 1, within
    --timeout (scrapyd-client's calls have no timeout of their own)."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        started = time.monotonic()
        result = kb_schedule(deployed, "--all", "--timeout", "2", url=url)
        elapsed = time.monotonic() - started
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip().splitlines() == [
        f"kbcrawler: scrapyd at {url}: no answer to listspiders.json within 2 s"
    ]
    assert elapsed < 60  # the deadline, not the subprocess timeout, ended it


def test_kb_schedule_without_scrapyd_client_says_what_to_install() -> None:
    """scrapyd-client is the optional extra '[scrapyd]': without it, one line and exit 2,
    while every other command still loads (Scrapy imports every command module)."""
    blocked = (
        "import sys; sys.modules['scrapyd_client'] = None; "
        "from scrapy.cmdline import execute; execute(sys.argv[1:])"
    )
    env = clean_env(PYTHONPATH=str(REPO_ROOT))
    run = [sys.executable, "-c", blocked, "scrapy"]
    result = subprocess.run(
        [*run, "kb-schedule", "--all"], cwd=REPO_ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "kbcrawler: kb-schedule needs scrapyd-client: pip install 'kbcrawler[scrapyd]' "
        "(or pip install scrapyd-client)"
    ]
    listed = subprocess.run([*run, "list"], cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr
    assert "site" in listed.stdout.split()
