"""Requests going through the disk queue keep their callbacks, named without a member scan."""

from __future__ import annotations

from scrapy import Spider
from scrapy.utils.request import request_from_dict

from crawler.named_request import NamedCallbackRequest


class _Spider(Spider):
    name = "t"

    def parse_page(self, response):  # pragma: no cover - only referenced
        return None

    def page_failed(self, failure):  # pragma: no cover - only referenced
        return None


def _free_function(response):  # pragma: no cover - only referenced
    return None


def test_round_trip_keeps_bound_callbacks_and_class() -> None:
    spider = _Spider()
    request = NamedCallbackRequest(
        "http://a.test/x", callback=spider.parse_page, errback=spider.page_failed, meta={"k": 1}
    )
    data = request.to_dict(spider=spider)
    assert (data["callback"], data["errback"]) == ("parse_page", "page_failed")
    assert request.callback == spider.parse_page  # the request itself is unchanged
    again = request_from_dict(data, spider=spider)
    assert type(again) is NamedCallbackRequest
    assert again.callback == spider.parse_page and again.errback == spider.page_failed
    assert again.meta == {"k": 1}


def test_other_spiders_method_is_not_named_as_ours() -> None:
    ours, other = _Spider(), _Spider()
    request = NamedCallbackRequest("http://a.test/x", callback=other.parse_page)
    # Scrapy's own lookup then runs: it finds the name on ``ours`` by comparing functions.
    assert request.to_dict(spider=ours)["callback"] == "parse_page"
    free = NamedCallbackRequest("http://a.test/x", callback=_free_function)
    try:
        free.to_dict(spider=ours)
    except ValueError as exc:  # Scrapy refuses a callback that is not a spider method
        assert "not an instance method" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("a free function must not be serialized by name")
