"""Tests for pipelines.split: parts fit, stand alone, and give back the whole page."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pipelines.split import (
    CONTEXT_SEPARATOR,
    MAX_TITLE_CHARS,
    join_parts,
    normalize_ws,
    split_document,
    split_page,
    with_metadata,
)

URL = "https://docs.example.com/guide/install"


def make_doc(content: str, title: str = "Install guide", **metadata: Any) -> dict[str, Any]:
    return {
        "title": title,
        "content": content,
        "url": URL,
        "metadata": {"language": "en", **metadata},
    }


def bodies(parts: list[dict[str, Any]]) -> list[str]:
    """The page text each part carries, without the context the splitter added."""
    out = []
    for part in parts:
        meta = part["metadata"]
        content = part["content"]
        out.append(content[meta["context_chars"] : len(content) - meta["context_end_chars"]])
    return out


def cut_positions(parts: list[dict[str, Any]]) -> list[int]:
    """Offsets in the page where one part ends and the next begins."""
    positions, offset = [], 0
    for body in bodies(parts)[:-1]:
        offset += len(body)
        positions.append(offset)
    return positions


def check_worker_split(
    doc: dict[str, Any], parts: list[dict[str, Any]], max_chars: int, anchors: dict[str, str]
) -> None:
    """The extraction worker's split, given the metadata, is byte for byte the pipeline's."""
    early = split_page(doc["title"], doc["content"], doc["url"], max_chars, anchors)
    if len(doc["content"]) <= max_chars:
        assert early is None
        return
    assert early is not None and all(p["metadata"].get("language") is None for p in early)
    completed = with_metadata(early, doc["metadata"])
    assert [json.dumps(p) for p in completed] == [json.dumps(p) for p in parts]  # keys in order


def check_invariants(doc: dict[str, Any], parts: list[dict[str, Any]], max_chars: int) -> None:
    content = doc["content"]
    if len(content) <= max_chars:
        assert parts == [doc]
        return
    n = len(parts)
    assert n >= 2
    assert all(len(p["content"]) <= max_chars for p in parts)
    assert join_parts(parts) == content
    assert normalize_ws(join_parts(parts)) == normalize_ws(content)
    assert "".join(bodies(parts)) == content
    assert all(body for body in bodies(parts))
    assert len({p["title"] for p in parts}) == n
    for number, part in enumerate(parts, 1):
        meta = part["metadata"]
        assert meta["part"] == number
        assert meta["parts"] == n
        assert meta["source_url"] == doc["url"]
        assert isinstance(meta["section"], str)
        assert meta["language"] == doc["metadata"]["language"]
        assert part["title"].endswith(f"({number}/{n})")
        assert part["url"].split("#")[0] == doc["url"].split("#")[0]


def resplit(parts: list[dict[str, Any]], max_chars: int) -> list[dict[str, Any]]:
    """What the delivery pipeline does when the API refuses parts as too large."""
    return [sub for part in parts for sub in split_document(part, max_chars)]


def check_resplit(doc: dict[str, Any], parts: list[dict[str, Any]], max_chars: int) -> None:
    again = resplit(parts, max_chars)
    assert all(len(p["content"]) <= max_chars for p in again)
    assert join_parts(again) == doc["content"]
    assert len({p["title"] for p in again}) == len(again)
    assert [p["metadata"]["part"] for p in again] == sorted(p["metadata"]["part"] for p in again)
    assert {p["metadata"]["source_url"] for p in again} == {doc["url"]}


# --- unit tests ---------------------------------------------------------------------------


def test_short_document_is_returned_unchanged() -> None:
    doc = make_doc("# Title\n\nShort text.")
    parts = split_document(doc, 200)
    assert parts == [doc]
    assert parts[0] is doc
    assert "part" not in doc["metadata"]


def test_exactly_max_chars_is_not_split() -> None:
    doc = make_doc("a" * 300)
    assert split_document(doc, 300) == [doc]


@pytest.mark.parametrize("max_chars", [0, 1, 199, -5])
def test_max_chars_below_floor_raises(max_chars: int) -> None:
    with pytest.raises(ValueError, match="200"):
        split_document(make_doc("x"), max_chars)


def test_input_document_is_not_mutated() -> None:
    doc = make_doc("Sentence one here. " * 100)
    before = {**doc, "metadata": dict(doc["metadata"])}
    split_document(doc, 400)
    assert doc == before


def test_cuts_at_headings_and_packs_sections() -> None:
    sections = [f"## Section {i}\n\n" + f"Text of section {i}. " * 10 for i in range(12)]
    content = "\n\n".join(sections)
    doc = make_doc(content)
    parts = split_document(doc, 1000)
    check_invariants(doc, parts, 1000)
    # Every cut falls on a heading, and several sections share a part.
    for pos in cut_positions(parts):
        assert content[pos:].startswith("## Section ")
    assert len(parts) < len(sections) / 2
    for part, body in zip(parts, bodies(parts), strict=True):
        assert body.startswith("## Section ")
        assert part["content"] == "Install guide\n\n" + body
        assert part["metadata"]["section"] == body.split("\n")[0].removeprefix("## ")
        assert part["title"].startswith(f"Install guide — {part['metadata']['section']} (")


def test_prefers_higher_level_headings() -> None:
    def chapter(c: int) -> str:
        topics = [f"## Topic {c}.{t}\n\n" + "Words about it. " * 5 for t in range(3)]
        return f"# Chapter {c}\n\n" + "\n\n".join(topics)

    content = "\n\n".join(chapter(c) for c in range(6))
    doc = make_doc(content)
    max_chars = 2 * len(chapter(0)) + 40
    parts = split_document(doc, max_chars)
    check_invariants(doc, parts, max_chars)
    assert len(parts) == 3
    for pos in cut_positions(parts):
        assert content[pos:].startswith("# Chapter")


def test_context_line_carries_title_and_heading_path() -> None:
    content = "# Install guide\n\n## Linux\n\n### Debian\n\n" + "Run apt install foo now. " * 60
    doc = make_doc(content)
    parts = split_document(doc, 500)
    check_invariants(doc, parts, 500)
    first, second = parts[0], parts[1]
    assert first["metadata"]["context_chars"] == 0  # it begins with the page title itself
    assert first["content"].startswith("# Install guide")
    assert first["metadata"]["section"] == "Debian"  # the deepest heading it begins under
    expected = f"Install guide{CONTEXT_SEPARATOR}Linux{CONTEXT_SEPARATOR}Debian\n\n"
    assert second["content"].startswith(expected)
    assert second["metadata"]["context_chars"] == len(expected)
    assert second["metadata"]["section"] == "Debian"
    assert second["title"] == f"Install guide — Debian (2/{len(parts)})"


def test_part_beginning_with_a_heading_omits_it_from_the_context() -> None:
    content = "Intro. " * 40 + "\n\n## Usage\n\n" + "Use it well. " * 30
    doc = make_doc(content)
    parts = split_document(doc, 300)
    check_invariants(doc, parts, 300)
    usage = next(p for p in parts if p["metadata"]["section"] == "Usage")
    assert usage["content"].startswith("Install guide\n\n## Usage\n\n")


def test_paragraph_then_sentence_boundaries() -> None:
    paragraphs = ["First para sentence. " * 8, "Second one here! " * 40, "Third? Yes. " * 8]
    content = "\n\n".join(p.strip() for p in paragraphs)
    doc = make_doc(content, title="")
    parts = split_document(doc, 300)
    check_invariants(doc, parts, 300)
    for pos in cut_positions(parts):
        before = content[:pos].rstrip()
        assert before.endswith((".", "!", "?")), content[pos - 20 : pos + 5]
    # No title: the parts are named after the URL.
    assert parts[0]["title"] == f"{URL} (1/{len(parts)})"


def test_cjk_text_is_cut_after_full_stops() -> None:
    sentence = "这是一个没有空格的中文句子用于测试分割。"
    content = sentence * 80
    doc = make_doc(content, title="中文")
    parts = split_document(doc, 300)
    check_invariants(doc, parts, 300)
    for pos in cut_positions(parts):
        assert content[pos - 1] == "。"


def test_long_word_is_hard_cut() -> None:
    content = "x" * 5000
    doc = make_doc(content)
    parts = split_document(doc, 250)
    check_invariants(doc, parts, 250)
    assert len(parts) == 5000 // (250 - len("Install guide\n\n")) + 1


def test_parts_are_balanced_not_tiny() -> None:
    content = "Sentence number one is here. " * 11  # a bit over the limit
    doc = make_doc(content)
    parts = split_document(doc, 300)
    check_invariants(doc, parts, 300)
    assert len(parts) == 2
    assert min(len(p["content"]) for p in parts) > 100


def test_small_paragraphs_are_packed() -> None:
    content = "\n\n".join(f"Paragraph {i} has a little text." for i in range(200))
    doc = make_doc(content)
    parts = split_document(doc, 1000)
    check_invariants(doc, parts, 1000)
    assert len(parts) <= len(content) // 900 + 2


def test_table_that_fits_is_not_cut() -> None:
    table = "| name | value |\n|---|---|\n" + "".join(f"| key{i} | {i} |\n" for i in range(12))
    content = "Intro text here. " * 14 + "\n\n" + table + "\nAfter the table. " * 5
    doc = make_doc(content)
    parts = split_document(doc, 400)
    check_invariants(doc, parts, 400)
    start = content.index(table)
    assert not [p for p in cut_positions(parts) if start < p < start + len(table)]
    assert sum(table in body for body in bodies(parts)) == 1


def test_oversized_table_is_cut_at_rows_and_repeats_its_header() -> None:
    header = "| name | value |\n|------|-------|\n"
    rows = "".join(f"| key{i} | value {i} |\n" for i in range(60))
    content = "Intro.\n\n" + header + rows
    doc = make_doc(content)
    parts = split_document(doc, 300)
    check_invariants(doc, parts, 300)
    for pos in cut_positions(parts):
        assert content[pos - 1] == "\n"
    for part, body in zip(parts[1:], bodies(parts)[1:], strict=True):
        assert body.startswith("| key")
        assert part["content"].startswith("Install guide\n\n" + header)


def test_code_block_that_fits_is_not_cut() -> None:
    code = "```python\n" + "".join(f"# step {i}\nx = {i}\n\n" for i in range(8)) + "```"
    content = "Some words before. " * 12 + "\n\n" + code + "\n\n" + "Words after. " * 12
    doc = make_doc(content)
    parts = split_document(doc, 300)
    check_invariants(doc, parts, 300)
    start = content.index(code)
    assert not [p for p in cut_positions(parts) if start < p < start + len(code)]
    # Comment lines in code are not headings.
    assert all("step" not in p["metadata"]["section"] for p in parts)


def test_oversized_code_block_is_closed_and_reopened() -> None:
    code = "```python\n" + "".join(f"print({i})  # line {i}\n" for i in range(80)) + "```\n"
    content = "## Example\n\n" + code + "\nDone."
    doc = make_doc(content)
    parts = split_document(doc, 300)
    check_invariants(doc, parts, 300)
    for part in parts:
        fences = re.findall(r"^```", part["content"], flags=re.MULTILINE)
        assert len(fences) % 2 == 0, part["content"]
    for part in parts[1:]:
        assert part["content"].startswith(f"Install guide{CONTEXT_SEPARATOR}Example\n\n```python\n")
    for part in parts[:-1]:
        assert part["content"].endswith("\n```")
        assert part["metadata"]["context_end_chars"] == 3


def open_fence_at_end(text: str) -> str | None:
    """The fence still open at the end of ``text`` (CommonMark rules, containers allowed)."""
    fence = None
    for line in text.split("\n"):
        bare = re.sub(r"^(?:[ \t]*>)*[ \t]*", "", line)
        if fence is not None:
            if re.fullmatch(re.escape(fence[0]) + "{" + str(len(fence)) + r",}\s*", bare):
                fence = None
            continue
        bare = re.sub(r"^(?:[-*+]|\d{1,9}[.)])[ \t]+", "", bare)
        opening = re.match(r"(`{3,}|~{3,})(.*)$", bare)
        if opening and not (opening[1][0] == "`" and "`" in opening[2]):
            fence = opening[1]
    return fence


def test_comment_lines_of_an_oversized_code_block_are_not_sections() -> None:
    code = "```bash\n" + "".join(f"# step {i}: install\napt install pkg{i}\n" for i in range(40))
    content = "# Setup\n\nIntro.\n\n" + code + "```\n\n## After\n\nDone."
    doc = make_doc(content)
    parts = split_document(doc, 300)
    check_invariants(doc, parts, 300)
    assert {p["metadata"]["section"] for p in parts} <= {"Setup", "After"}
    for part in parts:
        assert "step" not in part["title"]
        assert open_fence_at_end(part["content"]) is None, part["content"]
    for part in parts[1:]:
        if part["metadata"]["section"] == "Setup":
            assert part["content"].startswith("Install guide › Setup\n\n```bash\n")


def test_fence_inside_a_list_item_is_a_fence() -> None:
    code = "Run:\n\n- ```python\n" + "".join(f"  # note {i}\n  x = {i}\n" for i in range(30))
    content = "## Steps\n\n" + code + "  ```\n\n" + "Then stop. " * 30
    doc = make_doc(content)
    parts = split_document(doc, 300)
    check_invariants(doc, parts, 300)
    assert {p["metadata"]["section"] for p in parts} == {"Steps"}
    for part in parts:
        assert open_fence_at_end(part["content"]) is None, part["content"]
    inside = [p for p in parts if "x = 5" in p["content"] and "- ```python" not in p["content"]]
    for part in inside:  # reopened flush left: indented, it would be an indented code block
        assert "\n\n```python\n" in part["content"]


def test_fence_never_closed_by_the_page_is_closed_in_its_last_part() -> None:
    content = "Intro words. " * 20 + "\n\n~~~~sh\n" + "".join(f"echo {i}\n" for i in range(60))
    doc = make_doc(content)
    parts = split_document(doc, 300)
    check_invariants(doc, parts, 300)
    assert parts[-1]["content"].endswith("\n~~~~")
    for part in parts:
        assert open_fence_at_end(part["content"]) is None, part["content"]
    for part in parts[2:]:
        assert "\n\n~~~~sh\n" in part["content"]


def test_long_titles_are_shortened_by_words_to_120_chars() -> None:
    title = "argparse — Parser for command-line options, arguments and sub-commands of programs"
    heading = "The add_argument() method and every one of its keyword arguments explained in depth"
    content = "Intro. " * 50 + f"\n\n## {heading}\n\n" + "Some words about it. " * 60
    parts = split_document(make_doc(content, title=title), 400)
    titled = [p for p in parts if p["metadata"]["section"] == heading]
    assert titled
    source_words = set(f"{title} {heading}".split())
    for part in parts:
        assert len(part["title"]) <= MAX_TITLE_CHARS
    for part in titled:
        name = re.sub(r" \(\d+/\d+\)$", "", part["title"])
        assert " — " in name and "…" in name
        # never cut mid-word: every word is a word of the title or heading ("…" after it)
        assert all(word.rstrip("…") in source_words for word in name.split() if word != "—")
        assert name.startswith("argparse — Parser")
        assert name.split(" — ")[-1].startswith("The add_argument() method")


def test_deep_context_lines_drop_middle_levels_first() -> None:
    levels = [f"{'#' * n} Level {n} heading with a rather long descriptive name" for n in (2, 3, 4)]
    content = "\n\n".join(levels) + "\n\n" + "Deep words here. " * 80
    parts = split_document(make_doc(content, title="Guide"), 300)
    check_invariants(make_doc(content, title="Guide"), parts, 300)
    line = parts[-1]["content"].split("\n\n", 1)[0]
    assert len(line) <= 150
    assert line.startswith(f"Guide{CONTEXT_SEPARATOR}…{CONTEXT_SEPARATOR}")
    assert line.endswith("Level 4 heading with a rather long descriptive name")


def test_code_line_longer_than_limit_is_hard_cut_inside_fences() -> None:
    content = "```\n" + "y" * 1000 + "\n```\n"
    doc = make_doc(content)
    parts = split_document(doc, 200)
    check_invariants(doc, parts, 200)
    for part in parts:
        assert len(re.findall(r"^```", part["content"], flags=re.MULTILINE)) % 2 == 0


def test_anchors_give_section_fragments() -> None:
    content = (
        "Intro. " * 40
        + "\n\n## Install\n\n"
        + "Install it. " * 40
        + "\n\n### On Linux\n\n"
        + "Apt it. " * 40
        + "\n\n## Use **it**\n\n"
        + "Use it. " * 40
    )
    doc = make_doc(content)
    doc["url"] = URL + "#top"
    anchors = {"Install": "install", "use it": "usage"}
    parts = split_document(doc, 300, anchors=anchors)
    check_invariants(doc, parts, 300)
    check_worker_split(doc, parts, 300, anchors)
    by_section: dict[str, set[str]] = {}
    for part in parts:
        by_section.setdefault(part["metadata"]["section"], set()).add(part["url"])
        assert part["metadata"]["source_url"] == URL + "#top"
    assert by_section[""] == {URL + "#top"}  # no heading: the page URL as given
    assert by_section["Install"] == {URL + "#install"}
    assert by_section["On Linux"] == {URL + "#install"}  # nearest anchored heading above
    assert by_section["Use **it**"] == {URL + "#usage"}  # matched loosely (markup, case)


def test_very_long_title_is_truncated_in_the_context() -> None:
    title = "T" * 5000
    content = "## Part\n\n" + "Some words here. " * 100
    doc = make_doc(content, title=title)
    parts = split_document(doc, 200)
    check_invariants(doc, parts, 200)
    for part in parts:
        assert part["metadata"]["context_chars"] <= 100
        assert part["content"].startswith("TTT")
        assert len(part["title"]) <= MAX_TITLE_CHARS
    # The title is shortened; the deepest heading stays whole.
    assert f"…{CONTEXT_SEPARATOR}Part\n\n" in parts[1]["content"]


def test_join_parts_accepts_parts_out_of_order_and_unsplit_docs() -> None:
    doc = make_doc("Words and more words. " * 50)
    parts = split_document(doc, 300)
    assert join_parts(list(reversed(parts))) == doc["content"]
    small = make_doc("tiny")
    assert join_parts(split_document(small, 300)) == "tiny"


def test_a_part_refused_as_too_large_can_be_split_again() -> None:
    code = "```python\n" + "".join(f"print({i})\n" for i in range(150)) + "```\n"
    content = "## Setup\n\n" + "Set it up now. " * 80 + "\n\n## Code\n\n" + code
    doc = make_doc(content)
    parts = split_document(doc, 1000, anchors={"Code": "code"})
    again = resplit(parts, 300)
    check_resplit(doc, parts, 300)
    assert len(again) > len(parts)
    split_part = [p for p in again if "subpart" in p["metadata"]]
    assert split_part
    for sub in split_part:
        meta = sub["metadata"]
        number, total = meta["part"], meta["parts"]
        assert sub["title"].endswith(f"({number}.{meta['subpart']}/{total})")
        assert meta["subparts"] >= 2
        assert meta["section"] in ("Setup", "Code")
        if meta["section"] == "Code":
            assert sub["url"] == URL + "#code"
            # Still a well-formed code block, with the page context in front.
            opening = f"Install guide({CONTEXT_SEPARATOR}Code\n\n|\n\n## Code\n\n)```python\n"
            assert re.match(opening, sub["content"]), sub["content"][:80]
            assert len(re.findall(r"^```", sub["content"], flags=re.MULTILINE)) % 2 == 0
    # And once more, smaller still.
    check_resplit(doc, again, 200)


def test_tables_without_a_blank_line_between_them_are_one_table() -> None:
    table_a = "| a | b |\n|---|---|\n" + "".join(f"| row {i} | value {i} |\n" for i in range(6))
    table_b = "".join(f"| more {i} | other {i} |\n" for i in range(6))
    content = "Intro.\n\n" + table_a + table_b + "\nAfter."
    doc = make_doc(content, title="Guide")
    parts = split_document(doc, 200)
    check_invariants(doc, parts, 200)
    start = content.index(table_a)
    inside = [p for p in cut_positions(parts) if start < p < start + len(table_a + table_b)]
    assert inside  # together they do not fit, so the table is cut...
    for pos in inside:  # ...at row starts, each later piece repeating the first table's header
        assert content[pos - 1] == "\n"
    for part, body in zip(parts, bodies(parts), strict=True):
        if body.startswith(("| row", "| more")):
            assert part["content"].startswith("Guide\n\n| a | b |\n|---|---|\n| ")


def test_glued_tables_found_in_ci_are_cut_only_at_a_row_start() -> None:
    doc = make_doc(GLUED_TABLES, title="Guide")
    parts = split_document(doc, 200)
    check_invariants(doc, parts, 200)
    assert cut_positions(parts) == [39, 216]  # before the "## the the the" heading, at a row
    assert parts[2]["content"].startswith(f"Guide{CONTEXT_SEPARATOR}the{CONTEXT_SEPARATOR}")
    assert bodies(parts)[2].startswith("| the | the |\n\n# the")
    assert parts[2]["content"].split("\n\n")[1].startswith("| the | the the the |\n| the |")


def test_normalize_ws() -> None:
    assert normalize_ws("  a\n\n b\t c\u3000d  ") == "a b c d"


# --- property tests -----------------------------------------------------------------------


@dataclass
class Page:
    content: str
    atomic: list[tuple[int, int]] = field(default_factory=list)  # spans of tables and code
    headers: dict[int, str] = field(default_factory=dict)  # table start -> its header lines


VOCABULARY = [
    "the",
    "a",
    "install",
    "run",
    "server",
    "config",
    "naïve",
    "straße",
    "e.g.",
    "3.14",
    "v2.0",
    "API",
    "key",
    "value",
    "page",
    "docs",
    "ok",
    "yes",
    "no",
    "data",
    "crawl",
    "split",
    "part",
    "token",
    "über",
    "façade",
    "x",
    "y",
    "z",
    "foo",
    "bar",
    "baz",
    "lorem",
    "ipsum",
]
WORD = st.sampled_from(VOCABULARY)  # one draw per word keeps generation fast
CJK = st.text(
    alphabet=[chr(c) for c in range(0x4E00, 0x4E60)] + ["。", "！", "，"], min_size=1, max_size=40
)


def words(min_size: int = 1, max_size: int = 12) -> st.SearchStrategy[str]:
    return st.lists(WORD, min_size=min_size, max_size=max_size).map(" ".join)


sentence = st.tuples(words(), st.sampled_from([".", "!", "?", ",", ""])).map("".join)
paragraph = st.lists(sentence, min_size=1, max_size=8).map(" ".join)
heading = st.tuples(st.integers(1, 6), words(1, 5)).map(lambda t: "#" * t[0] + " " + t[1])
bullet_list = st.lists(words(1, 8).map(lambda w: "- " + w), min_size=1, max_size=6).map("\n".join)
long_word = st.integers(100, 3000).map(lambda n: "w" * n)
# Long runs are built by repetition: drawing thousands of characters one by one is slow.
cjk_text = st.tuples(CJK, st.integers(1, 60)).map(lambda t: t[0] * t[1])
long_line = st.tuples(words(3, 8), st.integers(10, 80)).map(lambda t: " ".join([t[0]] * t[1]))


@st.composite
def table(draw: st.DrawFn) -> str:
    cols = draw(st.integers(1, 4))
    rows = draw(
        st.lists(st.lists(words(1, 3), min_size=cols, max_size=cols), min_size=1, max_size=12)
    )
    lines = ["| " + " | ".join(row) + " |" for row in rows]
    if draw(st.booleans()):
        lines.insert(1, "|" + "---|" * cols)
    return "\n".join(lines)


@st.composite
def code_block(draw: st.DrawFn) -> str:
    lang = draw(st.sampled_from(["", "python", "bash", "c++ {.numberLines}"]))
    fence = draw(st.sampled_from(["```", "````", "~~~"]))
    # Comment lines look like headings; "comment" is no heading's word, so a section
    # starting with it would be a comment taken for a heading.
    comment = words(0, 4).map(lambda w: "# comment " + w)
    line = st.one_of(words(0, 8), comment, st.just(""), st.just("#"))
    lines = draw(st.lists(line, max_size=25))
    if draw(st.booleans()):  # inside a list item, as html-to-Markdown converters write it
        body = [f"  {x}" if x else "" for x in [f"{fence}{lang}", *lines, fence]]
        return "- " + "\n".join(body)[2:]
    return "\n".join([f"{fence}{lang}", *lines, fence])


BLOCK = st.one_of(
    heading.map(lambda b: ("text", b)),
    paragraph.map(lambda b: ("text", b)),
    bullet_list.map(lambda b: ("text", b)),
    table().map(lambda b: ("table", b)),
    code_block().map(lambda b: ("code", b)),
    long_word.map(lambda b: ("text", b)),
    cjk_text.map(lambda b: ("text", b)),
    long_line.map(lambda b: ("text", b)),
)


@st.composite
def page(draw: st.DrawFn) -> Page:
    blocks = draw(st.lists(BLOCK, min_size=1, max_size=20))
    out = Page("")
    previous = ""
    for kind, text in blocks:
        separator = ""
        if out.content:
            separator = draw(st.sampled_from(["\n\n", "\n\n", "\n\n\n", "\n"]))
            out.content += separator
        if kind == "table" and previous == "table" and separator == "\n":
            # No blank line between them: in Markdown the two tables are one table.
            out.atomic[-1] = (out.atomic[-1][0], len(out.content) + len(text))
        elif kind in ("table", "code"):
            out.atomic.append((len(out.content), len(out.content) + len(text)))
            if kind == "table" and "\n|---" in text:
                rows = text.split("\n")
                out.headers[len(out.content)] = rows[0] + "\n" + rows[1] + "\n"
        out.content += text
        previous = kind
    if previous == "code" and draw(st.booleans()):
        # a page whose last code block is never closed (an extraction gone wrong)
        out.content = out.content.rsplit("\n", 1)[0]
        out.atomic[-1] = (out.atomic[-1][0], len(out.content))
    return out


TITLES = st.one_of(st.just("Guide"), st.just(""), st.text(max_size=400))
LIMITS = st.integers(200, 1500)
FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Found in CI: two generated tables with only "\n" between them (55..173 and 174..229) are one
# 10-row table in Markdown, which with its context line is over 200 chars, so a cut at a row
# start inside it (216) is right; the generator now records such tables as one atomic span.
GLUED_TABLES = (
    "```\n```\n\n# the\n\n# the\n\n# the\n\n```\n```\n\n## the the the\n\n"
    "| the | the the the |\n| the | the |\n| the | the |\n| the | the the the |\n"
    "| the | the the the |\n| the | the the server |\n| the | the |\n| the | the |\n"
    "| the | the |\n| the | the |\n\n# the\n\n# the the\n\n# the the the"
)


@FAST
@given(page(), LIMITS, TITLES)
@example(pg=Page(GLUED_TABLES, atomic=[(0, 7), (30, 37), (55, 229)]), max_chars=200, title="Guide")
def test_property_parts_fit_join_back_and_keep_blocks(pg: Page, max_chars: int, title: str) -> None:
    doc = make_doc(pg.content, title=title, category="docs")
    headings = re.findall(r"^#{1,6} (.+)$", pg.content, flags=re.MULTILINE)
    anchors = {text: f"h{i}" for i, text in enumerate(headings)}
    parts = split_document(doc, max_chars, anchors=anchors)
    check_invariants(doc, parts, max_chars)
    check_worker_split(doc, parts, max_chars, anchors)
    if len(parts) == 1:
        return
    assert all(p["metadata"]["category"] == "docs" for p in parts)
    # The context takes at most half of a part, so a block this short always fits whole.
    cuts = cut_positions(parts)
    for start, end in pg.atomic:
        if end - start + 1 <= max_chars - max_chars // 2:
            assert not [p for p in cuts if start < p < end], pg.content[start:end]
    for part in parts:
        assert len(part["title"]) <= MAX_TITLE_CHARS
        assert not part["metadata"]["section"].startswith("comment"), part["metadata"]
        # never starts or ends inside a fence without reopening / closing it
        assert open_fence_at_end(part["content"]) is None, part["content"]
    # a piece of a cut table starting at a row repeats the table's header and |---| line
    for pos, part in zip(cuts, parts[1:], strict=True):
        table = next(((a, b) for a, b in pg.atomic if a < pos < b and a in pg.headers), None)
        if table and pg.content[pos - 1] == "\n" and pos >= table[0] + len(pg.headers[table[0]]):
            header = pg.headers[table[0]]
            if len(header) <= max_chars // 2 - 2:
                head = part["content"][: part["metadata"]["context_chars"]]
                assert head.endswith(header), (head, header)
    check_resplit(doc, parts, max(200, max_chars * 2 // 3))
    # Every heading has an anchor here, so every part under a heading links to it.
    for part in parts:
        if part["metadata"]["section"]:
            assert part["url"].startswith(URL + "#h")
        else:
            assert part["url"] == URL


@settings(max_examples=100, deadline=None)
@given(
    st.text(min_size=0, max_size=3000),
    st.integers(200, 600),
    st.text(max_size=2000),
)
def test_property_arbitrary_text(content: str, max_chars: int, title: str) -> None:
    doc = make_doc(content, title=title)
    check_invariants(doc, split_document(doc, max_chars), max_chars)
