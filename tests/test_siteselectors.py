"""A site's own selectors and title suffix (issue 16, point 4), and llms.txt seeding (point 5)."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml.html import document_fromstring

from crawler.config import ConfigError, parse_site_config
from crawler.extract.core import extract_page
from crawler.options import ExtractOptions
from crawler.runrecords import read_url_records
from crawler.sitefiles import markdown_links
from crawler.siteselectors import compile_title_suffix, remove_title_suffix, site_selectors
from tests.crawl_runner import crawl_site, write_site
from tests.servers.website import THEME_PAGES, running_website

SELECTOR_KEYS = {
    "content_selector": ".kb-answer",
    "exclude_selectors": [".upsell", "div.teaser"],
    "title_suffix": r"/ ~~ Harbor Knowledge Hub( \(beta\))?/",
}
UPSELL = "Upgrade to Harbor Pro today"


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ("content_selector: 'div['\n", "content_selector: invalid CSS selector 'div['"),
        ("exclude_selectors: ['p::first-line']\n", "exclude_selectors: invalid CSS selector"),
        ("title_suffix: '/(Docs/'\n", "title_suffix: invalid regex '(Docs'"),
        ("content_selector: ''\n", "content_selector: a CSS selector cannot be empty"),
    ],
)
def test_bad_selectors_are_one_line(keys: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_site_config("start_urls: [https://docs.example.com/]\n" + keys, "d.yaml", "d")
    assert message in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("title", "suffix", "expected"),
    [
        ("Install ~~ Acme Help (beta)", " ~~ Acme Help (beta)", "Install"),  # a literal
        ("Install ~~ ACME HELP (beta)", " ~~ Acme Help (beta)", "Install"),
        ("Install :: Acme", r"/\s*::\s*Acme( Help)?/", "Install"),  # a regex
        ("Install :: Acme Help", r"/\s*::\s*Acme( Help)?/", "Install"),
        ("Acme Help (beta)", "Acme Help (beta)", "Acme Help (beta)"),  # never the whole title
        ("Install", " ~~ Acme", "Install"),
    ],
)
def test_title_suffix(title: str, suffix: str, expected: str) -> None:
    assert remove_title_suffix(title, compile_title_suffix(suffix)) == expected


def test_several_content_matches_are_gathered_in_order_and_excludes_go_first() -> None:
    options = ExtractOptions(content_selector="section.doc", exclude_selectors=(".ad",))
    selectors = site_selectors(options)
    assert selectors is site_selectors(ExtractOptions(**vars(options)))  # compiled once
    tree = document_fromstring(
        "<html><body><section class='doc'><p>one</p><div class='ad'>buy</div>"
        "<section class='doc'><p>inner</p></section></section><p>chrome</p>"
        "<section class='doc'><p>two</p></section></body></html>"
    )
    assert selectors.drop_excluded(tree) == 1
    region = selectors.content_region(tree)
    assert region.text_content() == "oneinnertwo"


def test_selectors_change_what_extraction_gives() -> None:
    hidden, promo = THEME_PAGES["/themes/hidden.html"], THEME_PAGES["/themes/promo.html"]
    plain = extract_page(hidden, "https://x.org/themes/hidden.html")
    assert plain.skip_reason == "thin"  # the generic extraction misses the <aside> article
    options = ExtractOptions(
        content_selector=SELECTOR_KEYS["content_selector"],
        exclude_selectors=tuple(SELECTOR_KEYS["exclude_selectors"]),
        title_suffix=SELECTOR_KEYS["title_suffix"],
    )
    page = extract_page(hidden, "https://x.org/themes/hidden.html", options)
    assert page.title == "Replication" and "replication protocol" in page.content
    assert UPSELL in extract_page(promo, "https://x.org/themes/promo.html").content
    page = extract_page(promo, "https://x.org/themes/promo.html", options)
    assert UPSELL not in page.content and "Quotas are checked every night" in page.content
    assert page.title == "Quotas"


def test_selectors_end_to_end(tmp_path: Path) -> None:
    with running_website(tmp_path) as website:
        keys = {
            "start_urls": [website.url + "/themes/hidden.html"],
            "sitemap_urls": [website.url + "/no-sitemap.xml"],
            "allow": ["/themes/"],
        }
        config = write_site(tmp_path, "themes", **keys, **SELECTOR_KEYS)
        result = crawl_site(config, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    docs = {d["url"].rsplit("/", 1)[1]: d for d in result.documents("themes")}
    assert set(docs) == {"hidden.html", "promo.html"}
    assert docs["hidden.html"]["title"] == "Replication"
    assert "replication protocol" in docs["hidden.html"]["content"]
    assert "explained for new administrators" not in docs["hidden.html"]["content"]
    assert docs["promo.html"]["title"] == "Quotas"
    assert UPSELL not in docs["promo.html"]["content"]
    assert "Quotas are checked every night" in docs["promo.html"]["content"]


# -- llms.txt ---------------------------------------------------------------------------------


def test_markdown_links_of_an_llms_txt() -> None:
    text = (
        "# Docs\n> About\n- [Guide](/guide.html): the guide\n"
        '- [API [v2]](https://docs.example.com/api.html "API")\n- [Full](<llms-full.txt>)\n'
        "- [Mail](mailto:docs@example.com)\n- [Again](/guide.html#top)\n"
    )
    assert markdown_links(text, "https://docs.example.com/llms.txt", 10) == [
        "https://docs.example.com/guide.html",
        "https://docs.example.com/api.html",
        "https://docs.example.com/llms-full.txt",
    ]
    assert len(markdown_links(text, "https://docs.example.com/llms.txt", 2)) == 2


def test_llms_txt_seeds_the_crawl(tmp_path: Path) -> None:
    with running_website(tmp_path) as website:
        config = write_site(
            tmp_path,
            "llms",
            start_urls=[website.url + "/llms-only/start.html"],
            sitemap_urls=[website.url + "/no-sitemap.xml"],
            allow=["/llms-only/"],
            seed_llms_txt=True,
        )
        result = crawl_site(config, tmp_path)
        paths = website.requested_paths()
    assert result.returncode == 0, result.stderr[-3000:]
    urls = {d["url"].removeprefix(website.url) for d in result.documents("llms")}
    # overview is linked only from llms.txt, details only from llms-full.txt
    assert urls == {"/llms-only/start.html", "/llms-only/overview.html", "/llms-only/details.html"}
    assert paths.count("/llms.txt") == 1 and paths.count("/llms-full.txt") == 1
    records = {
        r["url"]: r["reason"]
        for path in (tmp_path / "state" / "llms" / "runs").glob("*.urls.jsonl")
        for r in read_url_records(path)
    }
    assert records[website.url + "/en/guide.html"] == "denied"  # outside the site's rules
    assert records["http://offsite.invalid/status"] == "offsite"
    assert result.stat("llms_txt/pages") == 2  # overview and details


def test_selectors_join_the_document_signature_only_when_set() -> None:
    plain = parse_site_config("start_urls: [https://d.example.com/]\n", "d.yaml", "d")
    assert set(plain.document_signature()) == {
        "max_document_chars",
        "metadata",
        "language",
        "min_chars",
    }  # fmt: skip  (an upgrade does not re-send every page of existing sites)
    themed = parse_site_config(
        "start_urls: [https://d.example.com/]\ncontent_selector: main\n", "d.yaml", "d"
    )
    assert themed.document_signature()["content_selector"] == "main"
