"""What end-to-end tests may assert about the local test website (tests/servers/website.py).

Kept as plain data, written by hand rather than derived from the server, so that a change
to the site that breaks an expectation shows up in tests/test_website_server.py instead of
silently moving the goalposts.  Paths are relative to the site's base URL.

Depth is the minimum number of <a href> hops from ``/`` (links on "nofollow" pages do not
count; redirects do not add hops).  ``reach`` says how a crawler can discover the page:
``"both"`` (a sitemap and links), ``"links-only"`` or ``"sitemap-only"`` (orphans, depth
None).  Compare ``must_contain`` phrases after collapsing whitespace to single spaces.
"""

from __future__ import annotations

from typing import Any

SITE_NAME = "Example Docs"
TITLE_SUFFIX = " | Example Docs"
LANGUAGES = ("en", "fr", "de", "es", "it", "pt", "nl", "ja")

SITEMAP_INDEX = "/sitemap_index.xml"
SITEMAP_PAGES = "/sitemap-pages.xml"
SITEMAP_BLOG_GZ = "/sitemap-blog.xml.gz"  # gzip body, Content-Type application/x-gzip
SITEMAP_GEN = "/sitemap-gen.xml"  # only listed in the index when --gen-pages > 0

# Pages a correct crawler delivers (one item per entry).  ``alternates``: the same content
# is also served at these paths; exactly one of path/alternates is delivered.
EXPECTED_PAGES: list[dict[str, Any]] = [
    {
        "path": "/",
        "language": "en",
        "must_contain": "keeps folders in step across laptops, servers and phones",
        "reach": "both",
        "depth": 0,
        "sitemap": SITEMAP_PAGES,
        "alternates": (),
    },
    {
        "path": "/en/guide.html",
        "language": "en",
        "must_contain": "Harbor keeps a small journal of every file it has seen",
        "reach": "both",
        "depth": 1,
        "sitemap": SITEMAP_PAGES,
        "alternates": (),
    },
    {
        "path": "/en/faq.html",
        "language": "en",
        "must_contain": "Harbor never stores a copy of your data on servers we operate",
        "reach": "both",
        "depth": 1,
        "sitemap": SITEMAP_PAGES,
        "alternates": ("/en/faq-copy.html",),
    },
    {
        "path": "/en/advanced.html",
        "language": "en",
        "must_contain": "a conflict is not an error but a question Harbor cannot answer on its own",
        "reach": "links-only",
        "depth": 1,
        "sitemap": None,
        "alternates": (),
    },
    {
        "path": "/es/rendimiento.html",
        "language": "es",
        "must_contain": "la mayoría de los problemas de rendimiento no vienen de la red",
        "reach": "links-only",
        "depth": 2,
        "sitemap": None,
        "alternates": (),
    },
    {
        "path": "/en/only-via-noindex.html",
        "language": "en",
        "must_contain": "Press the question mark key anywhere in the web interface",
        "reach": "links-only",
        "depth": 2,
        "sitemap": None,
        "alternates": (),
    },
    {
        "path": "/en/release-notes.html",
        "language": "en",
        "must_contain": (
            "Harbor 3.2 is the first release to verify every block with a rolling checksum"
        ),
        "reach": "sitemap-only",
        "depth": None,
        "sitemap": SITEMAP_BLOG_GZ,
        "alternates": (),
    },
    {
        "path": "/it/novita.html",
        "language": "it",
        "must_contain": "la nuova versione controlla ogni blocco",
        "reach": "sitemap-only",
        "depth": None,
        "sitemap": SITEMAP_PAGES,
        "alternates": (),
    },
    {
        "path": "/blog/2026/01/scheduler-rewrite.html",
        "language": "en",
        "must_contain": "the old scheduler treated every folder as equally urgent",
        "reach": "both",
        "depth": 1,
        "sitemap": SITEMAP_BLOG_GZ,
        "alternates": (),
    },
    {
        "path": "/en/mirror-article.html",
        "language": "en",
        "must_contain": "phones are the least reliable devices in any sync setup",
        "reach": "both",
        "depth": 1,
        "sitemap": SITEMAP_BLOG_GZ,
        "alternates": (),
    },
    {
        "path": "/fr/guide.html",
        "language": "fr",
        "must_contain": "Harbor conserve un petit journal de chaque fichier",
        "reach": "both",
        "depth": 1,
        "sitemap": SITEMAP_PAGES,
        "alternates": (),
    },
    {
        "path": "/fr/encodage.html",
        "language": "fr",
        "must_contain": "Les caractères accentués comme é, è, à et ç",
        "reach": "both",
        "depth": 1,
        "sitemap": SITEMAP_PAGES,
        "alternates": (),
    },
    {
        "path": "/de/anleitung.html",
        "language": "de",
        "must_contain": "Harbor führt ein kleines Journal über jede Datei",
        "reach": "both",
        "depth": 1,
        "sitemap": SITEMAP_PAGES,
        "alternates": (),
    },
    {
        "path": "/es/guia.html",
        "language": "es",
        "must_contain": "Harbor guarda un pequeño registro de cada archivo",
        "reach": "both",
        "depth": 1,
        "sitemap": SITEMAP_PAGES,
        "alternates": (),
    },
    {
        "path": "/it/guida.html",
        "language": "it",
        "must_contain": "Harbor tiene un piccolo registro di ogni file",
        "reach": "both",
        "depth": 1,
        "sitemap": SITEMAP_PAGES,
        "alternates": (),
    },
    {
        "path": "/pt/guia.html",
        "language": "pt",
        "must_contain": "o Harbor envia apenas os blocos que mudaram",
        "reach": "both",
        "depth": 1,
        "sitemap": SITEMAP_PAGES,
        "alternates": (),
    },
    {
        "path": "/nl/handleiding.html",
        "language": "nl",
        "must_contain": "Een Raspberry Pi verbruikt minder stroom dan een gloeilamp",
        "reach": "both",
        "depth": 1,
        "sitemap": SITEMAP_PAGES,
        "alternates": (),
    },
    {
        "path": "/ja/guide.html",
        "language": "ja",
        "must_contain": "Harbor は、複数のパソコンのフォルダーを同期する",
        "reach": "both",
        "depth": 1,
        "sitemap": SITEMAP_PAGES,
        "alternates": (),
    },
    {
        "path": "/en/pricing.html",
        "language": "en",
        "must_contain": "the “Team” plan costs €8 per user per month",
        "reach": "both",
        "depth": 1,
        "sitemap": SITEMAP_PAGES,
        "alternates": (),
    },
    {
        "path": "/en/unicode-filenames.html",
        "language": "en",
        "must_contain": "a file called naïve café.txt created on a Mac",
        "reach": "both",
        "depth": 1,
        "sitemap": SITEMAP_PAGES,
        "alternates": (),
    },
]

