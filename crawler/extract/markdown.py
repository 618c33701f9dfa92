"""A declared main region (an lxml element, chrome already removed) as Markdown.

The conversion is html-to-markdown's (Rust core; chosen over markdownify by measurement on
the Python, PostgreSQL and Doxygen documentation: see README "What is produced"). Before
it, the region is put in the shape the converter renders faithfully, by rule:

- ``<pre>`` blocks become one ``<code class="language-x">`` holding the block's text, so
  highlight spans and ``<em>`` placeholders (``NUMERIC(<em>precision</em>)``) stay inside
  one balanced fence, with the language hint of the generator's wrapper (``highlight-python3``);
- inline ``<code>`` holding nested markup (``<code>FROM <em><code>T1</code></em></code>``)
  becomes plain inline code, so the sentence keeps its word order;
- admonition titles (Sphinx ``p.admonition-title``, DocBook ``h3.title``, Docusaurus
  headings) become a bold label paragraph ("**Note**"), not a heading or a lost line;
- the Doxygen page title (``div.headertitle div.title``) becomes the ``<h1>``;
- inactive tab panels (``[role=tabpanel][hidden]``) are shown: their text is the page's too;
- links keep their text only and images are dropped, unless the site asks for them.
"""

from __future__ import annotations

import dataclasses
import re
from functools import lru_cache

import html_to_markdown
from lxml import etree
from lxml.html import HtmlElement

from crawler.extract.mainregion import has_class

__all__ = ["code_language", "region_to_markdown"]

_CODE_LANG = re.compile(
    r"(?:^|\s)(?:language|lang|highlight|brush:?)-?([a-z0-9_+#-]{1,20})(?:\s|$)|"
    r"(?:^|\s)sourceCode\s+([a-z0-9_+#-]{1,20})",
    re.IGNORECASE,
)
_NO_LANG = frozenset(
    {"default", "none", "text", "plaintext", "plain", "nohighlight", "notranslate", "source"}
)


def code_language(pre: HtmlElement) -> str | None:
    """Language hint from class names on <pre>, its <code> or up to two wrapper elements.

    'language-python', 'lang-js', 'highlight-python3', 'brush: sql', 'sourceCode bash' ->
    'python', 'js', 'python3', 'sql', 'bash'; None when no hint or a no-language word.
    """
    candidates = [pre, *pre.iter("code")]
    parent = pre.getparent()
    for _ in range(2):
        if parent is None:
            break
        candidates.append(parent)
        parent = parent.getparent()
    for element in candidates:
        for match in _CODE_LANG.finditer(element.get("class") or ""):
            lang = (match[1] or match[2] or "").lower()
            if lang and lang not in _NO_LANG:
                return lang
    return None


_ADMONITION_TITLES = etree.XPath(
    ".//*["
    + has_class("admonition-title", "admonition-heading")
    + " or contains(@class, 'admonitionHeading')"
    + "]|.//div["
    + has_class("note", "warning", "tip", "important", "caution", "danger", "hint")
    + "]/*[self::h1 or self::h2 or self::h3 or self::h4 or self::h5 or self::h6]"
    + "[" + has_class("title") + "]"
)  # fmt: skip
_DOXYGEN_TITLE = etree.XPath(f".//div[{has_class('headertitle')}]//div[{has_class('title')}]")
_DOXYGEN_FRAGMENTS = etree.XPath(f".//div[{has_class('fragment')}][div[{has_class('line')}]]")
_INLINE_CODE = etree.XPath(".//code[not(ancestor::pre)][*]")
_HIDDEN_TAB_PANELS = etree.XPath(".//*[@role='tabpanel'][@hidden]")
_LINE_NUMBERS = etree.XPath(f".//*[{has_class('lineno')}]")
_QUOTED_BLOCKS = etree.XPath(".//blockquote[.//pre]")
_MEDIA = ("img", "picture", "video", "audio", "source", "figure")
_TITLEPAGE_RULES = etree.XPath(f".//div[{has_class('titlepage')}]//hr")
# A term that is only Markdown block punctuation ('-' option of a command line, '*', '#')
# would render as an empty bullet, a rule or a heading: it is shown as inline code.
_MARKUP_ONLY = re.compile(r"[-+*#>=_~`|:.]+")


