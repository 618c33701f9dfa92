"""The one place kbcrawler touches Scrapy internals that Scrapy does not document.

Each function here wraps one such internal; ``tests/test_scrapy_compat.py`` checks each
against the installed Scrapy (names, signatures, behaviour), so an upgrade that changes
one fails there, by name, instead of somewhere in a crawl.

- :func:`gunzip_within`: ``scrapy.utils.gz.gunzip`` (public) raises the private
  ``scrapy.utils._compression._DecompressionMaxSizeExceeded`` past ``max_size``.
- :func:`hold_slot_delay`: the downloader's ``slots`` and ``per_slot_settings`` (what
  Scrapy's own AutoThrottle reads), to apply a robots.txt ``Crawl-delay``.
"""

from __future__ import annotations

import struct
import zlib
from typing import TYPE_CHECKING

from scrapy.utils._compression import _DecompressionMaxSizeExceeded
from scrapy.utils.gz import gunzip

if TYPE_CHECKING:
    from scrapy.core.downloader import Downloader

__all__ = ["DecompressedTooLarge", "gunzip_within", "hold_slot_delay"]


class DecompressedTooLarge(ValueError):
    """A gzip body inflates beyond the byte limit it was read with."""


def gunzip_within(data: bytes, max_size: int) -> bytes | None:
    """``data`` gunzipped, at most ``max_size`` bytes (0: no limit), by Scrapy's ``gunzip``;
    None when it is not gzip at all (a truncated one gives what it holds).

    Raises :class:`DecompressedTooLarge` past the limit (decompression stops there: memory
    stays bounded).
    """
    try:
        return gunzip(data, max_size=max_size)
    except _DecompressionMaxSizeExceeded as exc:
        raise DecompressedTooLarge(str(exc)) from None
    except (OSError, EOFError, struct.error, zlib.error):
        return None


def hold_slot_delay(downloader: Downloader, key: str, delay: float) -> None:
    """Make ``delay`` (seconds) the minimum delay of download slot ``key``, without jitter.

    Slots created from now on get it from ``per_slot_settings`` (the ``DOWNLOAD_SLOTS``
    setting, read when Scrapy creates a slot); a slot that exists already (the one that
    fetched robots.txt) is raised to it in place. Idempotent: call it per request.
    """
    downloader.per_slot_settings.setdefault(key, {}).update(delay=delay, jitter=0.0)
    slot = downloader.slots.get(key)
    if slot is not None and (slot.delay < delay or slot.jitter):
        slot.delay, slot.jitter = max(slot.delay, delay), 0.0
