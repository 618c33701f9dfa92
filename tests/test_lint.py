"""ruff (lint + format), as configured in pyproject.toml, is clean on the whole project."""

from __future__ import annotations

import subprocess
import sys

from tests.crawl_runner import REPO_ROOT


def _ruff(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args], cwd=REPO_ROOT, capture_output=True, text=True
    )


def test_ruff_check_and_format() -> None:
    check = _ruff("check", ".")
    assert check.returncode == 0, check.stdout[-3000:]
    fmt = _ruff("format", "--check", ".")
    assert fmt.returncode == 0, fmt.stdout[-3000:]
