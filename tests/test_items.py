"""Items the Scrapy way: the delivery pipeline serves any Scrapy project's spider.

End to end: a separate Scrapy project, written here into tmp_path, whose spider yields plain
dicts from the test website, with only ``ITEM_PIPELINES`` pointing at
``pipelines.kb.KnowledgeBasePipeline``; crawled with the real ``scrapy crawl`` against the
test knowledge-base API (token) and into the outbox (no token). Component tests built with
``get_crawler`` cover dataclass, attrs and ``scrapy.Item`` items; :func:`page_of` is tested
directly.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import attrs
import pytest
import scrapy
from scrapy import Spider
from scrapy.settings import BaseSettings
from scrapy.utils.test import get_crawler

from crawler.items import ItemRefused, PageItem, page_of, url_of
from pipelines.kb import KnowledgeBasePipeline, delivery_site, flush_command, kb_settings
from pipelines.split import join_parts
from tests.crawl_runner import CrawlResult, crawl_env, run_scrapy
from tests.servers import site_expectations as X
from tests.servers.kbapi import running_kbapi
from tests.servers.website import running_website

TOKEN = "tok-items-7c1e5b2d4e6f8a0b"
MODEL = "model-items"
PATHS = ("/en/guide.html", "/fr/guide.html", "/de/anleitung.html", "/es/guia.html")
LANGUAGE = {page["path"]: page["language"] for page in X.EXPECTED_PAGES}
KW: dict[str, Any] = {"site": "shop", "lang_sample_chars": 3000}  # page_of's keywords

SETTINGS_PY = """\
BOT_NAME = "pagesbot"
SPIDER_MODULES = ["pagesbot.spiders"]
ITEM_PIPELINES = {"pipelines.kb.KnowledgeBasePipeline": 800}
"""

SPIDER_PY = """\
import scrapy


class PagesSpider(scrapy.Spider):
    name = "pages"

    def __init__(self, base, paths, **kwargs):
        super().__init__(**kwargs)
        self.base = base
        self.start_urls = [base + path for path in paths.split(",")]

    async def start(self):
        async for request in super().start():
            yield request
        # Two items that cannot be documents: dropped with a reason, not a traceback.
        yield {"title": "No address", "content": "Some text."}
        yield {"title": "No text", "url": self.base + "/empty"}

    def parse(self, response):
        paragraphs = [" ".join(p.xpath("string()").get().split()) for p in response.css("main p")]
        yield {
            "title": response.css("title::text").get(),
            "content": "\\n\\n".join(paragraphs),
            "url": response.url,
            "metadata": {"category": "docs", "area": response.url.split("/")[3]},
        }