EXPECTED_PATHS = [p["path"] for p in EXPECTED_PAGES]
SITEMAP_ONLY = [p["path"] for p in EXPECTED_PAGES if p["reach"] == "sitemap-only"]
LINKS_ONLY = [p["path"] for p in EXPECTED_PAGES if p["reach"] == "links-only"]

# Exactly one path of each group is delivered (identical main text, no canonical).
EXACTLY_ONE_DELIVERED: list[tuple[str, ...]] = [("/en/faq.html", "/en/faq-copy.html")]

# Clean titles (the " | Example Docs" suffix removed), for every hand-written page.
TITLES: dict[str, str] = {
    "/": "Harbor Documentation",
    "/en/guide.html": "Getting Started with Harbor",
    "/en/guide-print.html": "Getting Started with Harbor (Print Edition)",
    "/en/faq.html": "Frequently Asked Questions",
    "/en/faq-copy.html": "Frequently Asked Questions",
    "/en/advanced.html": "Advanced Conflict Resolution",
    "/es/rendimiento.html": "Ajuste del rendimiento",
    "/en/release-notes.html": "Release Notes for Harbor 3.2",
    "/it/novita.html": "Novità della versione 3.2",
    "/blog/2026/01/scheduler-rewrite.html": "Why We Rewrote the Scheduler",
    "/en/mirror-article.html": "Syncing Photos from Your Phone",
    "/en/only-via-noindex.html": "Keyboard Shortcuts",
    "/en/only-via-nofollow.html": "Experimental Features",
    "/en/noindex.html": "Draft: Migration Checklist",
    "/en/nofollow.html": "Staging Environment Notes",
    "/private/internal-notes.html": "Internal Notes",
    "/en/thin.html": "Roadmap",
    "/fr/guide.html": "Guide de démarrage",
    "/fr/encodage.html": "Les jeux de caractères expliqués",
    "/de/anleitung.html": "Sicherungen richtig planen",
    "/es/guia.html": "Primeros pasos con Harbor",
    "/it/guida.html": "Condividere cartelle con il team",
    "/pt/guia.html": "Sincronização em redes lentas",
    "/nl/handleiding.html": "Harbor installeren op een Raspberry Pi",
    "/ja/guide.html": "Harbor の基本的な使い方",
    "/en/pricing.html": "Pricing for European Customers",
    "/en/unicode-filenames.html": "Unicode File Names",
}

