"""Pre-rendered benchmark site: realistic, heavy, multilingual pages written to a directory.

``heavy`` pages weigh 50-150 KB like a modern CMS/docs page: a mega menu, sidebar, cookie
banner, inline CSS, an SVG sprite, analytics and framework scripts, a large JSON state blob,
related-article cards, a comment thread and a link-heavy footer around a 1,000-4,000 word
article (headings, lists, tables, code) in one of eight languages. ``light`` pages
(8-20 KB) have the same shape with less of everything, for the long memory run.

Pages are rendered once and cached on disk (``site_dir(...)``); the sitemap is written
when the server's address is known (``write_sitemaps``).
"""

from __future__ import annotations

import html
import json
import random
import shutil
from pathlib import Path

from tests.servers.website import POOLS

GENERATOR_VERSION = 3
LANGS = ("en", "fr", "de", "es", "it", "pt", "nl", "ja")
SITE_TITLE = "Northwind Help Center"
WEIGHTS = {"heavy": (50_000, 150_000), "light": (8_000, 20_000)}
SITEMAP_MAX_URLS = 50_000  # sitemap protocol limit per file

LABELS = {
    "en": ("Guide", "Section", "Related articles", "Comments", "Overview"),
    "fr": ("Guide", "Partie", "Articles connexes", "Commentaires", "Présentation"),
    "de": ("Anleitung", "Abschnitt", "Verwandte Artikel", "Kommentare", "Überblick"),
    "es": ("Guía", "Sección", "Artículos relacionados", "Comentarios", "Resumen"),
    "it": ("Guida", "Sezione", "Articoli correlati", "Commenti", "Panoramica"),
    "pt": ("Guia", "Seção", "Artigos relacionados", "Comentários", "Visão geral"),
    "nl": ("Handleiding", "Onderdeel", "Gerelateerde artikelen", "Reacties", "Overzicht"),
    "ja": ("ガイド", "セクション", "関連記事", "コメント", "概要"),
}
_MENU = (
    "Products Solutions Pricing Docs Support Community Partners Company Security Status "
    "Integrations Billing Accounts Teams Storage Sync Backup Mobile Desktop Server Admin "
    "Reports Analytics Automation Workflows API SDK Webhooks Migration Releases Roadmap"
)
MENU_WORDS = tuple(_MENU.split())


def _words(lang: str) -> list[str]:
    text = " ".join(POOLS[lang])
    return [w.strip(".,;:!?()«»\"'") for w in text.split() if len(w.strip(".,;:!?()")) > 1]


WORDS = {lang: _words(lang) for lang in LANGS if lang != "ja"}


def _sentence(rng: random.Random, lang: str) -> str:
    """A new sentence in ``lang``: shuffled words of the language (real sentences for ja)."""
    if lang == "ja" or rng.random() < 0.25:
        return rng.choice(POOLS[lang])
    words = rng.choices(WORDS[lang], k=rng.randint(8, 22))
    words[0] = words[0][:1].upper() + words[0][1:]
    return " ".join(words) + "."


def _paragraph(rng: random.Random, lang: str, lo: int, hi: int) -> str:
    sep = "" if lang == "ja" else " "
    return sep.join(_sentence(rng, lang) for _ in range(rng.randint(lo, hi)))


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _css(rng: random.Random, rules: int) -> str:
    out = []
    for k in range(rules):
        sel = f".c-{k:03d}-{rng.choice(MENU_WORDS).lower()}"
        out.append(
            f"{sel},{sel}:hover>.x{k}{{margin:{k % 7}px {k % 5}rem;padding:.{k % 9}rem;"
            f"color:#{rng.randrange(16**6):06x};background:linear-gradient(90deg,"
            f"#{rng.randrange(16**6):06x},#{rng.randrange(16**6):06x});"
            f"transition:all .{k % 4 + 1}s ease-in-out}}"
        )
    return "<style>" + "".join(out) + "</style>"


def _svg_sprite(rng: random.Random, icons: int) -> str:
    symbols = []
    for k in range(icons):
        path = " ".join(
            f"{rng.choice('MLCQ')}{rng.randint(0, 24)}.{rng.randint(0, 99)} "
            f"{rng.randint(0, 24)}.{rng.randint(0, 99)}"
            for _ in range(24)
        )
        symbols.append(f'<symbol id="i{k}" viewBox="0 0 24 24"><path d="{path}Z"/></symbol>')
    return f'<svg xmlns="http://www.w3.org/2000/svg" style="display:none">{"".join(symbols)}</svg>'


