"""Where ``KB_STATE_DIR`` and ``KB_OUTBOX`` live: never wherever the shell happened to be.

A relative path is resolved against the project root, the folder holding the
``scrapy.cfg`` Scrapy itself found (:func:`scrapy.utils.conf.closest_scrapy_cfg`), so
``scrapy crawl`` from a subfolder uses the same sync state and outbox as from the root.
Without a ``scrapy.cfg`` (scrapyd runs a deployed egg from its own working directory),
a relative path stays relative to the working directory, and the crawl warns about it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from scrapy.utils.conf import closest_scrapy_cfg

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings

PATH_SETTINGS = ("KB_STATE_DIR", "KB_OUTBOX")


def project_root() -> Path | None:
    """The folder of the closest ``scrapy.cfg`` above the working directory, or None."""
    cfg = closest_scrapy_cfg()
    return Path(cfg).resolve().parent if cfg else None


def resolve_path(value: str | os.PathLike[str], root: Path | None = None) -> Path:
    """``value`` as an absolute path: ``~`` expanded, relative ones under the project root.

    ``root`` defaults to :func:`project_root`; without one, the working directory.
    """
    path = Path(value).expanduser()
    if path.is_absolute():
        return path
    base = root if root is not None else project_root()
    return (base or Path.cwd()) / path


def resolve_path_settings(settings: BaseSettings) -> list[str]:
    """Make ``KB_STATE_DIR`` and ``KB_OUTBOX`` absolute in ``settings`` (same priority).

    Returns warnings: a relative path with no project root (scrapyd) is resolved against
    the working directory, which changes from one run to the next only by accident.
    """
    root = project_root()
    warnings = []
    for name in PATH_SETTINGS:
        value = settings.get(name)
        if not value:
            continue
        path = resolve_path(value, root)
        if not Path(value).expanduser().is_absolute() and root is None:
            warnings.append(
                f"{name} is relative ({value}) and there is no scrapy.cfg: using {path}; "
                "give an absolute path (scrapyd: in its environment)"
            )
        if str(path) != value:
            settings.set(name, str(path), priority=settings.getpriority(name) or "project")
    return warnings


def unwritable_paths(settings: BaseSettings) -> list[str]:
    """What stops the crawl writing under ``KB_STATE_DIR`` and ``KB_OUTBOX`` (absolute, as
    :func:`resolve_path_settings` leaves them), one line each (``KB_X=path: why``); empty
    when both can be written. Nothing is created: a missing folder counts as writable when
    its closest existing parent is a folder this process may write in.
    """
    problems = []
    for name in PATH_SETTINGS:
        value = settings.get(name)
        if not value:
            continue
        path = Path(value)
        existing = path
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if not existing.is_dir():
            problems.append(f"{name}={value}: {existing} is not a folder")
        elif not os.access(existing, os.W_OK | os.X_OK):
            problems.append(
                f"{name}={value}: cannot write in {existing} (read-only or no permission)"
            )
    return problems
