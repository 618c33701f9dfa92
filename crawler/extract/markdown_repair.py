"""Markdown repairs: the minimal fixes trafilatura's Markdown needs (outside code fences)."""

from __future__ import annotations

import re

from crawler.extract.preclean import BLANK_MARK

__all__ = ["repair_markdown"]

_FENCE = re.compile(r"^\s*(`{3,}|~{3,})\s*$")
_LIST_ITEM = re.compile(r"^(?:[-*+]|\d{1,9}[.)])\s")
_TABLE_SEPARATOR = re.compile(r"^\|(?:\s*:?-{3,}:?\s*\|)+$")
_UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")


def _fix_table(rows: list[str]) -> list[str]:
    """GFM needs a separator after the first row; trafilatura omits it for <th>-less tables."""
    if len(rows) >= 2 and _TABLE_SEPARATOR.match(rows[1]):
        return rows
    if _TABLE_SEPARATOR.match(rows[0]):
        return rows
    cells = max(1, len(_UNESCAPED_PIPE.split(rows[0])) - 2)
    return [rows[0], "|" + "---|" * cells, *rows[1:]]


def repair_markdown(markdown: str, code_languages: dict[str, str]) -> str:
    """Minimal fixes to trafilatura's Markdown (outside code fences only).

    - blank line before/after fenced code (trafilatura glues the next paragraph to the fence)
    - fence gets its language hint back (trafilatura drops class="language-x")
    - indented continuation lines (raw source wrapping kept in paragraphs with inline code)
      are joined to their paragraph/list item
    - trailing spaces removed, table separator rows added, 3+ blank lines collapsed
    """
    lines = markdown.replace(BLANK_MARK, "").split("\n")
    out: list[str] = []
    fence: str | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        match = _FENCE.match(line)
        if fence is not None:
            out.append(line)
            if match and match[1] == fence:
                fence = None
                if i + 1 < len(lines) and lines[i + 1].strip():
                    out.append("")
            i += 1
            continue
        if match:
            fence = match[1]
            if out and out[-1].strip():
                out.append("")
            nxt = next((ln.strip() for ln in lines[i + 1 :] if ln.strip()), "")
            lang = code_languages.get(nxt) if nxt != fence else None
            out.append(line.rstrip() + (lang or ""))
            i += 1
            continue
        line = line.rstrip()
        if line.startswith("|"):
            j = i
            while j < len(lines) and lines[j].startswith("|"):
                j += 1
            out.extend(_fix_table([row.rstrip() for row in lines[i:j]]))
            i = j
            continue
        stripped = line.lstrip()
        prev = out[-1] if out else ""
        if (
            stripped
            and stripped != line
            and prev.strip()
            and not prev.startswith("|")
            and not _FENCE.match(prev)
            and not _LIST_ITEM.match(stripped)
        ):
            out[-1] = f"{prev} {stripped}"
        elif stripped or (out and out[-1]):
            out.append(line if stripped else "")
        i += 1
    return "\n".join(out).strip()