def _prepare(region: HtmlElement, *, links: bool, images: bool, tables: bool = True) -> None:
    """Put the region (in place) into the shape the converter renders faithfully."""
    if not tables:
        etree.strip_elements(region, "table", with_tail=False)
    for panel in _HIDDEN_TAB_PANELS(region):
        del panel.attrib["hidden"]  # an inactive tab's text is the page's too
    for quote in _QUOTED_BLOCKS(region):
        quote.drop_tag()  # docutils indents with <blockquote>: a fence must start its line
    for rule in _TITLEPAGE_RULES(region):  # DocBook's title page ends with <hr>: no content
        rule.drop_tree()
    for term in region.iter("dt"):
        label = " ".join(term.text_content().split())
        if _MARKUP_ONLY.fullmatch(label):
            for child in list(term):
                term.remove(child)
            term.text = None
            etree.SubElement(term, "code").text = label
    for title in _DOXYGEN_TITLE(region):
        title.tag = "h1"
    for title in _ADMONITION_TITLES(region):
        label = " ".join(title.text_content().split())
        tail = title.tail
        title.clear()
        title.tag = "p"
        strong = etree.SubElement(title, "strong")
        strong.text = label
        title.tail = tail
    for fragment in _DOXYGEN_FRAGMENTS(region):
        for number in _LINE_NUMBERS(fragment):
            number.drop_tree()  # source listings number their lines: not part of the code
        lines = [line.text_content() for line in fragment if "line" in line.classes]
        tail = fragment.tail
        fragment.clear()
        fragment.tag, fragment.text, fragment.tail = "pre", "\n".join(lines), tail
    for pre in list(region.iter("pre")):
        lang = code_language(pre)
        for br in pre.iter("br"):  # Prism (Docusaurus) ends each line with <br>, not "\n"
            br.tail = "\n" + (br.tail or "")
        text = pre.text_content()
        tail = pre.tail
        pre.clear()
        pre.tail = tail
        code = etree.SubElement(pre, "code")
        code.text = text
        if lang:
            code.set("class", f"language-{lang}")
    for code in _INLINE_CODE(region):
        etree.strip_tags(code, "*")
    _unwrap_source_lines(region)
    if not links:
        etree.strip_tags(region, "a")
    if not images:
        etree.strip_elements(region, *_MEDIA[:-1], with_tail=False)
        etree.strip_tags(region, "figure")


_SOURCE_LINE_BREAK = re.compile(r"[ \t]*[\r\n][ \t\r\n]*")


def _unwrap_source_lines(region: HtmlElement) -> None:
    """Join text the HTML source wrapped over lines (outside ``<pre>``: HTML ignores it).

    Run after the ``<pre>`` blocks were reduced to one ``<code>`` child each.
    """
    for element in region.iter():
        text = element.text
        if text and "\n" in text and element.tag != "pre":
            parent = element.getparent()
            if not (element.tag == "code" and parent is not None and parent.tag == "pre"):
                element.text = _SOURCE_LINE_BREAK.sub(" ", text)
        tail = element.tail
        if tail and "\n" in tail and element is not region:
            element.tail = _SOURCE_LINE_BREAK.sub(" ", tail)


@lru_cache(maxsize=1)
def _options() -> html_to_markdown.ConversionOptions:
    """Converter options, built once per process."""
    return html_to_markdown.ConversionOptions(
        heading_style="atx",
        bullets="-",
        list_indent_width=2,
        code_block_style="backticks",
        extract_metadata=False,
        autolinks=False,
        br_in_tables=False,  # cell paragraphs joined with a space: one line per row
        compact_tables=True,
        escape_asterisks=False,
        escape_underscores=False,
    )


def region_to_markdown(
    region: HtmlElement,
    *,
    links: bool = False,
    images: bool = False,
    tables: bool = True,
    base_url: str | None = None,
) -> str:
    """Markdown of a cleaned main region (modified in place); '' when it holds no text.

    Headings are ATX (``##``), lists use ``-``, code is fenced with backticks (with the
    language when known), tables are pipe tables (cell paragraphs joined with a space).
    ``links``/``images``: keep them as Markdown links/images (else link text only, no images),
    made absolute against ``base_url``; ``tables=False`` drops tables.
    """
    _prepare(region, links=links, images=images, tables=tables)
    html = etree.tostring(region, encoding="unicode", method="html", with_tail=False)
    options = _options()
    if (links or images) and base_url:  # relative hrefs and srcs made absolute
        options = dataclasses.replace(options, base_url=base_url)
    markdown = html_to_markdown.convert(html, options).content or ""
    return markdown.strip()
