"""A Request that names its spider callbacks cheaply when it goes to the disk queue.

Scrapy's ``Request.to_dict`` finds the name of a bound callback by listing every member
of the spider (``inspect.getmembers``), a cost that showed in profiles (docs/benchmarks.md):
twice per page, on the reactor thread, for every request pushed to the disk queue. A bound
method already knows its name; this class uses it when the spider really has that method.
"""

from __future__ import annotations

from typing import Any

from scrapy import Request, Spider


def _name_on(spider: Spider | None, func: Any) -> Any:
    """``func``'s name when it is ``spider``'s own method of that name, else ``func``."""
    name = getattr(func, "__name__", None)
    if spider is None or name is None or getattr(func, "__self__", None) is not spider:
        return func
    own = getattr(type(spider), name, None)
    return name if own is getattr(func, "__func__", None) else func


class NamedCallbackRequest(Request):
    """:class:`scrapy.Request` whose ``to_dict`` skips the search for callback names."""

    def to_dict(self, *, spider: Spider | None = None) -> dict[str, Any]:
        callback, errback = self.callback, self.errback
        self.callback = _name_on(spider, callback)
        self.errback = _name_on(spider, errback)
        try:
            return super().to_dict(spider=spider)
        finally:
            self.callback, self.errback = callback, errback
