"""The one place kbcrawler touches Scrapy internals that Scrapy does not document.

Each function here wraps one such internal; ``tests/test_scrapy_compat.py`` checks each
against the installed Scrapy (names, signatures, behaviour), so an upgrade that changes
one fails there, by name, instead of somewhere in a crawl.

- :func:`gunzip_within`: ``scrapy.utils.gz.gunzip`` (public) raises the private
  ``scrapy.utils._compression._DecompressionMaxSizeExceeded`` past ``max_size``.
- :func:`hold_slot_delay`: the downloader's ``slots`` and ``per_slot_settings`` (what
  Scrapy's own AutoThrottle reads), to apply a robots.txt ``Crawl-delay``.
- :class:`NotModifiedAutoThrottle`: AutoThrottle's ``_adjust_delay``, the one hook of its
  delay policy, so that a ``304 Not Modified`` counts as the answer it is.
"""

from __future__ import annotations

import struct
import zlib
from typing import TYPE_CHECKING

from scrapy.extensions.throttle import AutoThrottle
from scrapy.utils._compression import _DecompressionMaxSizeExceeded
from scrapy.utils.gz import gunzip

if TYPE_CHECKING:
    from scrapy.core.downloader import Downloader, Slot
    from scrapy.http import Response

__all__ = ["DecompressedTooLarge", "NotModifiedAutoThrottle", "gunzip_within", "hold_slot_delay"]


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


class NotModifiedAutoThrottle(AutoThrottle):
    """Scrapy's AutoThrottle (same settings, same policy), except that a ``304 Not
    Modified`` may lower a slot's delay as a ``200`` does.

    AutoThrottle lets only a 200 lower the delay, so that small error pages cannot spiral
    it down. A 304 is no error: it is the normal answer to an incremental run's
    conditional GET (RFC 9110, section 15.4.5). Without this, a run of a mostly unchanged
    site never leaves ``AUTOTHROTTLE_START_DELAY`` between requests. A robots.txt
    ``Crawl-delay`` still bounds the delay from below (:func:`hold_slot_delay`).
    """

    def _adjust_delay(self, slot: Slot, latency: float, response: Response) -> None:
        if response.status == 304:
            response = response.replace(status=200)
        super()._adjust_delay(slot, latency, response)
