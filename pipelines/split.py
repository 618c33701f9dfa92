"""Split a long page into standalone parts that each fit the knowledge base's content limit.

Why: the import API answers ``DOCUMENT_TOO_LARGE`` for content over ``max_document_chars``, yet
a retrieved part must still make sense alone and the parts together must hold the whole page.

Cut points, best first: headings (``#`` before ``##`` …), blank-line paragraph boundaries, line
starts, sentence ends, whitespace, and a hard cut as the last resort. Pipe tables and fenced code
blocks are only cut when they alone exceed the limit, and then at line starts.

A part's ``content`` is::

    [context line + "\\n\\n"] [reopened fence or table header] <exact slice of the page> [fence]

- The context line is the page title and the headings the part sits under, joined by " › "
  (``"Install guide › Linux › Debian"``); a heading the part itself begins with is left out.
  When it would take more than half of ``max_chars``, middle levels give way to "…"
  (``"Install guide › … › Debian"``), then the page title and the last heading are shortened
  after a whole word.
- Code fences are found as CommonMark does (also inside a list item or blockquote: ``- ```py``),
  so a ``# comment`` line in code is never a heading. When a part starts inside an oversized
  code block its fence is repeated with the same info string (flush left), and a part ending
  inside one is closed with the fence; so is the last part of a page whose last code block is
  never closed. Inside an oversized table the header row and its ``|---|`` line are repeated.
- A part's title is ``"Page title — Section (2/5)"`` in at most :data:`MAX_TITLE_CHARS`
  characters, both names shortened after a whole word when needed.
- ``metadata.context_chars`` / ``metadata.context_end_chars`` are the lengths of what was added
  before / after the slice, so :func:`join_parts` gives back the page's content exactly.
- A part can be split again under a smaller limit (the API refused it as too large): its
  sub-parts keep ``part``/``parts``/``source_url``, add ``subpart``/``subparts`` and are
  titled ``"… (2.1/5)"``.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain, pairwise
from typing import Any
from urllib.parse import quote, urldefrag

__all__ = [
    "CONTEXT_SEPARATOR",
    "MAX_TITLE_CHARS",
    "MIN_MAX_CHARS",
    "join_parts",
    "normalize_ws",
    "split_document",
    "split_page",
    "with_metadata",
]

MIN_MAX_CHARS = 200
MAX_TITLE_CHARS = 120  # a part's title, counter included
CONTEXT_SEPARATOR = " › "
_ELLIPSIS = "…"
_MAX_FENCE = 16  # longer fences are too odd to reopen; such blocks are cut without reopening
_MIN_CONTEXT_LINE = 8  # below this a truncated context line says nothing
_FRAGMENT_SAFE = "!$&'()*+,;=:@/?-._~%"  # RFC 3986 fragment characters, kept as they are

# Cut levels: 0..5 = headings H1..H6, then the fallbacks in order of preference.
_PARA, _LINE, _SENTENCE, _SPACE, _HARD = 6, 7, 8, 9, 10

_HEADING_RE = re.compile(r" {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t\r]*$")
# A fence may sit in a container (blockquote ``>``, list item ``-``/``1.``), as html-to-Markdown
# converters write code inside list items; the container prefix is group 1.
_FENCE_RE = re.compile(r"((?:[ \t]*>)*[ \t]*(?:(?:[-*+]|\d{1,9}[.)])[ \t]+)?)(`{3,}|~{3,})(.*)$")
_PARA_RE = re.compile(r"\n[ \t\r]*\n(?:[ \t\r]*\n)*(?=[ \t]*\S)")
_LINE_RE = re.compile(r"\n(?=[ \t]*\S)")
_SENTENCE_RE = re.compile(r"(?:[.!?][\"'”’»)\]]*\s+|[。！？][」』”’）)]*\s*)(?=\S)")
_SPACE_RE = re.compile(r"(?<=\s)(?=\S)")
_LEADING_WS_RE = re.compile(r"\s*")
_COUNTER_RE = re.compile(r"\s*\(([\d.]+)/(\d+)\)$")
_INLINE_MARKUP_RE = re.compile(r"[*_`]|[¶#]+\s*$")


def normalize_ws(text: str) -> str:
    """Collapse whitespace runs to one space and strip, to compare texts whatever their layout."""
    return " ".join(text.split())


def join_parts(parts: list[dict[str, Any]]) -> str:
    """Give back the page content from its parts by stripping the context each part carries."""
    # Stable: the sub-parts of a part split again share its number and keep their order.
    ordered = sorted(parts, key=lambda p: int((p.get("metadata") or {}).get("part", 0)))
    pieces = []
    for part in ordered:
        content: str = part["content"]
        meta = part.get("metadata") or {}
        head = int(meta.get("context_chars", 0))
        tail = int(meta.get("context_end_chars", 0))
        pieces.append(content[head : len(content) - tail])
    return "".join(pieces)


def split_document(
    doc: dict[str, Any], max_chars: int, *, anchors: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """Return ``[doc]`` when it fits, else standalone parts whose content is <= ``max_chars``.

    ``anchors`` maps heading text to the element id of that heading on the page, so a part can
    link to its section (``url#id``); the deepest heading of the part's path that has one wins.
    A part made here can be split again (when the API refuses it as too large): see
    :func:`_split_part`.
    """
    if max_chars < MIN_MAX_CHARS:
        raise ValueError(f"max_chars must be at least {MIN_MAX_CHARS}, got {max_chars}")
    content: str = doc.get("content") or ""
    if len(content) <= max_chars:
        return [doc]
    meta = dict(doc.get("metadata") or {})
    if isinstance(meta.get("context_chars"), int) and "part" in meta:
        return _split_part(doc, meta, max_chars)

    url: str = doc.get("url") or ""
    page_title = normalize_ws(doc.get("title") or "")
    splitter = _Splitter(content, max_chars, page_title)
    pieces = splitter.pieces()
    find_anchor = _anchor_finder(anchors or {})
    label = page_title or url
    parts: list[dict[str, Any]] = []
    for number, (start, end) in enumerate(pieces, 1):
        path, section = splitter.section_at(start, end)
        shown = section if _key(section) not in ("", _key(label)) else ""
        title = _part_title(label, shown, f"{number}/{len(pieces)}")
        anchor = find_anchor(path)
        part_url = f"{urldefrag(url).url}#{quote(anchor, safe=_FRAGMENT_SAFE)}" if anchor else url
        extra = {"part": number, "parts": len(pieces), "section": section, "source_url": url}
        parts.append(_make_part(doc, splitter, start, end, title, part_url, meta | extra))
    return parts


def split_page(
    title: str, content: str, url: str, max_chars: int, anchors: Mapping[str, str]
) -> list[dict[str, Any]] | None:
    """The parts of a page that does not fit, made without its metadata; None when it fits.

    Splitting is the costly step of the item pipeline, so the extraction worker does it for
    the limit in force when the page was sent; :func:`with_metadata` completes the parts.
    """
    if len(content) <= max_chars:
        return None
    page = {"title": title, "content": content, "url": url, "metadata": {}}
    return split_document(page, max_chars, anchors=anchors)


def with_metadata(parts: list[dict[str, Any]], metadata: Mapping[str, Any]) -> list[dict[str, Any]]:
    """:func:`split_page`'s parts given the page's metadata: what :func:`split_document` makes."""
    return [{**part, "metadata": {**metadata, **part["metadata"]}} for part in parts]


def _split_part(doc: dict[str, Any], meta: dict[str, Any], max_chars: int) -> list[dict[str, Any]]:
    """Split a part again under a smaller limit, keeping its page, place and numbering.

    The sub-parts keep ``part``/``parts``/``source_url``/``url``, add ``subpart``/``subparts``,
    and are titled ``"… (2.1/5)"``. The part's context line becomes their page title, and a
    reopened fence / table header and a closing fence stay context, so joining still gives back
    exactly the page's text.
    """
    content: str = doc["content"]
    head_len, tail_len = meta["context_chars"], int(meta.get("context_end_chars", 0))
    body = content[head_len : len(content) - tail_len]
    crumb, found, reopen = content[:head_len].partition("\n\n")
    if not found:
        crumb, reopen = "", content[:head_len]
    tail = content[len(content) - tail_len :]
    title: str = doc.get("title") or ""
    numbered = _COUNTER_RE.search(title)
    if numbered:
        base, counter, total = title[: numbered.start()], numbered[1], numbered[2]
    else:
        base, counter, total = title, str(meta.get("part", "")), str(meta.get("parts", ""))

    # Re-parse with the reopened fence / header and closing fence so the structure is right;
    # should a cut land inside them (absurdly long ones), fall back to the bare body.
    for head, end_text in ((reopen, tail), ("", "")):
        text = head + body + end_text
        splitter = _Splitter(text, max_chars, crumb)
        pieces = splitter.pieces()
        if pieces[0][1] >= len(head) and pieces[-1][0] <= len(text) - len(end_text):
            break
    parts: list[dict[str, Any]] = []
    for number, (start, end) in enumerate(pieces, 1):
        _, section = splitter.section_at(start, end)
        extra = {
            "subpart": number,
            "subparts": len(pieces),
            "section": section or meta.get("section", ""),
        }
        parts.append(
            _make_part(
                doc,
                splitter,
                start,
                end,
                _part_title(base.strip(), "", f"{counter}.{number}/{total}"),
                doc.get("url") or "",
                meta | extra,
                extra_head=len(head) if start == 0 else 0,
                extra_tail=len(end_text) if end == len(text) else 0,
            )
        )
    return parts


def _make_part(
    doc: dict[str, Any],
    splitter: _Splitter,
    start: int,
    end: int,
    title: str,
    url: str,
    metadata: dict[str, Any],
    *,
    extra_head: int = 0,
    extra_tail: int = 0,
) -> dict[str, Any]:
    """One part: context + slice + closing context, with the context lengths for join_parts."""
    head, tail = splitter.prefix(start), splitter.suffix(end)
    return {
        **doc,
        "title": title,
        "content": head + splitter.text[start:end] + tail,
        "url": url,
        "metadata": metadata
        | {"context_chars": len(head) + extra_head, "context_end_chars": len(tail) + extra_tail},
    }


def _shorten(text: str, room: int) -> str:
    """``text`` in at most ``room`` characters, cut after a whole word and ended with "…".

    Only a first word longer than ``room`` (a URL, CJK text without spaces) is cut inside.
    """
    if len(text) <= room:
        return text
    if room <= 1:
        return _ELLIPSIS[:room]
    body = text[: room - 1]
    if not text[room - 1].isspace():
        last_space = max(body.rfind(" "), body.rfind("\t"), body.rfind("\u3000"))
        if body[:last_space].strip():
            body = body[:last_space]
    return body.rstrip(" \t\u3000—›-:,;") + _ELLIPSIS


def _pair(first: str, second: str, separator: str, room: int) -> str:
    """``first + separator + second`` in ``room`` characters, both kept, shortened by words.

    ``second`` (the deepest heading, the most specific) keeps at least half of the room.
    """
    if len(first) + len(separator) + len(second) <= room:
        return first + separator + second
    avail = room - len(separator)
    if avail < 2:
        return _shorten(second, room)
    tail = _shorten(second, max(avail - len(first), avail // 2))
    head = _shorten(first, avail - len(tail))
    return head + separator + tail if head else _shorten(second, room)


def _context_line(crumbs: Sequence[str], room: int) -> str:
    """The heading path in ``room`` characters: whole, else middle levels dropped for "…".

    The page title and the deepest heading always stay (shortened by words if need be); the
    levels next to the deepest one go last.
    """
    line = CONTEXT_SEPARATOR.join(crumbs)
    if len(line) <= room or not crumbs:
        return line if len(line) <= room else ""
    if len(crumbs) == 1:
        return _shorten(crumbs[0], room)
    middle = list(crumbs[1:-1])
    while middle:
        middle.pop(0)
        line = CONTEXT_SEPARATOR.join([crumbs[0], _ELLIPSIS, *middle, crumbs[-1]])
        if len(line) <= room:
            return line
    between = CONTEXT_SEPARATOR + (_ELLIPSIS + CONTEXT_SEPARATOR if len(crumbs) > 2 else "")
    return _pair(crumbs[0], crumbs[-1], between, room)


def _part_title(label: str, section: str, counter: str) -> str:
    """``"label — section (counter)"`` in at most :data:`MAX_TITLE_CHARS`, shortened by words."""
    room = MAX_TITLE_CHARS - len(counter) - 3
    named = _pair(label, section, " — ", room) if section else _shorten(label, room)
    return f"{named} ({counter})".strip()


def _key(text: str) -> str:
    """Compare heading texts loosely: no inline markup, no header-link marks, any case."""
    return normalize_ws(_INLINE_MARKUP_RE.sub("", text)).casefold()


def _anchor_finder(anchors: Mapping[str, str]) -> Callable[[tuple[_Heading, ...]], str]:
    """Look a heading path up in ``anchors``, exact text first, then loosely."""
    loose = {_key(text): ident for text, ident in anchors.items() if ident}

    def find(path: tuple[_Heading, ...]) -> str:
        for heading in reversed(path):
            ident = anchors.get(heading.text) or loose.get(_key(heading.text))
            if ident:
                return ident
        return ""

    return find


@dataclass(frozen=True, slots=True)
class _Heading:
    pos: int  # start of the heading's line
    level: int
    text: str


@dataclass(frozen=True, slots=True)
class _Block:
    """A pipe table or fenced code block: kept whole unless it alone exceeds the limit."""

    kind: str  # "code" or "table"
    start: int
    end: int  # after the block's last line (and its newline)
    body_start: int  # after the opening fence line / the table header
    close_start: int  # start of the closing fence line (code) or ``end`` (table)
    fence: str  # the fence characters, code only
    reopen: str  # what to repeat at the top of a part that starts inside the body
    closed: bool = True  # False for a code block the page never closes


def _parse(content: str) -> tuple[list[_Heading], list[_Block]]:
    """Find headings, code blocks and tables, line by line (headings in code are not headings)."""
    lines = content.split("\n")
    starts: list[int] = []
    offset = 0
    for line in lines:
        starts.append(offset)
        offset += len(line) + 1
    size = len(content)

    def line_end(index: int) -> int:
        return min(starts[index] + len(lines[index]) + 1, size)

    headings: list[_Heading] = []
    blocks: list[_Block] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        fence = _FENCE_RE.match(line) if "``" in line or "~~" in line else None
        if fence and not (fence.group(2)[0] == "`" and "`" in fence.group(3)):
            marks, info = fence.group(2), fence.group(3).strip()
            closing = re.compile(re.escape(marks[0]) + "{" + str(len(marks)) + r",}\s*")
            j = i + 1
            while j < len(lines):
                bare = lines[j].lstrip(" \t>")  # no blockquote markers, no indentation
                if bare[:1] == marks[0] and closing.fullmatch(bare):
                    break
                j += 1
            closed = j < len(lines)
            blocks.append(
                _Block(
                    kind="code",
                    start=starts[i],
                    end=line_end(j) if closed else size,
                    body_start=line_end(i),
                    close_start=starts[j] if closed else size,
                    fence=marks,
                    # reopened without its container: an indented fence after the context
                    # line would be an indented code block, not a fence
                    reopen=f"{marks}{info}\n",
                    closed=closed,
                )
            )
            i = j + 1
            continue
        if line.lstrip().startswith("|"):
            j = i
            while j + 1 < len(lines) and lines[j + 1].lstrip().startswith("|"):
                j += 1
            header_last = i + 1 if j > i and _is_table_rule(lines[i + 1]) else i
            body_start = line_end(header_last)
            end = line_end(j)
            reopen = content[starts[i] : body_start]
            if not reopen.endswith("\n"):
                reopen += "\n"
            blocks.append(_Block("table", starts[i], end, body_start, end, "", reopen))
            i = j + 1
            continue
        heading = _HEADING_RE.match(line)
        if heading:
            headings.append(_Heading(starts[i], len(heading.group(1)), heading.group(2).strip()))
        i += 1
    return headings, blocks


def _is_table_rule(line: str) -> bool:
    """True for a table's ``|---|:--:|`` line, which belongs to the header."""
    stripped = line.strip()
    return "-" in stripped and set(stripped) <= set("|-: \t")


class _Splitter:
    """The parsed page and the choice of cut points; positions are offsets into the content."""

    def __init__(self, content: str, max_chars: int, page_title: str) -> None:
        self.text = content
        self.size = len(content)
        self.max_chars = max_chars
        self.context_cap = max_chars // 2  # context never takes more than half of a part
        self.page_title = page_title
        self.headings, self.blocks = _parse(content)
        self.heading_pos = [h.pos for h in self.headings]
        self.block_starts = [b.start for b in self.blocks]
        self.stacks: list[tuple[_Heading, ...]] = []
        stack: tuple[_Heading, ...] = ()
        for heading in self.headings:
            stack = (*(h for h in stack if h.level < heading.level), heading)
            self.stacks.append(stack)
        self._prefixes: dict[int, str] = {}
        self.oversized: set[int] = set()
        for index, block in enumerate(self.blocks):
            if not self.fits(block.start, block.end):
                self.oversized.add(index)
        # Line, sentence and word boundaries are many (one per word) and rarely needed:
        # paragraphs usually fit. They are found the first time a cut must go finer.
        self.level_of = self._cut_levels(fine=False)
        self._fine = False
        self._cuts = self._by_level(self.level_of)

    @staticmethod
    def _by_level(level_of: dict[int, int]) -> list[list[int]]:
        cuts: list[list[int]] = [[] for _ in range(_HARD)]
        for pos, level in sorted(level_of.items()):
            cuts[level].append(pos)
        return cuts

    def cuts(self, level: int) -> list[int]:
        """Sorted cut positions of ``level`` (finer levels are computed on first use)."""
        if level > _PARA and not self._fine:
            self._fine = True
            self.level_of = self._cut_levels(fine=True)
            self._cuts = self._by_level(self.level_of)
        return self._cuts[level]

    # --- context -----------------------------------------------------------------------------

    def section_at(self, start: int, end: int) -> tuple[tuple[_Heading, ...], str]:
        """Heading path of the part's first text: past the headings it begins with, if any."""
        path, own = self._path(start)
        while own is not None and own.pos < end:
            path = self.stacks[bisect_left(self.heading_pos, own.pos)]
            line_end = self.text.find("\n", own.pos)
            if line_end == -1 or line_end >= end:
                break
            _, own = self._path(line_end + 1)
        return path, normalize_ws(path[-1].text) if path else ""

    def _path(self, start: int) -> tuple[tuple[_Heading, ...], _Heading | None]:
        """Headings a part starting here sits under, and the heading it begins with, if any."""
        leading = _LEADING_WS_RE.match(self.text, start)
        first_text = leading.end() if leading else start
        index = bisect_left(self.heading_pos, start)
        if index < len(self.headings) and self.heading_pos[index] <= first_text:
            return self.stacks[index][:-1], self.headings[index]
        return (self.stacks[index - 1] if index else ()), None

    def prefix(self, start: int) -> str:
        """Context put before the part starting at ``start``: where it is, reopened structure."""
        cached = self._prefixes.get(start)
        if cached is not None:
            return cached
        path, own = self._path(start)
        crumbs: list[str] = []
        for text in (self.page_title, *(normalize_ws(h.text) for h in path)):
            if text and not (crumbs and _key(crumbs[-1]) == _key(text)):
                crumbs.append(text)
        if own and crumbs and _key(crumbs[-1]) == _key(own.text):
            crumbs.pop()
        reopen = self._reopen(start)
        room = self.context_cap - len(reopen) - 2
        line = _context_line(crumbs, room) if room >= _MIN_CONTEXT_LINE else ""
        result = (line + "\n\n" if line else "") + reopen
        self._prefixes[start] = result
        return result

    def _reopen(self, start: int) -> str:
        """Fence line or table header to repeat when a part starts inside an oversized block."""
        block = self._oversized_block_at(start)
        if block is None:
            return ""
        if block.kind == "code":
            if len(block.fence) > _MAX_FENCE or not block.body_start <= start <= block.close_start:
                return ""
            reopen = block.reopen
            if len(reopen) > self.context_cap // 2:
                # an absurdly long info string: keep its first word, the language
                reopen = block.reopen[: self.context_cap // 2].split(maxsplit=1)[0] + "\n"
            return reopen
        if start >= block.body_start and self.text[start - 1] == "\n":
            return block.reopen if len(block.reopen) <= self.context_cap - 2 else ""
        return ""

    def suffix(self, end: int) -> str:
        """Closing fence for a part that ends inside a code block: an oversized one it cuts,
        or one the page never closes."""
        if end >= self.size:
            block = self.blocks[-1] if self.blocks else None
            if block is None or block.kind != "code" or block.closed or self.size <= block.start:
                return ""
        else:
            block = self._oversized_block_at(end)
        if (
            block is None
            or block.kind != "code"
            or len(block.fence) > _MAX_FENCE
            or not block.body_start <= end <= block.close_start
        ):
            return ""
        return block.fence if self.text[end - 1] == "\n" else "\n" + block.fence

    def _block_index_at(self, pos: int) -> int | None:
        """Index of the block that strictly contains ``pos`` (a cut there would split it)."""
        index = bisect_right(self.block_starts, pos) - 1
        if index >= 0 and self.blocks[index].start < pos < self.blocks[index].end:
            return index
        return None

    def _oversized_block_at(self, pos: int) -> _Block | None:
        index = self._block_index_at(pos)
        return self.blocks[index] if index is not None and index in self.oversized else None

    def fits(self, start: int, end: int) -> bool:
        """Whether the part ``[start, end)`` with its context stays within ``max_chars``."""
        return self._part_len(start, end) <= self.max_chars

    def _part_len(self, start: int, end: int) -> int:
        return len(self.prefix(start)) + (end - start) + len(self.suffix(end))

    # --- cut points --------------------------------------------------------------------------

    def _cut_levels(self, *, fine: bool) -> dict[int, int]:
        """Allowed cut positions and their best level; none inside a table or code that fits.

        Without ``fine`` only headings and paragraph boundaries: the levels up to
        ``_PARA`` are the same either way, finer levels never displace a coarser one.
        """
        best: dict[int, int] = {}

        def allow(pos: int, level: int) -> None:
            if 0 < pos < self.size and best.get(pos, _HARD) > level:
                best[pos] = level

        for heading in self.headings:
            allow(heading.pos, heading.level - 1)
        for block in self.blocks:
            allow(block.start, _PARA)
            allow(block.end, _PARA)
        patterns = [(_PARA, _PARA_RE)]
        if fine:
            patterns += [(_LINE, _LINE_RE), (_SENTENCE, _SENTENCE_RE), (_SPACE, _SPACE_RE)]
        for level, pattern in patterns:
            for match in pattern.finditer(self.text):
                pos = match.end()
                index = self._block_index_at(pos)
                if index is None:
                    allow(pos, level)
                elif index in self.oversized:
                    # Inside an oversized block only line starts, then whitespace, are fair.
                    if self.text[pos - 1] == "\n":
                        allow(pos, _LINE)
                    elif self.text[pos - 1].isspace():
                        allow(pos, _SPACE)
        return best

    def pieces(self) -> list[tuple[int, int]]:
        """Contiguous ``(start, end)`` slices covering the whole content, each fitting."""
        cuts = [end for _, end in self._pack(0, self.size, 0, 0)][:-1]
        # Greedy packing leaves its slack in the last piece of a run: move each cut earlier,
        # to a boundary at least as good, while that evens out a small piece with the one before.
        for index in range(len(cuts) - 1, -1, -1):
            lo = cuts[index - 1] if index else 0
            hi = cuts[index + 1] if index + 1 < len(cuts) else self.size
            cuts[index] = self._balance(lo, cuts[index], hi)
        bounds = [0, *cuts, self.size]
        return list(pairwise(bounds))

    def _balance(self, lo: int, cut: int, hi: int) -> int:
        """Move ``cut`` earlier to even out a small piece ``[cut, hi)`` with ``[lo, cut)``.

        The cut stays within the run it was splitting (after the last better boundary before
        it) or moves onto that better boundary, so cut quality never drops.
        """
        left, right = self._part_len(lo, cut), self._part_len(cut, hi)
        if right * 2 >= left:
            return cut
        level = self.level_of.get(cut, _HARD)
        floor = lo
        for positions in map(self.cuts, range(min(level, _HARD))):
            index = bisect_left(positions, cut) - 1
            if index >= 0 and positions[index] > floor:
                floor = positions[index]
        if level >= _HARD:
            candidates: Sequence[int] = range(floor + 1, cut)
        else:
            same = self.cuts(level)
            candidates = same[bisect_right(same, floor) : bisect_left(same, cut)]
        best, best_smaller = cut, right
        for pos in chain((floor,) if floor > lo else (), candidates):
            left, right = self._part_len(lo, pos), self._part_len(pos, hi)
            if (
                min(left, right) > best_smaller
                and max(left, right) <= self.max_chars
                and self._cut_allowed(pos)
                and not self._after_heading(pos)
            ):
                best, best_smaller = pos, min(left, right)
        return best

    def _cut_allowed(self, pos: int) -> bool:
        """False inside a table or code block that fits (it is never cut)."""
        index = self._block_index_at(pos)
        return index is None or index in self.oversized

    def _after_heading(self, pos: int) -> bool:
        """True when only a heading precedes ``pos`` on its lines: the heading would be orphaned."""
        index = bisect_left(self.heading_pos, pos) - 1
        if index < 0:
            return False
        line_end = self.text.find("\n", self.heading_pos[index])
        return line_end == -1 or line_end >= pos or not self.text[line_end:pos].strip()

    def _pack(self, lo: int, hi: int, level: int, start: int) -> list[tuple[int, int]]:
        """Cover ``[start, hi)`` greedily, cutting ``[lo, hi)`` at ``level`` or finer.

        ``start < lo`` lets text before ``lo`` (headings, a scrap) open the first piece.
        """
        if self.fits(start, hi):
            return [(start, hi)]
        if level >= _HARD:
            return self._hard_cut(start, hi)
        positions = self.cuts(level)
        cuts = positions[bisect_right(positions, lo) : bisect_left(positions, hi)]
        if not cuts:
            return self._pack(lo, hi, level + 1, start)
        out: list[tuple[int, int]] = []
        cur_start, cur_end = start, lo
        for seg_start, seg_end in zip([lo, *cuts], [*cuts, hi], strict=True):
            if self.fits(cur_start, seg_end):
                cur_end = seg_end
                continue
            # Headings ending the current part belong with what follows them.
            tail = self._heading_tail(cur_start, cur_end)
            if self.fits(seg_start, seg_end):
                new_start = tail if self.fits(tail, seg_end) else seg_start
                if new_start > cur_start:
                    out.append((cur_start, new_start))
                cur_start, cur_end = new_start, seg_end
                continue
            # The segment must be cut: a scrap (under a quarter of a part) leads its first piece
            # rather than standing alone, and so do headings.
            if self._part_len(cur_start, cur_end) > self.max_chars // 4:
                if tail > cur_start:
                    out.append((cur_start, tail))
                cur_start = tail
            sub = self._pack(seg_start, seg_end, level + 1, cur_start)
            out.extend(sub[:-1])
            cur_start, cur_end = sub[-1]
        out.append((cur_start, cur_end))
        return out

    def _heading_tail(self, start: int, end: int) -> int:
        """Where the headings (and blank lines) that end ``[start, end)`` begin, else ``end``."""
        pos = end
        index = bisect_left(self.heading_pos, end) - 1
        while index >= 0 and self.heading_pos[index] >= start:
            line_end = self.text.find("\n", self.heading_pos[index])
            if line_end != -1 and line_end < pos and self.text[line_end:pos].strip():
                break
            pos = self.heading_pos[index]
            index -= 1
        return pos

    def _hard_cut(self, start: int, hi: int) -> list[tuple[int, int]]:
        """Cut anywhere: the last resort for a run of text with no usable boundary."""
        out: list[tuple[int, int]] = []
        while not self.fits(start, hi):
            end = min(hi - 1, start + self.max_chars - len(self.prefix(start)))
            while end > start + 1 and not self.fits(start, end):
                end -= 1
            out.append((start, end))
            start = end
        out.append((start, hi))
        return out
