"""Tests for the fidelity benchmark's scoring (tests/fidelity/score.py): pure functions.

The benchmark itself (``python -m tests.fidelity``) crawls real sites and is not run here.
"""

from __future__ import annotations

from tests.fidelity.corpora import CORPORA
from tests.fidelity.score import (
    Reference,
    code_comment_sections,
    markdown,
    parse_html,
    reference,
    score_page,
)

SPHINX_PAGE = b"""<html><head><title>Guide &#8212; Python 3.11.2 documentation</title></head>
<body><div class="sphinxsidebar"><h3>Next topic</h3><p>Other</p></div>
<div class="body" role="main">
<section id="guide"><h1>Guide<a class="headerlink" href="#guide">\xc2\xb6</a></h1>
<nav class="contents local" id="contents"><ul><li><a href="#a">Install</a></li></ul></nav>
<p>Run the <code class="docutils literal"><span class="pre">tool</span></code> now.</p>
<section id="install"><h2>Install<a class="headerlink" href="#install">\xc2\xb6</a></h2>
<div class="highlight"><pre># comment
pip install tool</pre></div>
<div class="admonition note"><p class="admonition-title">Note</p><p>Use a venv first.</p></div>
<div class="versionchanged"><p><span class="versionmodified">Changed in version 3.2: </span>
faster.</p></div>
<ul><li><p>first item here</p></li><li><p>second item</p><ul><li>nested one</li></ul></li></ul>
<table class="docutils"><thead><tr><th>Name</th><th>Value</th></tr></thead>
<tbody><tr><td><p>alpha</p></td><td>1</td></tr></tbody></table>
</section></section></div></body></html>"""

FAITHFUL = """# Guide

Run the `tool` now.

## Install

```bash
# comment
pip install tool
```

> **Note**
>
> Use a venv first.

Changed in version 3.2: faster.

- first item here
- second item
  - nested one

| Name | Value |
|---|---|
| alpha | 1 |
"""

LOSSY = """**Guide¶**

Run the tool now, as in ``` tool

Install

# comment
pip install tool

Use a venv first.

first item here

Next topic
"""


def sphinx_reference() -> Reference:
    ref = reference(parse_html(SPHINX_PAGE), CORPORA["python"].region)
    assert ref is not None
    return ref


def test_reference_is_the_main_region_without_its_chrome() -> None:
    ref = sphinx_reference()
    assert ref.headings == [" guide ", " install "]
    assert "next" not in ref.tokens  # the sidebar is not in the region
    assert "¶" not in "".join(ref.tokens)
    assert ref.pres == [" comment pip install tool "]
    assert ref.admonitions == [("note", "use a venv first"), ("", "changed in version 3 2 faster")]
    assert ref.items == [" first item here ", " second item ", " nested one "]
    assert ref.tables == [[" name ", " value ", " alpha ", " 1 "]]
    # block boundaries separate words; the in-page table of contents is dropped
    assert ref.tokens[:6] == ["guide", "run", "the", "tool", "now", "install"]


def test_a_faithful_document_keeps_everything() -> None:
    counts = score_page(sphinx_reference(), FAITHFUL)
    for metric in ("words", "headings", "pre", "admonitions", "tables", "items"):
        total, kept = counts[metric]
        assert total and kept == total, (metric, counts)
    assert counts["midline_fences"] == counts["unbalanced_fences"] == 0
    assert counts["pilcrows"] == counts["nav_leaks"] == 0


def test_a_lossy_document_is_counted_as_such() -> None:
    counts = score_page(sphinx_reference(), LOSSY)
    assert counts["headings"] == (2, 0)  # bold text and a plain line are not headings
    assert counts["pre"] == (1, 0)  # the code lost its fence
    assert counts["admonitions"] == (2, 0)  # label gone; the version note is gone
    assert counts["tables"] == (1, 0)
    assert counts["items"] == (3, 0)
    words_total, words_kept = counts["words"]
    assert 0 < words_kept < words_total
    assert counts["midline_fences"] == 1
    assert counts["pilcrows"] == 1
    assert counts["nav_leaks"] == 1
    assert counts["missed"]["headings"] == ["guide", "install"]