def _script(rng: random.Random, functions: int) -> str:
    body = []
    for k in range(functions):
        name = f"f{k}_{rng.choice(MENU_WORDS).lower()}"
        body.append(
            f"function {name}(a,b){{var c=document.querySelectorAll('.c-{k:03d}');"
            f"for(var i=0;i<c.length;i++){{if(c[i].dataset.k==='{rng.randrange(10**6)}')"
            f"{{c[i].classList.toggle('open');a&&a(i,b)}}}}return c.length*{k}}}"
        )
    return "<script>" + ";".join(body) + "</script>"


def _menu(rng: random.Random, lang: str, columns: int, per: int) -> str:
    cols = []
    for c in range(columns):
        items = "".join(
            f'<li class="mega-item"><a href="/{rng.choice(MENU_WORDS).lower()}/{c}-{k}.html" '
            f'data-track="menu-{c}-{k}"><svg class="icon"><use href="#i{k % 20}"/></svg>'
            f"<span>{_esc(rng.choice(MENU_WORDS))} {_esc(rng.choice(MENU_WORDS))}</span>"
            f"<small>{_esc(' '.join(rng.choices(WORDS.get(lang, WORDS['en']), k=5)))}</small>"
            f"</a></li>"
            for k in range(per)
        )
        cols.append(
            f'<div class="mega-col"><p class="mega-title">{_esc(MENU_WORDS[c % 30])}</p>'
            f'<ul class="mega-list">{items}</ul></div>'
        )
    return (
        '<nav class="mega" aria-label="Main"><button class="burger" aria-expanded="false">'
        f'Menu</button><div class="mega-panel">{"".join(cols)}</div></nav>'
    )


def _article(rng: random.Random, lang: str, i: int, target_chars: int) -> tuple[str, str]:
    label = LABELS[lang]
    title = f"{label[0]} {i}: {_sentence(rng, lang)[:60].rstrip('.')}"
    parts = [f'<p class="lead">{_esc(_paragraph(rng, lang, 2, 3))}</p>']
    size = 0
    n = 0
    while size < target_chars:
        n += 1
        parts.append(f'<h2 id="s{n}">{label[1]} {n}: {_esc(_sentence(rng, lang)[:50])}</h2>')
        for _ in range(rng.randint(2, 4)):
            para = _paragraph(rng, lang, 3, 7)
            size += len(para)
            parts.append(f"<p>{_esc(para)}</p>")
        roll = rng.random()
        if roll < 0.25:
            items = "".join(f"<li>{_esc(_sentence(rng, lang))}</li>" for _ in range(5))
            parts.append(f"<ul>{items}</ul>")
        elif roll < 0.4:
            rows = "".join(
                "<tr>"
                + "".join(f"<td>{_esc(rng.choice(MENU_WORDS))}</td>" for _ in range(4))
                + "</tr>"
                for _ in range(5)
            )
            head = "".join(f"<th>{_esc(w)}</th>" for w in rng.sample(MENU_WORDS, 4))
            parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
        elif roll < 0.5:
            code = "\n".join(f"sync --folder /data/{k} --retries {k}" for k in range(4))
            parts.append(f'<pre><code class="language-bash">{_esc(code)}</code></pre>')
        if rng.random() < 0.3:
            parts.append(f'<h3 id="s{n}b">{_esc(_sentence(rng, lang)[:40])}</h3>')
            parts.append(f"<p>{_esc(_paragraph(rng, lang, 2, 5))}</p>")
    return title, "".join(parts)