# <meta name="author"> and <meta property="article:published_time">, where present.
AUTHORS: dict[str, str] = {
    "/en/guide.html": "Maria Lindqvist",
    "/en/guide-print.html": "Maria Lindqvist",
    "/en/advanced.html": "Tomás Herrera",
    "/es/rendimiento.html": "Tomás Herrera",
    "/en/release-notes.html": "Maria Lindqvist",
    "/blog/2026/01/scheduler-rewrite.html": "Priya Raman",
    "/en/mirror-article.html": "Jonas Weber",
    "/fr/guide.html": "Claire Dubois",
    "/fr/encodage.html": "Claire Dubois",
    "/de/anleitung.html": "Jonas Weber",
}
PUBLISHED: dict[str, str] = {
    "/en/guide.html": "2026-01-10T09:00:00+00:00",
    "/en/guide-print.html": "2026-01-10T09:00:00+00:00",
    "/en/advanced.html": "2026-01-12T11:00:00+00:00",
    "/en/release-notes.html": "2026-02-03T10:00:00+00:00",
    "/blog/2026/01/scheduler-rewrite.html": "2026-01-20T08:30:00+00:00",
    "/en/mirror-article.html": "2026-01-28T14:00:00+00:00",
    "/fr/guide.html": "2026-01-11T08:00:00+00:00",
    "/de/anleitung.html": "2026-01-14T07:45:00+00:00",
}

# Robots-disallowed or only linked from a nofollow page: a polite crawler never asks.
NEVER_REQUESTED = ["/private/internal-notes.html", "/en/only-via-nofollow.html"]
# Requests to the other host land on this listener (same port); there must be none.
OFFSITE_LISTENER_HOST = "127.0.0.2"
OFFSITE_PREFIXES = ("http://offsite.invalid/", "https://offsite.invalid/", "http://127.0.0.2:")

# Fetched (or at least linked) but never delivered as an item.
NOT_DELIVERED = [
    "/en/noindex.html",  # meta robots noindex (its links are still followed)
    "/en/nofollow.html",  # noindex, nofollow
    "/en/thin.html",  # main text ~40 characters
    "/en/guide-print.html",  # canonical -> /en/guide.html
    "/files/manual.pdf",  # application/pdf
    "/img/logo.png",  # image/png
    "/files/blob.html",  # random bytes with NULs, labelled text/html
    "/missing-page.html",  # 404
    "/private/internal-notes.html",
    "/en/only-via-nofollow.html",
]
THIN_PAGES = ["/en/thin.html"]
NOINDEX_PAGES = ["/en/noindex.html", "/en/nofollow.html"]
NOT_FOUND = ["/missing-page.html"]

# Distinctive main-text phrases of pages that must never end up in delivered text.
NEVER_DELIVERED_PHRASES = {
    "/en/noindex.html": "This checklist is still being reviewed by the support team",
    "/en/nofollow.html": "These notes describe the staging environment",
    "/private/internal-notes.html": "These internal notes are for Example Corp staff only",
    "/en/only-via-nofollow.html": "Experimental features are switched off by default",
    "/en/thin.html": "Coming soon. Check back next month.",
}

# Boilerplate on every HTML page, verbatim: none may leak into extracted text.
BOILERPLATE_PHRASES = [
    "Skip to main content",
    "Self-hosted sync, explained",
    "Browse the documentation",
    "We use cookies to improve your experience.",
    "Accept all cookies",
    "Manage preferences",
    "Popular topics",
    "Subscribe to our newsletter for monthly product updates.",
    "Was this page helpful?",
    "© 2026 Example Corp. All rights reserved.",
    "Privacy policy",
    "Terms of service",
]