def test_markdown_fences_in_lists_escapes_and_unbalanced_fences() -> None:
    md = markdown("- ```py\n  # not a heading\n  ```\n\nharbor\\_arm64\n\n```\nopen")
    assert md.code_headings == {"not a heading"}
    assert md.headings == []
    assert md.unbalanced_fences == 1
    assert "harbor_arm64" in md.tokens
    assert markdown("Use ```a``` inline.").midline_fences == 0


def test_code_comment_sections_counts_parts_titled_by_code() -> None:
    ref = sphinx_reference()
    assert ref.code_comments == {"comment"}
    parts = [{"metadata": {"section": "Install"}}, {"metadata": {"section": "comment"}}]
    assert code_comment_sections(parts, ref) == 1


DOCBOOK_PAGE = b"""<html><body><div class="navheader">Prev Up Next</div>
<div class="sect1"><div class="titlepage"><div><div><h2 class="title">7.2. Table Expressions</h2>
</div></div></div><div class="toc"><dl><dt><span class="sect2">7.2.1. The FROM Clause</span></dt>
</dl></div>
<div class="note"><h3 class="title">Note</h3><p>Never mix join syntaxes in one query.</p></div>
<div class="procedure"><ol><li class="step"><p><strong>Stop the old server</strong></p>
<p>Then wait for it to exit cleanly.</p></li></ol></div>
<table><tr><th>State</th><th>Meaning</th></tr><tr><td>active</td><td><ul><li><p>executing a
query</p></li></ul></td></tr></table>
</div><div class="navfooter">Home</div></body></html>"""


def test_docbook_admonition_titles_are_labels_and_the_toc_is_chrome() -> None:
    ref = reference(parse_html(DOCBOOK_PAGE), CORPORA["postgresql"].region)
    assert ref is not None
    assert [h.strip() for h in ref.headings] == ["7 2 table expressions"]  # not "note"
    assert ref.admonitions == [("note", "never mix join syntaxes in one query")]
    assert "from" not in ref.tokens  # the div.toc entry is not the page's text
    # a step scored by its first block; a list in a table cell counts with its table
    assert [i.strip() for i in ref.items] == ["stop the old server"]
    kept = score_page(ref, "## 7.2. Table Expressions\n\n1. **Stop the old server**\n\n   Then")
    assert kept["headings"] == (1, 1)
    assert kept["items"] == (1, 1)


def test_sphinx_contents_nav_without_local_is_chrome() -> None:
    page = SPHINX_PAGE.replace(b'class="contents local"', b'class="contents"')
    ref = reference(parse_html(page), CORPORA["python"].region)
    assert ref is not None
    assert [i.strip() for i in ref.items] == ["first item here", "second item", "nested one"]


def test_what_the_page_itself_says_is_no_leak() -> None:
    page = b"""<html><body><div class="header"><div class="title">Markdown</div></div>
<div class="contents"><p>Use 3 or more backticks (```) to fence code.</p>
<dl><dt><code>$search</code></dt><dd>the search box</dd></dl>
<p><code>&amp;para;</code> pilcrow sign: \xc2\xb6</p></div></body></html>"""
    ref = reference(parse_html(page), CORPORA["doxygen"].region)
    assert ref is not None
    doc = (
        "# Markdown\n\nUse 3 or more backticks (```) to fence code.\n\n"
        "`$search`\n\nthe search box\n\n"
    )
    counts = score_page(ref, doc + "`&para;` pilcrow sign: ¶")
    assert (counts["midline_fences"], counts["nav_leaks"], counts["pilcrows"]) == (0, 0, 0)
    counts = score_page(ref, doc + "`&para;` pilcrow sign: ¶\n\nSearch\n\nMore ¶")
    assert (counts["nav_leaks"], counts["pilcrows"]) == (1, 1)