def render_page(i: int, weight: str = "heavy") -> bytes:
    """Page ``i`` of the benchmark site, deterministic in (i, weight)."""
    rng = random.Random(f"perf-{weight}-{i}")
    lang = LANGS[i % len(LANGS)]
    label = LABELS[lang]
    lo, hi = WEIGHTS[weight]
    target = rng.randint(lo, hi)
    heavy = weight == "heavy"
    text_chars = rng.randint(6_000, 24_000) if heavy else rng.randint(2_000, 5_000)
    if lang == "ja":
        text_chars //= 3  # ~3 bytes a character
    title, article = _article(rng, lang, i, text_chars)
    menu = _menu(rng, lang, 8 if heavy else 3, 14 if heavy else 5)
    side = "".join(
        f'<li><a href="/p/{rng.randrange(10**5)}.html">{_esc(_sentence(rng, lang)[:45])}</a></li>'
        for _ in range(40 if heavy else 8)
    )
    cards = "".join(
        f'<div class="card"><a href="/p/{rng.randrange(10**5)}.html"><img src="/img/{k}.webp" '
        f'alt="" loading="lazy"><h3>{_esc(_sentence(rng, lang)[:50])}</h3></a>'
        f'<p>{_esc(_sentence(rng, lang))}</p><span class="tag">{_esc(label[0])}</span></div>'
        for k in range(12 if heavy else 3)
    )
    comments = "".join(
        f'<li class="comment"><div class="meta"><b>user{rng.randrange(999)}</b> '
        f'<time datetime="2025-0{k % 9 + 1}-1{k % 9}">{k + 1} d</time></div>'
        f'<p>{_esc(_paragraph(rng, lang, 1, 3))}</p><button class="reply">Reply</button></li>'
        for k in range(rng.randint(3, 12) if heavy else 2)
    )
    footer = "".join(
        f'<div class="fcol"><p>{_esc(MENU_WORDS[c])}</p><ul>'
        + "".join(
            f'<li><a href="/{MENU_WORDS[(c + k) % 30].lower()}/{k}.html">'
            f"{_esc(MENU_WORDS[(c * 3 + k) % 30])}</a></li>"
            for k in range(12 if heavy else 4)
        )
        + "</ul></div>"
        for c in range(6 if heavy else 2)
    )
    alternates = "".join(
        f'<link rel="alternate" hreflang="{alt}" href="/p/{i - i % 8 + j}.html">'
        for j, alt in enumerate(LANGS)
    )
    jsonld = json.dumps(
        {
            "@context": "https://schema.org",
            "@type": "Article",
            "headline": title,
            "author": {"@type": "Person", "name": f"Author {i % 37}"},
            "datePublished": f"2025-{i % 12 + 1:02d}-{i % 28 + 1:02d}",
            "publisher": {"@type": "Organization", "name": SITE_TITLE},
        },
        ensure_ascii=False,
    )
    head = (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">'
        f"<title>{_esc(title)} | {SITE_TITLE}</title>"
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f'<meta name="description" content="{_esc(_sentence(rng, lang))}">'
        f'<meta name="author" content="Author {i % 37}">'
        f'<meta property="og:title" content="{_esc(title)}">'
        f'<meta property="og:site_name" content="{SITE_TITLE}">'
        '<meta property="og:type" content="article">'
        f'<meta property="article:published_time" content="2025-{i % 12 + 1:02d}-01">'
        f'<link rel="canonical" href="/p/{i}.html">{alternates}'
        '<link rel="preload" href="/static/app.js" as="script">'
        '<link rel="stylesheet" href="/static/app.css">'
        + _css(rng, 60 if heavy else 10)
        + "<script>(function(w,d){w.dataLayer=w.dataLayer||[];w.gtag=function(){dataLayer.push("
        "arguments)};gtag('js',new Date());gtag('config','G-XXXX');})(window,document);</script>"
        f'<script type="application/ld+json">{jsonld}</script>'
    )
    body = (
        f'<body class="page lang-{lang}">'
        + _svg_sprite(rng, 20 if heavy else 4)
        + '<a class="skip" href="#main">Skip to content</a>'
        '<header class="top"><a class="logo" href="/"><svg><use href="#i0"/></svg>'
        f"{SITE_TITLE}</a>"
        '<form class="search" action="/search"><input name="q" placeholder="Search">'
        "<button>Go</button></form>" + menu + "</header>"
        '<div class="cookie" role="dialog"><p>We use cookies to improve your experience and '
        'for analytics.</p><button class="ok">Accept all</button><button>Settings</button></div>'
        f'<nav class="crumbs"><a href="/">Home</a> › <a href="/p/">{_esc(label[0])}</a></nav>'
        f'<div class="layout"><aside class="side"><p>{_esc(label[4])}</p><ul>{side}</ul>'
        '<div class="promo"><p>Try the new desktop app: faster sync, less battery.</p>'
        '<a class="btn" href="/download">Download</a></div></aside>'
        f'<main id="main"><article><h1>{_esc(title)}</h1>'
        f'<p class="byline">Author {i % 37} · 2025</p>{article}</article>'
        '<div class="feedback">Was this helpful? <button>Yes</button><button>No</button></div>'
        f'<section class="related"><h2>{_esc(label[2])}</h2>{cards}</section>'
        f'<section class="comments"><h2>{_esc(label[3])}</h2><ol>{comments}</ol></section>'
        "</main></div>"
        f'<footer class="foot">{footer}<p class="legal">© 2026 Northwind Ltd. All rights '
        "reserved. Privacy · Terms · Cookies</p></footer>" + _script(rng, 30 if heavy else 4)
    )
    page = head
    tail = "</head>" + body + "</body></html>"
    size = len((page + tail).encode())
    state: list[str] = []
    k = 0
    while size < target:  # framework state blob fills the page to its target weight
        item = json.dumps(
            {"id": k, "slug": f"{rng.choice(MENU_WORDS).lower()}-{k}", "v": rng.randrange(10**6)}
        )
        state.append(item)
        size += len(item) + 1
        k += 1
    if state:
        page += f'<script id="__STATE__" type="application/json">[{",".join(state)}]</script>'
    return (page + tail).encode()


