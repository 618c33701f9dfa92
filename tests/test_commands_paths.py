"""Where state and outbox go (never wherever the shell is), and ``scrapy list`` warnings."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.crawl_runner import REPO_ROOT, crawl_env, write_site
from tests.servers.website import running_website


def scrapy(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "scrapy", *args, "-s", "KB_EXTRACT_WORKERS=1"]
    cmd += ["-s", "AUTOTHROTTLE_ENABLED=False"]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=240)


def bare_env(tmp_path: Path) -> dict[str, str]:
    env = crawl_env(tmp_path)
    del env["KB_OUTBOX"], env["KB_STATE_DIR"]
    return env


def test_relative_paths_are_under_the_project_root_from_any_subfolder(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "deep" / "er").mkdir(parents=True)
    shutil.copy(REPO_ROOT / "scrapy.cfg", project / "scrapy.cfg")
    env = bare_env(tmp_path)
    with running_website(tmp_path) as site:
        config = write_site(tmp_path, "rooted", start_urls=[site.url + "/en/guide.html"])
        config_arg = f"config={config}"
        first = scrapy(["crawl", "site", "-a", config_arg, "-a", "full=1"], project / "deep", env)
        assert first.returncode == 0, first.stderr[-3000:]
        again = scrapy(
            ["crawl", "site", "-a", config_arg, "-s", "KB_OUTBOX=elsewhere"],
            project / "deep/er",
            env,
        )
        assert again.returncode == 0, again.stderr[-3000:]
    line = f"Sync state in {project}/.kbstate, outbox in {project}/outbox"
    assert line in first.stderr
    assert list((project / "outbox" / "rooted").glob("*.jsonl"))
    assert (project / ".kbstate" / "rooted" / "state.sqlite").exists()
    # The second run, from a deeper folder, found the same state (and its lock, reports).
    assert len(list((project / ".kbstate" / "rooted" / "runs").glob("*.json"))) == 2
    assert f"outbox in {project}/elsewhere" in again.stderr
    assert list((project / "elsewhere" / "rooted").glob("*.jsonl"))
    assert not list((project / "deep").rglob("*.jsonl"))
    assert not list((project / "deep").rglob("state.sqlite"))


def test_without_scrapy_cfg_a_relative_path_is_warned_about(tmp_path: Path) -> None:
    env = {**bare_env(tmp_path), "SCRAPY_SETTINGS_MODULE": "settings", "KB_STATE_DIR": "st"}
    result = scrapy(["kb-check", "books"], tmp_path, env)
    assert result.returncode == 0, result.stderr
    assert (
        f"kbcrawler: warning: KB_STATE_DIR is relative (st) and there is no scrapy.cfg: "
        f"using {tmp_path}/st" in result.stderr
    )


def test_scrapy_list_warns_about_site_files_that_would_not_load(tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(REPO_ROOT / "settings", project / "settings")
    shutil.copy(REPO_ROOT / "scrapy.cfg", project / "scrapy.cfg")
    (project / "settings" / "sites" / "broken.yaml").write_text("start_urls: [docs.example.com]\n")
    env = {**bare_env(tmp_path), "PYTHONPATH": f"{project}:{REPO_ROOT}"}
    result = scrapy(["list"], project, env)
    assert result.returncode == 0
    assert result.stdout.split() == ["books", "broken", "site"]
    assert (
        "kbcrawler: warning: settings/sites/broken.yaml: start_urls: 'docs.example.com' is not "
        "an absolute http(s) URL (`scrapy crawl broken` would refuse to start)" in result.stderr
    )
