"""Test-wide configuration."""

from __future__ import annotations

import os

from hypothesis import settings

# CI runs the property tests derandomized, so a green CI stays green for the same code;
# local runs explore new random examples every time.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