"""


def _project(tmp_path: Path) -> Path:
    """A separate Scrapy project (scrapy.cfg, settings, one spider); returns its root."""
    root = tmp_path / "pagesbot"
    (root / "pagesbot" / "spiders").mkdir(parents=True)
    (root / "scrapy.cfg").write_text("[settings]\ndefault = pagesbot.settings\n")
    (root / "pagesbot" / "__init__.py").write_text("")
    (root / "pagesbot" / "settings.py").write_text(SETTINGS_PY)
    (root / "pagesbot" / "spiders" / "__init__.py").write_text("")
    (root / "pagesbot" / "spiders" / "pages.py").write_text(SPIDER_PY)
    return root


def _crawl(
    project: Path, base: str, tmp_path: Path, env: dict[str, str], **settings: Any
) -> CrawlResult:
    args = ["crawl", "pages", "-a", f"base={base}", "-a", f"paths={','.join(PATHS)}"]
    args += ["-O", "items.jsonl"]  # the items as the spider yielded them, after the pipeline
    return run_scrapy(args, tmp_path, env=env, cwd=project, settings=settings)


def _jsonl(paths: list[Path]) -> list[dict[str, Any]]:
    return [json.loads(line) for p in paths for line in p.read_text("utf-8").splitlines() if line]


def _assert_dropped_with_reasons(result: CrawlResult) -> None:
    assert result.stat("kb/dropped/no_url") == 1
    assert result.stat("kb/dropped/no_content") == 1
    assert "Item without a url (a non-empty string)" in result.log
    assert "Item without content (a non-empty string)" in result.log
    assert "Traceback" not in result.log


def _assert_metadata(doc: dict[str, Any], url: str, base: str) -> None:
    meta = doc["metadata"]
    path = url.removeprefix(base)
    assert meta["category"] == "docs" and meta["area"] == path.split("/")[1]
    assert meta["language"] == LANGUAGE[path]  # detected: the spider gives none
    assert meta["source_url"] == url and meta["site"] == "pages"
    assert meta["crawled_at"].endswith("Z")


def test_plain_dict_spider_delivered_to_the_api(tmp_path: Path) -> None:
    project = _project(tmp_path)
    with (
        running_website(tmp_path) as website,
        running_kbapi(tmp_path, token=TOKEN, model_id=MODEL) as api,
    ):
        env = crawl_env(tmp_path, KB_API_URL=api.url, KB_API_TOKEN=TOKEN, KB_CHAT_MODEL_ID=MODEL)
        # A small limit, so pages are split: the KB_* settings of that project are read.
        result = _crawl(project, website.url, tmp_path, env, KB_MAX_DOCUMENT_CHARS=1000)
        docs, base = api.documents(), website.url
    assert result.returncode == 0, result.stderr[-3000:]
    items = _jsonl([project / "items.jsonl"])
    assert sorted(i["url"] for i in items) == sorted(base + p for p in PATHS)
    by_url: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for doc in docs:
        by_url[doc["metadata"]["source_url"]].append(doc)
    assert set(by_url) == {i["url"] for i in items}
    for item in items:
        parts = by_url[item["url"]]
        assert join_parts(parts) == item["content"]  # the whole text, nothing else
        assert all(len(d["content"]) <= 1000 for d in parts)
        assert all(d["url"] == item["url"] for d in parts)
        assert all(d["title"].startswith(item["title"]) for d in parts)
        if len(parts) == 1:
            assert parts[0]["title"] == item["title"]
        for doc in parts:
            _assert_metadata(doc, item["url"], base)
    must = {p["path"]: p["must_contain"] for p in X.EXPECTED_PAGES}
    for item in items:
        assert must[item["url"].removeprefix(base)] in item["content"]
    assert result.stat("kb/pages_split") >= 1
    assert len(docs) == result.stat("kb/documents_posted")
    assert result.stat("kb/pages_delivered") == len(items)  # counted without a sync state
    assert result.stat("kb/credentials") == "accepted"
    assert not list((tmp_path / "outbox" / "pages" / "pending").glob("*.json"))
    _assert_dropped_with_reasons(result)
    assert TOKEN not in result.stderr and TOKEN not in result.stdout
    for path in tmp_path.rglob("*.json*"):
        assert TOKEN.encode() not in path.read_bytes(), path


def test_plain_dict_spider_without_token_writes_the_outbox(tmp_path: Path) -> None:
    project = _project(tmp_path)
    env = crawl_env(tmp_path)
    del env["KB_OUTBOX"], env["KB_STATE_DIR"]  # kbcrawler's defaults: under that project
    with running_website(tmp_path) as website:
        result = _crawl(project, website.url, tmp_path, env)
        base = website.url
    assert result.returncode == 0, result.stderr[-3000:]
    assert "No KB_API_TOKEN set" in result.log
    items = _jsonl([project / "items.jsonl"])
    docs = _jsonl(sorted((project / "outbox" / "pages").glob("*.jsonl")))
    assert len(items) == len(PATHS) == len(docs) == result.stat("kb/documents_written")
    by_url = {d["url"]: d for d in docs}
    for item in items:
        doc = by_url[item["url"]]
        assert (doc["title"], doc["content"]) == (item["title"], item["content"])
        _assert_metadata(doc, item["url"], base)
    _assert_dropped_with_reasons(result)


# -- dataclass, attrs and scrapy.Item items, through the pipeline built by get_crawler ------


@dataclass
class DataclassPage:
    title: str
    content: str
    url: str
    metadata: dict[str, Any] | None = None


@attrs.define
class AttrsPage:
    title: str
    content: str
    url: str
    metadata: dict[str, Any] | None = None


class ScrapyPage(scrapy.Item):
    title = scrapy.Field()
    content = scrapy.Field()
    url = scrapy.Field()
    metadata = scrapy.Field()


class ShopSpider(Spider):
    name = "shop"


ENGLISH = "Harbor keeps a small journal of every file it has seen on every machine. " * 8
FRENCH = "Harbor garde un petit journal de chaque fichier vu sur chaque machine du réseau. " * 8


def _dirs(tmp_path: Path) -> dict[str, str]:
    return {"KB_OUTBOX": str(tmp_path / "outbox"), "KB_STATE_DIR": str(tmp_path / "state")}


async def _deliver(tmp_path: Path, items: list[Any], **settings: Any) -> dict[str, Any]:
    """The items through a KnowledgeBasePipeline of a plain Scrapy spider; its stats."""
    crawler = get_crawler(ShopSpider, {**_dirs(tmp_path), **settings})
    crawler.spider = ShopSpider()
    crawler.stats.open_spider()
    pipeline = KnowledgeBasePipeline.from_crawler(crawler)
    await pipeline.open_spider()
    for item in items:
        assert pipeline.process_item(item) is item  # the item goes on as it came
    await pipeline.close_spider()
    return crawler.stats.get_stats()


@pytest.mark.parametrize("kind", [DataclassPage, AttrsPage, ScrapyPage])
def test_item_kinds_written_to_the_outbox(
    tmp_path: Path, kind: type, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KB_API_TOKEN", raising=False)
    items = [
        kind(title="Journal", content=ENGLISH, url="https://shop.test/a", metadata={"n": 1}),
        kind(title="Journal", content=FRENCH, url="https://shop.test/b", metadata=None),
        kind(title="Long", content=ENGLISH * 4, url="https://shop.test/c", metadata=None),
    ]
    stats = asyncio.run(_deliver(tmp_path, items, KB_MAX_DOCUMENT_CHARS=1000))
    docs = _jsonl(sorted((tmp_path / "outbox" / "shop").glob("*.jsonl")))
    assert stats["kb/pages"] == 3 and stats["kb/documents_written"] == len(docs)
    by_url: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for doc in docs:
        by_url[doc["url"]].append(doc)
    assert [d["metadata"]["language"] for d in by_url["https://shop.test/a"]] == ["en"]
    assert [d["metadata"]["language"] for d in by_url["https://shop.test/b"]] == ["fr"]
    assert by_url["https://shop.test/a"][0]["metadata"]["n"] == 1
    assert by_url["https://shop.test/a"][0]["content"] == ENGLISH
    long = by_url["https://shop.test/c"]
    assert len(long) > 1 and join_parts(long) == ENGLISH * 4
    assert all(len(d["content"]) <= 1000 and d["metadata"]["site"] == "shop" for d in docs)


def test_items_that_cannot_be_documents_are_dropped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KB_API_TOKEN", raising=False)

    async def run() -> tuple[list[str], dict[str, Any]]:
        crawler = get_crawler(ShopSpider, _dirs(tmp_path))
        crawler.spider = ShopSpider()
        crawler.stats.open_spider()
        pipeline = KnowledgeBasePipeline.from_crawler(crawler)
        await pipeline.open_spider()
        reasons = []
        for bad in (
            DataclassPage(title="t", content="text", url=""),
            ScrapyPage(title="t", url="https://shop.test/x"),
            {"title": "t", "content": "text", "url": "https://shop.test/y", "metadata": [1]},
            "not an item",
        ):
            with pytest.raises(ItemRefused) as refused:
                pipeline.process_item(bad)
            reasons.append(refused.value.reason)
        await pipeline.close_spider()
        return reasons, crawler.stats.get_stats()

    reasons, stats = asyncio.run(run())
    assert reasons == ["no_url", "no_content", "bad_metadata", "not_an_item"]
    assert {k: v for k, v in stats.items() if k.startswith("kb/dropped/")} == {
        "kb/dropped/no_url": 1,
        "kb/dropped/no_content": 1,
        "kb/dropped/bad_metadata": 1,
        "kb/dropped/not_an_item": 1,
    }
    assert not list((tmp_path / "outbox" / "shop").glob("*.jsonl"))


# -- page_of, url_of, the site and settings of another project --------------------------------


def test_page_of_reads_any_item_and_completes_the_metadata() -> None:
    item = {
        "title": "  A   title ",
        "content": ENGLISH,
        "url": "https://shop.test/a",
        "metadata": {"language": "nl", "site": "mine", "source_url": "https://elsewhere.test/"},
        "links": "not a list",  # another project's field of that name: not read
        "etag": '"v1"',
    }
    page = page_of(item, site="shop", lang_sample_chars=3000)
    assert page.url == "https://shop.test/a" and page.etag == '"v1"' and page.links == []
    assert page.document["title"] == "A title"
    meta = page.document["metadata"]
    assert meta["language"] == "nl" and meta["site"] == "mine"  # the item's own values win
    assert meta["source_url"] == "https://shop.test/a"  # except the page's key
    assert page.content_hash == page_of({**item, "content": f" {ENGLISH}\n"}, **KW).content_hash
    assert page.content_hash != page_of({**item, "content": FRENCH}, **KW).content_hash
    assert item["metadata"] == {  # the item itself is left as it came
        "language": "nl",
        "site": "mine",
        "source_url": "https://elsewhere.test/",
    }
    untitled = page_of({"content": ENGLISH, "url": "https://shop.test/getting-started"}, **KW)
    assert untitled.document["title"] == "Getting started"
    ours = PageItem(url="u", document={}, content_hash="h")
    assert page_of(ours, **KW) is ours


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        ({"title": "t", "content": "c"}, "no_url"),
        ({"url": 5, "content": "c"}, "no_url"),
        ({"url": "https://shop.test/", "content": "  \n"}, "no_content"),
        ({"url": "https://shop.test/", "content": "c", "title": 3}, "bad_title"),
        (
            {"url": "https://shop.test/", "content": "c", "metadata": {"a": {"b": 1}}},
            "bad_metadata",
        ),
        (["not", "an", "item"], "not_an_item"),
        ({"url": "/relative/page", "content": "c"}, "bad_url"),
        ({"url": "ftp://files.test/a.txt", "content": "c"}, "bad_url"),
    ],
)
def test_page_of_refuses_with_a_reason(item: Any, reason: str) -> None:
    with pytest.raises(ItemRefused) as refused:
        page_of(item, **KW)
    assert refused.value.reason == reason


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        # JSON has no NaN or Infinity: json.dumps wrote a bare NaN, which no JSON parser reads.
        ({"score": float("nan")}, "Item metadata 'score' is not a finite number (nan)"),
        ({"score": float("inf")}, "Item metadata 'score' is not a finite number (inf)"),
        # The key is what is wrong, not its (string) value.
        ({1: "one"}, "Item metadata key 1 is not a string (int)"),
    ],
)
def test_page_of_refuses_metadata_json_cannot_carry(metadata: Any, message: str) -> None:
    item = {"url": "https://shop.test/", "content": "c", "metadata": metadata}
    with pytest.raises(ItemRefused) as refused:
        page_of(item, **KW)
    assert refused.value.reason == "bad_metadata"
    assert str(refused.value) == f"{message}: https://shop.test/"


def test_url_of_any_item() -> None:
    assert url_of({"url": "https://a.test/"}) == "https://a.test/"
    assert url_of(DataclassPage(title="t", content="c", url="https://b.test/")) == "https://b.test/"
    assert url_of(ScrapyPage(title="t")) is None
    assert url_of("https://c.test/") is None


def test_another_projects_spider_and_settings() -> None:
    crawler = get_crawler(ShopSpider, {"KB_MAX_DOCUMENT_CHARS": 1234, "KB_MAX_IN_FLIGHT": 1})
    settings = kb_settings(crawler.settings)
    assert isinstance(settings, BaseSettings)
    assert settings.getint("KB_MAX_IN_FLIGHT") == 1  # the project's own setting wins
    assert settings.getint("KB_MAX_BATCH_DOCS") == 100  # kbcrawler's default fills the rest
    assert settings.get("KB_API_URL")
    site = delivery_site(ShopSpider(), settings)
    assert (site.name, site.max_document_chars, site.chat_model_id) == ("shop", 1234, None)
    assert flush_command(ShopSpider()) == "scrapy crawl shop"  # no kb-flush in that project


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("KB_MAX_DOCUMENT_CHARS", "abc", "KB_MAX_DOCUMENT_CHARS=abc: expected a whole number"),
        # The floor of the setting is the crawl's (1000), not the split's own 200.
        ("KB_MAX_DOCUMENT_CHARS", "500", "KB_MAX_DOCUMENT_CHARS=500: expected a whole number"),
        ("KB_FLUSH_SECONDS", "-1", "KB_FLUSH_SECONDS=-1: expected a number of at least 0.01"),
        ("KB_OUTBOX", "{blocker}/outbox", "{blocker} is not a folder"),
    ],
)
def test_another_project_with_a_bad_setting_closes_with_one_line(
    tmp_path: Path, setting: str, value: str, message: str
) -> None:
    """Another project has no `scrapy crawl` check up front: before, a bad value was a
    traceback building the pipeline, and an unwritable outbox a traceback per item (each
    logging the whole item) with every document lost and the crawl 'finished'."""
    project = _project(tmp_path)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    with running_website(tmp_path) as website:
        value = value.format(blocker=blocker)
        result = _crawl(project, website.url, tmp_path, crawl_env(tmp_path), **{setting: value})
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert result.stat("finish_reason") == "kb_bad_setting"
    errors = [line for line in result.stderr.splitlines() if " ERROR: " in line]
    assert len(errors) == 1 and message.format(blocker=blocker) in errors[0], errors
    assert result.stat("kb/documents_written") is None


@pytest.mark.parametrize(
    ("given", "posted"), [("en-US", "en"), ("eng", "en"), ("English", "en"), ("xx", "en")]
)
def test_an_items_language_is_posted_as_iso_639_1(given: str, posted: str) -> None:
    """A tag is reduced to ISO 639-1 as the crawl does; a name or junk is replaced by the
    language detected in the content (English here)."""
    item = {"url": "https://shop.test/a", "content": ENGLISH, "metadata": {"language": given}}
    assert page_of(item, **KW).document["metadata"]["language"] == posted