def site_dir(root: Path, pages: int, weight: str) -> Path:
    """Render (or reuse) ``pages`` pages of ``weight`` under ``root``; returns the docroot."""
    docroot = root / f"site-{weight}-{pages}-v{GENERATOR_VERSION}"
    done = docroot / ".complete"
    if done.exists():
        _home(docroot)
        return docroot
    if docroot.exists():
        shutil.rmtree(docroot)
    (docroot / "p").mkdir(parents=True)
    total = 0
    for i in range(pages):
        body = render_page(i, weight)
        total += len(body)
        (docroot / "p" / f"{i}.html").write_bytes(body)
    (docroot / "robots.txt").write_text("User-agent: *\nAllow: /\n")
    _home(docroot)
    done.write_text(json.dumps({"pages": pages, "bytes": total}))
    return docroot


def _home(docroot: Path) -> None:
    """A home page: trafilatura's sitemap search first checks that the site is live."""
    (docroot / "index.html").write_text(
        f"<!DOCTYPE html><html lang='en'><head><title>{SITE_TITLE}</title></head>"
        f"<body><h1>{SITE_TITLE}</h1><p><a href='/p/0.html'>Articles</a></p></body></html>"
    )


def site_info(docroot: Path) -> dict[str, int]:
    return json.loads((docroot / ".complete").read_text())


def write_sitemaps(docroot: Path, base_url: str, pages: int, name: str = "sitemap") -> str:
    """``<name>.xml`` (an index when over 50,000 URLs) for ``base_url``; returns its URL."""
    base_url = base_url.rstrip("/")
    for old in docroot.glob(f"{name}*.xml"):
        old.unlink()
    urlsets = []
    for n, start in enumerate(range(0, pages, SITEMAP_MAX_URLS)):
        entries = "".join(
            f"<url><loc>{base_url}/p/{i}.html</loc><lastmod>2026-01-15</lastmod></url>"
            for i in range(start, min(pages, start + SITEMAP_MAX_URLS))
        )
        part = f"{name}-{n}.xml"
        (docroot / part).write_text(
            '<?xml version="1.0" encoding="UTF-8"?>'
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</urlset>'
        )
        urlsets.append(part)
    if len(urlsets) == 1:
        (docroot / urlsets[0]).rename(docroot / f"{name}.xml")
    else:
        items = "".join(f"<sitemap><loc>{base_url}/{part}</loc></sitemap>" for part in urlsets)
        (docroot / f"{name}.xml").write_text(
            '<?xml version="1.0" encoding="UTF-8"?>'
            f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{items}'
            "</sitemapindex>"
        )
    return f"{base_url}/{name}.xml"


def page_urls(base_url: str, pages: int) -> list[str]:
    return [f"{base_url.rstrip('/')}/p/{i}.html" for i in range(pages)]
