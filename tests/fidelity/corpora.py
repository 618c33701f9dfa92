"""The corpora: real generator output shipped by Debian packages, and where each puts content.

Each corpus is one documentation site as its generator wrote it, served unchanged:

- ``python``: the Python documentation (Sphinx), package ``python3-doc``, ~530 pages;
- ``postgresql``: the PostgreSQL manual (DocBook XSL), package ``postgresql-doc-15``,
  ~1,170 pages;
- ``doxygen``: the Doxygen manual (Doxygen's own HTML output), package ``doxygen-doc``,
  ~35 pages, some of them very long (the command and configuration references).

Plus ``perfsite``: 300 pages of the realistic-weight benchmark site of ``tests.perf``
(50-150 KB CMS-style article pages in eight languages, tests/perf/sitegen.py), for the cost of
extraction on article-style pages and a check that they keep their text and structure.
"""

from __future__ import annotations

import glob
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from tests.fidelity.score import Region, _xp_class
from tests.perf import sitegen

PERF_SITE_PAGES = 300


@dataclass(frozen=True)
class Corpus:
    """One documentation site on disk and how to read its pages.

    ``skip`` matches the relative paths of generated pages that are not knowledge (indexes,
    search): a document made for one of them is counted as junk, never scored.
    ``site_suffix`` matches the site's name as the generator puts it in ``<title>``.
    """

    name: str
    package: str
    generator: str
    roots: tuple[str, ...]  # glob patterns; the first existing directory is the site
    region: Region
    skip: re.Pattern[str]
    site_suffix: re.Pattern[str]
    exclude: tuple[str, ...] = field(default=())  # path prefixes that are not pages of the site
    generated: int = 0  # pages of tests.perf's site to render (cached) instead of a package

    def root(self) -> Path | None:
        if self.generated:
            cache = Path(tempfile.gettempdir()) / "kbcrawler-perf"  # shared with tests.perf
            return sitegen.site_dir(cache, self.generated, "heavy")
        for pattern in self.roots:
            for found in sorted(glob.glob(pattern)):
                if Path(found, "index.html").is_file():
                    return Path(found).resolve()
        return None

    def pages(self, root: Path) -> list[str]:
        """Relative paths of every HTML page of the site, sorted."""
        out = []
        for path in sorted(root.rglob("*.html")):
            rel = path.relative_to(root).as_posix()
            if rel.startswith(self.exclude) or not path.is_file():
                continue
            out.append(rel)
        return out


SPHINX = Region(
    containers=("//div[@role='main']", f"//div[{_xp_class('body')}]"),
    drop=(
        f".//a[{_xp_class('headerlink')}]",
        # in-page tables of contents: the "Contents" topic (docutils writes it as
        # div.contents.topic, Sphinx >= 5 as nav.contents) and the toctree of child pages
        f".//*[{_xp_class('contents')} and ({_xp_class('local')} or {_xp_class('topic')})]",
        f".//nav[{_xp_class('contents')}]",
        f".//div[{_xp_class('toctree-wrapper')}]",
    ),
    admonitions=(
        f".//div[{_xp_class('admonition')}]",
        f".//div[{_xp_class('versionadded')} or {_xp_class('versionchanged')}"
        f" or {_xp_class('deprecated')} or {_xp_class('deprecated-removed')}]",
    ),
    labels=(f"./p[{_xp_class('admonition-title')}]",),
)

DOCBOOK = Region(
    containers=("//body",),
    drop=(
        f".//div[{_xp_class('navheader')}]",
        f".//div[{_xp_class('navfooter')}]",
        f".//div[{_xp_class('toc')}]",
    ),
    admonitions=(
        f".//div[{_xp_class('note')} or {_xp_class('warning')} or {_xp_class('tip')}"
        f" or {_xp_class('caution')} or {_xp_class('important')}]",
    ),
    labels=("./h3[1]", "./table//th[1]"),
)

DOXYGEN = Region(
    containers=(
        f"//div[{_xp_class('header')}]//div[{_xp_class('title')}] | //div[{_xp_class('contents')}]",
    ),
    drop=(f".//div[{_xp_class('toc')}]",),
    admonitions=(
        f".//dl[{_xp_class('section')} and ({_xp_class('note')} or {_xp_class('warning')}"
        f" or {_xp_class('attention')} or {_xp_class('remark')} or {_xp_class('see')}"
        f" or {_xp_class('since')} or {_xp_class('deprecated')})]",
    ),
    labels=("./dt[1]",),
)

ARTICLE = Region(containers=("//main//article",))

CORPORA: dict[str, Corpus] = {
    c.name: c
    for c in (
        Corpus(
            name="python",
            package="python3-doc",
            generator="Sphinx",
            roots=("/usr/share/doc/python3.*/html", "/usr/share/doc/python3-doc/html"),
            region=SPHINX,
            skip=re.compile(r"^(genindex[^/]*|search|py-modindex)\.html$"),
            site_suffix=re.compile(r"Python 3\.\d+(?:\.\d+)? documentation", re.I),
            exclude=("_static/", "_sources/", "_downloads/", "_images/"),
        ),
        Corpus(
            name="postgresql",
            package="postgresql-doc-15",
            generator="DocBook XSL",
            roots=("/usr/share/doc/postgresql-doc-15/html", "/usr/share/doc/postgresql-doc-*/html"),
            region=DOCBOOK,
            skip=re.compile(r"^bookindex\.html$"),
            site_suffix=re.compile(r"PostgreSQL \d+(?:\.\d+)? Documentation", re.I),
        ),
        Corpus(
            name="doxygen",
            package="doxygen-doc",
            generator="Doxygen",
            roots=("/usr/share/doc/doxygen/html", "/usr/share/doc/doxygen-doc/html"),
            region=DOXYGEN,
            skip=re.compile(r"^pages\.html$"),
            site_suffix=re.compile(r"^Doxygen\s*:|Doxygen Manual", re.I),
            # the examples are tiny sites of their own, each with the same page names
            exclude=("examples/",),
        ),
        Corpus(
            name="perfsite",
            package="",
            generator="tests.perf site",
            roots=(),
            region=ARTICLE,
            skip=re.compile(r"^$"),
            site_suffix=re.compile(re.escape(sitegen.SITE_TITLE)),
            exclude=("index.html",),
            generated=PERF_SITE_PAGES,
        ),
    )
}