# Links on "/" that are the same page as /en/guide.html once normalized.
GUIDE_URL_VARIANTS = [
    "/en/guide.html?utm_source=news&utm_medium=email",
    "/en/guide.html?gclid=abc",
    "/en/guide.html?fbclid=xyz",
    "/en/guide.html#section-2",
    "{base}/en/guide.html",
    "/en/../en/guide.html",
]

CANONICAL_DUPLICATES = {"/en/guide-print.html": "/en/guide.html"}
# Canonical points to another site: the page is still delivered under its own URL.
OFFSITE_CANONICAL = {"/en/mirror-article.html": "https://www.example.com/blog/mirror-article"}

# path -> (status, location path); the chain ends at a real page.
REDIRECTS = {"/old-guide": (301, "/moved-guide"), "/moved-guide": (302, "/en/guide.html")}
REDIRECT_FINAL = {"/old-guide": "/en/guide.html", "/moved-guide": "/en/guide.html"}
# 302 to the other host ("{port}" = the site's port): must not be followed.
OFFSITE_REDIRECTS = {"/go-offsite": "http://127.0.0.2:{port}/en/guide.html"}

# How each charset trap is served; decode the raw body with CHARSET_CODECS.
ENCODING_PAGES = {
    "/fr/encodage.html": "Content-Type: text/html; charset=iso-8859-1, latin-1 bytes, no meta",
    "/en/pricing.html": 'Content-Type: text/html, only <meta charset="windows-1252">',
    "/en/unicode-filenames.html": "Content-Type: text/html, UTF-8 with BOM, no declaration",
}
CHARSET_CODECS = {
    "/fr/encodage.html": "iso-8859-1",
    "/en/pricing.html": "cp1252",
    "/en/unicode-filenames.html": "utf-8-sig",
}

# /calendar/YYYY/MM links to the previous and next month forever.
CALENDAR_START = "/calendar/2026/01"
CALENDAR_PREFIX = "/calendar/"

# Not linked and not in sitemaps: only requested explicitly by tests.
BIG_PAGE = "/big.html?kb={kb}"  # about kb KiB of HTML
MANY_LINKS = "/many-links.html?n={n}"  # n links to /link-target/{i}.html (small pages)
LINK_TARGET = "/link-target/{i}.html"
GEN_PAGE = "/gen/{i}.html"  # i in 0..gen_pages-1, 30-60 KB, languages rotate by i
GEN_LANGUAGES = ("en", "fr", "de", "es", "it", "pt", "nl", "ja")  # language of page i: [i % 8]
GEN_MARKER = "GEN-{i:05d}"  # appears in the main text of generated page i

# Initial Last-Modified of hand-written pages: 2026-01-15T00:00Z + page index minutes;
# an edit moves it to now (never backwards) and updates the sitemap <lastmod>.
INITIAL_LAST_MODIFIED = "2026-01-15T00:00:00+00:00"

# The reason each page above is not delivered, as the run's per-URL records give it
# (crawl from "/" with max_depth 3; detail where it is fixed). "/en/only-via-nofollow.html" has
# none: only a nofollow page links to it, so the crawl never learns of it.
RECORD_REASONS: dict[str, tuple[str, str | None]] = {
    "/en/noindex.html": ("noindex", None),
    "/en/nofollow.html": ("noindex", None),
    "/en/thin.html": ("thin", None),
    "/en/guide-print.html": ("canonical", "/en/guide.html"),
    "/files/manual.pdf": ("not_html", "application/pdf"),
    "/img/logo.png": ("not_html", "image/png"),
    "/files/blob.html": ("not_html", None),
    "/missing-page.html": ("http_404", None),
    "/private/internal-notes.html": ("robots", None),
    "/old-guide": ("redirect", None),
    "/go-offsite": ("offsite", None),
}
# Off-site links in the chrome of every page: each recorded once, as "offsite".
OFFSITE_LINKS = ["http://offsite.invalid/status", "https://offsite.invalid/download"]
