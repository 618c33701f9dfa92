"""Text rules every stage shares: whitespace normalisation and the content fingerprint."""

from __future__ import annotations

import hashlib
import re

__all__ = ["content_fingerprint", "normalize_space"]

_WS = re.compile(r"\s+")


def normalize_space(text: str | None) -> str:
    """Collapse all whitespace runs to single spaces and strip; '' for None."""
    return _WS.sub(" ", text).strip() if text else ""


def content_fingerprint(text: str) -> str:
    """sha256 hex of whitespace-normalised text, so re-wrapped but identical text is unchanged."""
    return hashlib.sha256(normalize_space(text).encode("utf-8")).hexdigest()
