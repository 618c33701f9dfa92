"""Run the real ``scrapy crawl`` as a subprocess, the way a user or scrapyd does.

Each run gets its own outbox and state dir (under the test's tmp_path) and an
environment with no inherited KB_* variables, so tests cannot leak into each other.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass
class CrawlResult:
    returncode: int
    stdout: str
    stderr: str
    outbox: Path
    state: Path

    @property
    def log(self) -> str:
        return self.stderr

    def documents(self, site: str) -> list[dict[str, Any]]:
        """Every document written by the no-token sink for ``site``, all runs."""
        docs = []
        for path in sorted((self.outbox / site).glob("*.jsonl")):
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    docs.append(json.loads(line))
        return docs

    def pending(self, site: str) -> list[dict[str, Any]]:
        docs = []
        for path in sorted((self.outbox / site / "pending").glob("*.json")):
            docs.extend(json.loads(path.read_text(encoding="utf-8"))["documents"])
        return docs

    def rejected(self, site: str) -> list[dict[str, Any]]:
        records = []
        for path in sorted((self.outbox / site / "rejected").glob("*.jsonl")):
            records.extend(json.loads(x) for x in path.read_text().splitlines() if x.strip())
        return records

    def reports(self, site: str) -> list[dict[str, Any]]:
        paths = sorted((self.state / site / "runs").glob("*.json"))
        return [json.loads(p.read_text(encoding="utf-8")) for p in paths]

    def stat(self, name: str) -> Any:
        """A value from the final 'Dumping Scrapy stats' block of the log."""
        marker = "Dumping Scrapy stats:"
        if marker not in self.stderr:
            return None
        block = self.stderr.split(marker, 1)[1]
        needle = f"'{name}': "
        if needle not in block:
            return None
        value = block.split(needle, 1)[1].split(",\n", 1)[0].split("}\n", 1)[0].strip()
        try:
            return int(value)
        except ValueError:
            return value.strip("'")


def write_site(tmp_path: Path, name: str, **keys: Any) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"name": name, **keys}, sort_keys=False), encoding="utf-8")
    return path


def crawl_env(tmp_path: Path, **extra: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KB_", "SCRAPY_"))}
    env["KB_OUTBOX"] = str(tmp_path / "outbox")
    env["KB_STATE_DIR"] = str(tmp_path / "state")
    env["PYTHONPATH"] = str(REPO_ROOT)
    for key, value in extra.items():
        if value is not None:
            env[key] = value
    return env


def run_scrapy(
    args: list[str],
    tmp_path: Path,
    *,
    env: dict[str, str] | None = None,
    timeout: float = 240,
    settings: dict[str, Any] | None = None,
    cwd: Path = REPO_ROOT,
) -> CrawlResult:
    """``scrapy <args>`` from ``cwd`` (the repo root), with test-friendly fast settings."""
    cmd = [sys.executable, "-m", "scrapy", *args]
    fast = {
        "AUTOTHROTTLE_ENABLED": "False",
        "KB_EXTRACT_WORKERS": "2",
        "KB_FLUSH_SECONDS": "1",
        "KB_BACKOFF_BASE": "0.05",
        "KB_BACKOFF_MAX": "0.5",
        "LOG_LEVEL": "INFO",
    }
    fast.update({k: str(v) for k, v in (settings or {}).items()})
    for key, value in fast.items():
        cmd += ["-s", f"{key}={value}"]
    proc = subprocess.run(
        cmd,
        cwd=cwd,
        env=env if env is not None else crawl_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return CrawlResult(
        proc.returncode, proc.stdout, proc.stderr, tmp_path / "outbox", tmp_path / "state"
    )


def crawl_site(
    site_file: Path, tmp_path: Path, *, env: dict[str, str] | None = None, **kw: Any
) -> CrawlResult:
    return run_scrapy(["crawl", "site", "-a", f"config={site_file}"], tmp_path, env=env, **kw)
