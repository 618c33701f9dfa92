"""``KB_*`` settings checked before a crawl starts: a bad value is one line and exit status 2.

Types come from the defaults in the project's settings module (``settings/__init__.py``):
a ``-s KB_MAX_BATCH_DOCS=abc`` must be an int because the default ``100`` is one. Bounds
are listed in :data:`BOUNDS`. A ``KB_*`` name with no default is a typo or a leftover,
and is warned about (with the closest known name), never silently ignored.
"""

from __future__ import annotations

import difflib
import importlib.util
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings

#: (lowest, highest) allowed, inclusive; None = unbounded on that side. Numbers without an
#: entry must be >= 0. A site key with a setting as its default (crawler.config.SETTING_OF_KEY)
#: has the same lowest value.
BOUNDS: dict[str, tuple[float | None, float | None]] = {
    "KB_MAX_BATCH_DOCS": (1, 100),  # the API's documented maximum
    "KB_MAX_BATCH_BYTES": (1024, None),
    "KB_FLUSH_SECONDS": (0.01, None),
    "KB_IMPORT_RATE_PER_MIN": (0.01, None),
    "KB_MAX_IN_FLIGHT": (1, None),
    "KB_CONNECT_TIMEOUT": (0.01, None),
    "KB_REQUEST_TIMEOUT": (0.01, None),
    "KB_EXTRACT_TIMEOUT": (0.01, None),
    "KB_MIN_DOCUMENT_CHARS": (1000, None),  # pipelines.split's floor
    "KB_MAX_DOCUMENT_CHARS": (1000, None),
    "KB_MAX_PAGES": (1, None),
    "KB_LANG_SAMPLE_CHARS": (1, None),
    "KB_GONE_AFTER_RUNS": (1, None),
    "KB_SHRINK_RATIO": (0, 1),
    "KB_MAX_ERROR_SHARE": (0, 1),
    "KB_CHECK_MAX_SITEMAPS": (1, None),
    "KB_RENDER_TIMEOUT": (0.1, None),
    "KB_RENDER_PAGES": (1, None),
}
#: Read from the environment only (never a setting, so never printed with the settings).
ENVIRONMENT_ONLY = frozenset({"KB_API_TOKEN"})
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def kb_defaults() -> dict[str, Any]:
    """``{name: default}`` of every ``KB_*`` setting of kbcrawler's ``settings/__init__.py``,
    the one source of the defaults: the loaded ``settings`` module when it is that file, else
    that file loaded on its own (another Scrapy project whose settings module is loaded, with
    kbcrawler's delivery pipeline in its ``ITEM_PIPELINES``)."""
    path = Path(__file__).resolve().parents[1] / "settings" / "__init__.py"
    module = sys.modules.get("settings")
    if module is None or Path(getattr(module, "__file__", None) or "").resolve() != path:
        spec = importlib.util.spec_from_file_location(
            "kbcrawler_default_settings", path, submodule_search_locations=[str(path.parent)]
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return {k: v for k, v in vars(module).items() if k.startswith("KB_")}


def _bounds_text(low: float | None, high: float | None, whole: bool) -> str:
    kind = "a whole number" if whole else "a number"
    if low is not None and high is not None:
        return f"{kind} from {low:g} to {high:g}"
    if low is not None:
        return f"{kind} of at least {low:g}"
    return kind


def check_value(name: str, value: Any, default: Any) -> str | None:
    """None when ``value`` suits ``name``, else what is wrong (``KB_X=value: expected ...``)."""
    shown = f"{name}={value}"
    if isinstance(default, bool):
        if isinstance(value, bool) or str(value).strip().lower() in _TRUE | _FALSE:
            return None
        return f"{shown}: expected true or false"
    if isinstance(default, int | float):
        whole = isinstance(default, int)
        low, high = BOUNDS.get(name, (0, None))
        try:
            number = float(value) if not whole else int(str(value).strip())
        except (TypeError, ValueError):
            return f"{shown}: expected {_bounds_text(low, high, whole)}"
        if (low is not None and number < low) or (high is not None and number > high):
            return f"{shown}: expected {_bounds_text(low, high, whole)}"
    return None


def check_kb_settings(
    settings: BaseSettings, defaults: dict[str, Any] | None = None
) -> tuple[list[str], list[str]]:
    """(problems, warnings) of the ``KB_*`` settings, each one line. ``defaults`` (types and
    known names): :func:`kb_defaults` when None."""
    defaults = kb_defaults() if defaults is None else defaults
    problems, warnings = [], []
    for name in sorted(k for k in settings.attributes if k.startswith("KB_")):
        if name in ENVIRONMENT_ONLY:
            warnings.append(f"{name} is not a setting: set it in the environment (ignored)")
            continue
        if name not in defaults:
            close = difflib.get_close_matches(name, list(defaults), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            warnings.append(f"unknown setting {name}{hint}: ignored")
            continue
        problem = check_value(name, settings.get(name), defaults[name])
        if problem:
            problems.append(problem)
    return problems, warnings
