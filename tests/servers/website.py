"""A small local documentation + blog website for end-to-end crawl tests.

The site is built to exercise everything a polite, incremental crawler has to get right:
robots rules, a gzip child sitemap, orphan (sitemap-only) and link-only pages, heavy
boilerplate, seven European languages plus Japanese, three charset traps, tracking-parameter
and canonical duplicates, noindex/nofollow, redirects (one off-site), non-HTML files, a thin
page, an infinite calendar and size/throughput generators.  What the tests may assert about
it lives in :mod:`tests.servers.site_expectations`.

Run it as ``python -m tests.servers.website [--port 0] [--host 127.0.0.1] [--state-dir DIR]
[--gen-pages N]``; it prints ``http://127.0.0.1:PORT`` on one stdout line once listening.
When bound to 127.0.0.1 it also listens on ``127.0.0.2:PORT`` (the "other host"), so the
request log proves that off-site links were never followed.  From tests use
:func:`running_website` or :func:`start_website`.

Admin endpoints (never logged, never affected by the mode switch):
``GET /__admin/requests``, ``POST /__admin/reset-log``, ``POST /__admin/edit``
``{"path", "text"}``, ``POST /__admin/remove`` ``{"path"}``, ``POST /__admin/mode``
``{"status": 403 | null}``, ``POST /__admin/reset-state``, ``GET /__admin/state``.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import email.utils
import gzip
import hashlib
import html
import json
import os
import posixpath
import random
import re
import signal
import socket
import socketserver
import struct
import subprocess
import sys
import threading
import time
import traceback
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

from tests.servers import site_expectations
from tests.servers.process import ServerProcess

REPO_ROOT = Path(__file__).resolve().parents[2]
SITE_NAME = "Example Docs"
OFFSITE_HOST = "127.0.0.2"
# Last-Modified of page number i in PAGES is INITIAL_DATE + i minutes.
INITIAL_DATE = datetime(2026, 1, 15, tzinfo=UTC)
MAX_BIG_KB = 20_000
MAX_MANY_LINKS = 50_000
CALENDAR_RE = re.compile(r"^/calendar/(\d{4})/(\d{2})$")
LINK_TARGET_RE = re.compile(r"^/link-target/(\d+)\.html$")
GEN_RE = re.compile(r"^/gen/(\d+)\.html$")
# /kinds/<name>.html: a page of tests/fixtures/docs or tests/fixtures/cases, served as written
# (documentation generators' page shapes and the shared cases, for extraction crawl tests).
KINDS_RE = re.compile(r"^/kinds/([A-Za-z0-9_-]+)\.html$")
KINDS_DIRS = (REPO_ROOT / "tests/fixtures/docs", REPO_ROOT / "tests/fixtures/cases")
ANCHOR_RE = re.compile(r'<a\s[^>]*?href="([^"]*)"[^>]*>(.*?)</a>', re.S)
# Paths that keep working whatever /__admin/mode says.
MODE_EXEMPT = ("/robots.txt",)

# Placeholders in page bodies, replaced at render time (bodies contain literal braces).
BASE_TOKEN = "@BASE@"
OFFSITE_TOKEN = "@OFFSITE@"


@dataclass(frozen=True)
class PageSpec:
    """One hand-written content page.  ``body`` is the article HTML after the <h1>."""

    path: str
    lang: str
    title: str
    description: str
    body: str
    author: str | None = None
    published: str | None = None
    robots: str | None = None
    canonical: str | None = None
    sitemap: str | None = None  # "pages", "blog" or None (not in any sitemap)
    charset: str = "utf-8"  # "utf-8", "iso-8859-1", "windows-1252" or "utf-8-bom"
    pool: bool = True  # may its sentences be reused by generated pages?


# -- boilerplate ----------------------------------------------------------------------
# Every phrase here is listed verbatim in site_expectations.BOILERPLATE_PHRASES.

NAV_LINKS: tuple[tuple[str, str], ...] = (
    ("javascript:void(0)", "Menu"),
    ("/", "Home"),
    ("/en/guide.html", "Getting started"),
    ("/en/faq.html", "FAQ"),
    ("/blog/2026/01/scheduler-rewrite.html", "Blog"),
    ("/fr/guide.html", "Français"),
    ("/de/anleitung.html", "Deutsch"),
    ("/es/guia.html", "Español"),
    ("/it/guida.html", "Italiano"),
    ("/pt/guia.html", "Português"),
    ("/nl/handleiding.html", "Nederlands"),
    ("/ja/guide.html", "日本語"),
    ("http://offsite.invalid/status", "System status"),
    ("http://offsite.invalid/forum", "Community forum"),
    ("https://offsite.invalid/download", "Downloads"),
    ("mailto:docs@example.com", "Contact"),
)

SIDEBAR_LINKS: tuple[tuple[str, str], ...] = (
    ("/en/guide.html#section-1", "Installing Harbor"),
    ("/en/guide.html#section-2", "Configuring your first folder"),
    ("/en/faq.html#conflicts", "Handling conflicts"),
    ("/blog/2026/01/scheduler-rewrite.html", "Why we rewrote the scheduler"),
)

STYLE = """<style>
body{font-family:system-ui,sans-serif;margin:0;color:#1d2330}
.site-header,.site-footer{background:#f3f5f8;padding:1rem 2rem}
.site-nav ul{display:flex;flex-wrap:wrap;gap:1rem;list-style:none;padding:0}
.layout{display:grid;grid-template-columns:16rem 1fr;gap:2rem;padding:0 2rem}
.cookie-banner{position:fixed;bottom:0;left:0;right:0;background:#222;color:#fff;padding:1rem}
pre{background:#f6f8fa;padding:1rem;overflow:auto}
table{border-collapse:collapse}td,th{border:1px solid #ccd;padding:.3rem .6rem}
</style>"""


def _links_html(links: tuple[tuple[str, str], ...]) -> str:
    return "\n".join(f'<li><a href="{html.escape(h)}">{html.escape(t)}</a></li>' for h, t in links)


def render_layout(
    *,
    lang: str,
    title: str,
    description: str,
    article: str,
    author: str | None = None,
    published: str | None = None,
    robots: str | None = None,
    canonical: str | None = None,
    meta_charset: str | None = "utf-8",
    head_extra: str = "",
) -> str:
    """Wrap an article in the site chrome: the same boilerplate on every page."""
    head = ["<!DOCTYPE html>", f'<html lang="{lang}">', "<head>"]
    if meta_charset:
        head.append(f'<meta charset="{meta_charset}">')
    head.append(f"<title>{html.escape(title)} | {SITE_NAME}</title>")
    head.append('<meta name="viewport" content="width=device-width, initial-scale=1">')
    head.append(f'<meta name="description" content="{html.escape(description)}">')
    if author:
        head.append(f'<meta name="author" content="{html.escape(author)}">')
    if published:
        head.append(f'<meta property="article:published_time" content="{published}">')
    if robots:
        head.append(f'<meta name="robots" content="{robots}">')
    if canonical:
        head.append(f'<link rel="canonical" href="{html.escape(canonical)}">')
    head.append(f'<meta property="og:site_name" content="{SITE_NAME}">')
    head.append(STYLE)
    if head_extra:
        head.append(head_extra)
    head.append("</head>")
    body = f"""<body>
<a class="skip-link" href="#main">Skip to main content</a>
<header class="site-header">
<a href="/" class="logo"><img src="/img/logo.png" alt="Harbor logo" width="16" height="16"></a>
<span class="tagline">Self-hosted sync, explained</span>
<nav class="site-nav" aria-label="Main menu">
<p class="nav-title">Browse the documentation</p>
<ul>
{_links_html(NAV_LINKS)}
</ul>
</nav>
</header>
<div id="cookie-banner" class="cookie-banner" role="dialog" aria-live="polite">
<p>We use cookies to improve your experience. Read our
<a href="http://offsite.invalid/legal/cookies">cookie notice</a>.</p>
<button type="button" class="accept">Accept all cookies</button>
<button type="button" class="manage">Manage preferences</button>
</div>
<div class="layout">
<aside class="sidebar" aria-label="Sidebar">
<p class="sidebar-title">Popular topics</p>
<ul>
{_links_html(SIDEBAR_LINKS)}
</ul>
<div class="newsletter">
<p>Subscribe to our newsletter for monthly product updates.</p>
<form action="http://offsite.invalid/newsletter" method="post">
<input type="email" name="email" placeholder="you@example.com">
<button type="submit">Subscribe</button>
</form>
</div>
</aside>
<main id="main">
<article>
<h1>{html.escape(title)}</h1>
{article}
</article>
</main>
</div>
<div class="feedback">Was this page helpful? <button type="button">Yes</button>
<button type="button">No</button></div>
<footer class="site-footer">
<p>© 2026 Example Corp. All rights reserved.</p>
<ul class="legal">
<li><a href="http://offsite.invalid/legal/privacy">Privacy policy</a></li>
<li><a href="http://offsite.invalid/legal/terms">Terms of service</a></li>
<li><a href="http://offsite.invalid/careers">Careers</a></li>
</ul>
</footer>
<script>document.querySelector(".accept").onclick=function(){{
document.getElementById("cookie-banner").remove();}};</script>
</body>
</html>
"""
    return "\n".join(head) + "\n" + body


# -- the hand-written pages -------------------------------------------------------------

HOME_BODY = """
<p>Harbor is a self-hosted service that keeps folders in step across laptops, servers and phones
without handing your files to anyone else. These pages collect everything the team has written
about installing it, running it from day to day and recovering when something goes wrong.</p>
<p>If you are new here, start with the getting started guide: it walks through a first
installation on a single machine and ends with two folders that mirror each other. People who
already run Harbor in production usually head for the material on conflicts and performance, or
for the frequently asked questions, which grow a little every time a support ticket teaches us
something new.</p>
<h2 id="start">Where to begin</h2>
<ul>
<li><a href="/en/guide.html">Getting started with Harbor</a>, from download to first sync</li>
<li><a href="/en/guide.html?utm_source=news&amp;utm_medium=email">The same guide, as linked in
our newsletter</a></li>
<li><a href="/en/guide.html?gclid=abc">The guide, from our search advertisement</a></li>
<li><a href="/en/guide.html?fbclid=xyz">The guide, as shared on social media</a></li>
<li><a href="/en/guide.html#section-2">Jump straight to configuring your first folder</a></li>
<li><a href="@BASE@/en/guide.html">Permanent link to the guide</a></li>
<li><a href="/en/../en/guide.html">The guide, through an untidy relative link</a></li>
<li><a href="/en/faq.html">Frequently asked questions</a></li>
<li><a href="/en/faq-copy.html">An archived copy of the questions page</a></li>
<li><a href="/en/advanced.html">Advanced conflict resolution</a></li>
<li><a href="/en/noindex.html">Migration checklist (draft)</a></li>
<li><a href="/en/nofollow.html">Notes from the staging environment</a></li>
<li><a href="/en/thin.html">Roadmap</a></li>
</ul>
<h2 id="blog">From the blog</h2>
<p>Our engineers write about the decisions behind each release, including the ones we would make
differently today. The most recent posts explain why the scheduler was rewritten from scratch and
how to get photos off a phone without draining its battery.</p>
<ul>
<li><a href="/blog/2026/01/scheduler-rewrite.html">Why we rewrote the scheduler</a></li>
<li><a href="/en/mirror-article.html">Syncing photos from your phone</a></li>
</ul>
<h2 id="reference">Reference material</h2>
<p>A few pages deal with the unglamorous details that nevertheless cause most of the confusing
bug reports we receive: character sets, file names from other operating systems, and prices
quoted in euros. The calendar lists community meetups, and the manual collects the whole
documentation in one printable file.</p>
<ul>
<li><a href="/fr/encodage.html">Les jeux de caractères expliqués</a></li>
<li><a href="/en/unicode-filenames.html">Unicode file names</a></li>
<li><a href="/en/pricing.html">Pricing for European customers</a></li>
<li><a href="/calendar/2026/01">Events calendar</a></li>
<li><a href="/files/manual.pdf">Download the complete manual as PDF</a></li>
<li><a href="/img/logo.png">Download the Harbor logo</a></li>
<li><a href="/files/blob.html">Legacy export file</a></li>
<li><a href="/old-guide">The old installation guide</a></li>
<li><a href="/go-offsite">The guide on our partner mirror</a></li>
<li><a href="/missing-page.html">Troubleshooting network errors</a></li>
<li><a href="/private/internal-notes.html">Internal notes for staff</a></li>
</ul>
<h2 id="elsewhere">Elsewhere</h2>
<p>Harbor is built in the open, and a good deal of the conversation happens away from this site.
The community forum is the best place for questions that are not answered here, and the mirror
server carries a copy of the documentation for readers behind restrictive firewalls.</p>
<ul>
<li><a href="http://offsite.invalid/forum/harbor">Harbor on the community forum</a></li>
<li><a href="http://offsite.invalid/docs/harbor/guide.html">The guide, hosted elsewhere</a></li>
<li><a href="@OFFSITE@/en/faq.html">The questions page on the mirror server</a></li>
</ul>
"""

GUIDE_BODY = """<p class="lead">This guide takes you from an empty machine to a working pair of
synchronized folders in about twenty minutes. It assumes you are comfortable with a terminal but
have never run Harbor before.</p>
<h2 id="section-1">Installing Harbor</h2>
<p>Harbor ships as a single binary with no runtime dependencies. Download the archive for your
platform, unpack it somewhere on your path and run <code>harbor version</code> to confirm that the
shell can find it. On Linux we recommend creating a dedicated system user, because the daemon
needs write access to its own state directory but to nothing else on the machine.</p>
<ul>
<li>A 64-bit operating system released in the last five years</li>
<li>At least 512 MB of free memory for the daemon and its index</li>
<li>An open TCP port between the machines you want to connect</li>
<li>Enough disk space for the folders you plan to share, plus ten percent for history</li>
</ul>
<table>
<thead><tr><th>Platform</th><th>Package</th><th>Service manager</th></tr></thead>
<tbody>
<tr><td>Debian and Ubuntu</td><td>harbor_amd64.deb</td><td>systemd</td></tr>
<tr><td>Fedora and RHEL</td><td>harbor.x86_64.rpm</td><td>systemd</td></tr>
<tr><td>macOS</td><td>harbor-macos.tar.gz</td><td>launchd</td></tr>
<tr><td>Windows</td><td>harbor-setup.exe</td><td>Windows service</td></tr>
</tbody>
</table>
<h2 id="section-2">Configuring your first folder</h2>
<p>Configuration lives in a plain text file. Each shared folder gets a short identifier, a local
path and the list of devices allowed to see it. The identifier must be the same on every machine,
while the path can differ, so a folder called <code>notes</code> may sit in your home directory on
one laptop and on a data disk on the server.</p>
<pre><code>[folder.notes]
path = "/home/maria/notes"
devices = ["laptop", "server"]
rescan_interval = "10m"
</code></pre>
<p>Harbor keeps a small journal of every file it has seen, which is how it can tell a deleted
file apart from one that simply has not arrived yet. Do not edit the journal by hand; if it ever
gets corrupted, stop the daemon and run <code>harbor repair</code> instead.</p>
<h2 id="section-3">Checking the result</h2>
<p>Start the daemon on both machines and open the status page. Within a minute each device should
list the other as connected and the folder should move from scanning to idle. Create a text file
on one side and watch it appear on the other; if nothing happens after a few minutes, the
frequently asked questions cover the usual suspects, from firewalls to clocks that disagree.</p>
"""

PRINT_LINK = '<p><a href="/en/guide-print.html">Printable version of this guide</a></p>\n'
PRINT_NOTE = '<p class="print-note">Print edition, formatted for paper.</p>\n'

FAQ_BODY = """
<p>These are the questions that reach our support team most often. If yours is not here,
the community forum is usually the fastest way to an answer.</p>
<h2 id="cloud">Does Harbor upload my files to a cloud service?</h2>
<p>No. Harbor never stores a copy of your data on servers we operate. Devices talk to each other
directly whenever they can, and when a direct connection is impossible, traffic passes through a
relay that only ever sees encrypted blocks. You can run your own relay if you prefer not to depend
on the public ones.</p>
<h2 id="conflicts">What happens when two people edit the same file?</h2>
<p>If a file changes on two devices before either change has been synchronized, Harbor keeps both.
The version with the most recent modification time wins the original name, and the other is saved
next to it with the word conflict and a timestamp in its name. Nothing is thrown away, but someone
has to look at both copies and decide what to keep.</p>
<h2 id="clocks">Why does the status page warn about clocks?</h2>
<p>Modification times are only useful when devices agree on what time it is. A laptop whose clock
runs ten minutes fast will win every conflict, even when its change is older. Enable automatic
time synchronization on every device and the warning disappears on its own.</p>
<h2 id="ignore">Can I exclude temporary files?</h2>
<p>Yes. Place a file named <code>.harborignore</code> at the root of the shared folder and list
one pattern per line. The most common entries are:</p>
<ul>
<li><code>*.tmp</code> and <code>*.swp</code> for editor scratch files</li>
<li><code>node_modules/</code> and other dependency folders that can be rebuilt</li>
<li><code>.DS_Store</code> and <code>Thumbs.db</code>, which operating systems create silently</li>
</ul>
<h2 id="bandwidth">How much bandwidth does Harbor use?</h2>
<p>After the first full transfer, very little. Files are split into blocks and only blocks that
actually changed are sent, so editing one paragraph of a large document costs a few kilobytes
rather than the whole file. You can also set upload and download limits per device if the
connection is shared with other people.</p>
"""

ADVANCED_BODY = """<p>Most of the time Harbor resolves changes without anyone noticing. This page is
about the rest of the time: what a conflict really is, why some of them cannot be avoided, and
how to set up folders so that they become rare.</p>
<h2 id="what">What a conflict is</h2>
<p>It helps to think of it this way:
a conflict is not an error but a question Harbor cannot answer on its own.
Two devices changed the same file, and neither change was built on top of the other. Harbor has
no way of knowing which edit matters more, so it keeps both and leaves the decision to a person.
Merging text automatically might look tempting, but a merge that silently produces a broken
spreadsheet is far worse than a visible conflict copy.</p>
<h2 id="prevent">Making conflicts rare</h2>
<ul>
<li>Keep clocks synchronized on every device.</li>
<li>Let each device finish syncing before you close the laptop lid.</li>
<li>Give shared documents a single owner who merges contributions.</li>
<li>Use receive-only folders on machines that should never originate changes.</li>
</ul>
<h2 id="receive-only">Receive-only folders</h2>
<p>A receive-only folder accepts changes from the rest of the cluster but never sends its own. If
someone edits a file there by mistake, Harbor flags the folder as locally modified and offers to
revert it to the shared version. This is ideal for backup servers and for display machines in a
meeting room.</p>
<pre><code>[folder.reports]
path = "/srv/reports"
type = "receive-only"
</code></pre>
<p>Performance matters as much as correctness once folders grow into the hundreds of thousands of
files. Our colleagues in Madrid wrote a detailed piece on the subject, which is only available in
Spanish for now: <a href="/es/rendimiento.html">Ajuste del rendimiento</a>.</p>
"""

RENDIMIENTO_BODY = """<p>Cuando alguien se queja de que Harbor va lento, lo primero que pensamos
todos es en la conexión. Sin embargo,
la mayoría de los problemas de rendimiento no vienen de la red,
sino del disco y del número de archivos que hay que vigilar.</p>
<h2 id="escaneo">El coste del escaneo</h2>
<p>Cada cierto tiempo, Harbor recorre las carpetas compartidas para comprobar que nada se le ha
escapado. En una carpeta con unos pocos miles de archivos el recorrido dura segundos, pero con
medio millón de fotografías en un disco mecánico puede ocupar el equipo durante minutos enteros.
Por eso conviene alargar el intervalo de escaneo en las carpetas grandes y confiar en las
notificaciones del sistema operativo, que avisan al instante de cada cambio.</p>
<table>
<thead><tr><th>Tamaño de la carpeta</th><th>Intervalo recomendado</th></tr></thead>
<tbody>
<tr><td>Menos de 10 000 archivos</td><td>10 minutos</td></tr>
<tr><td>Hasta 100 000 archivos</td><td>1 hora</td></tr>
<tr><td>Más de 100 000 archivos</td><td>6 horas</td></tr>
</tbody>
</table>
<h2 id="memoria">Memoria y base de datos</h2>
<p>El índice que Harbor mantiene en disco crece con el número de archivos, no con su tamaño. Un
millón de archivos pequeños exige más memoria que cien películas. Si el servidor dispone de poca
memoria, agrupe los archivos diminutos en archivos comprimidos antes de compartirlos, o divida la
carpeta en varias más pequeñas repartidas entre dispositivos distintos.</p>
<ul>
<li>use discos de estado sólido para el directorio de estado;</li>
<li>excluya las carpetas temporales con un archivo de exclusiones;</li>
<li>revise los registros después de cada actualización importante.</li>
</ul>
"""

RELEASE_NOTES_BODY = """
<p>
Harbor 3.2 is the first release to verify every block with a rolling checksum
before it is written to disk. Corrupted transfers, which used to surface days later as unreadable
files, are now caught and retried immediately. The check costs roughly three percent of
throughput on our test hardware, a price we think is well worth paying.</p>
<h2 id="changes">Other changes</h2>
<ul>
<li>The web interface remembers which folders you collapsed.</li>
<li>Relay connections reconnect faster after a network change.</li>
<li>The command line gained a <code>harbor pause</code> subcommand for maintenance windows.</li>
<li>Log files rotate daily and are compressed after a week.</li>
</ul>
<h2 id="upgrade">Upgrading</h2>
<p>Upgrade one device at a time. Version 3.2 talks to 3.0 and 3.1 without trouble, so a mixed
cluster keeps working while you roll the update out. The first start after the upgrade rebuilds
part of the index, which can take a few minutes on folders with many small files; the status page
shows the progress, and it is safe to let the machine sleep in the meantime.</p>
<h2 id="fixed">Fixed problems</h2>
<p>Renaming a folder that contained a symbolic link no longer causes a full rescan. File names
that differ only in Unicode normalization are treated as the same file on every platform, which
closes a long-standing source of duplicate files between macOS and Linux.</p>
"""

NOVITA_BODY = """<p>La versione 3.2 di Harbor punta soprattutto sull'affidabilità dei trasferimenti.
In pratica, la nuova versione controlla ogni blocco con una somma di controllo prima di scriverlo
sul disco, così un file danneggiato durante il viaggio viene scartato e richiesto di nuovo invece
di comparire giorni dopo come documento illeggibile.</p>
<h2 id="novita">Le altre novità</h2>
<ul>
<li>l'interfaccia web ricorda quali cartelle avete compresso;</li>
<li>le connessioni tramite relay si ristabiliscono più in fretta dopo un cambio di rete;</li>
<li>i file di log vengono ruotati ogni giorno e compressi dopo una settimana.</li>
</ul>
<h2 id="aggiornamento">Come aggiornare</h2>
<p>Conviene aggiornare un dispositivo alla volta. La versione 3.2 comunica senza problemi con la
3.0 e la 3.1, quindi un gruppo misto continua a funzionare mentre l'aggiornamento si diffonde. Al
primo avvio Harbor ricostruisce una parte dell'indice: sulle cartelle con moltissimi file piccoli
può volerci qualche minuto, e la pagina di stato mostra l'avanzamento. Nel frattempo il computer
può anche andare in sospensione senza alcun rischio.</p>
"""

SCHEDULER_BODY = """<p>For three years, the old scheduler treated every folder as equally urgent.
It visited them in a fixed order, scanned each one completely and only then moved on, which was
perfectly reasonable for the small installations we had in mind when we wrote it.</p>
<p>Then people started using Harbor for things we had not imagined. One customer shares twelve
thousand folders, one per employee, from a single server. Another keeps a photo archive of four
million files next to a notes folder that changes every few seconds. In both cases, a small edit
could wait twenty minutes in the queue behind a scan that was never going to find anything
new.</p>
<h2 id="design">The new design</h2>
<p>The new scheduler keeps a priority for each folder. Folders that changed recently, or that a
person is looking at in the web interface, move to the front; folders that have been quiet for
days drift to the back and are scanned less often. File system notifications still trigger an
immediate look at the affected folder, so nothing is delayed just because it is large.</p>
<table>
<thead><tr><th>Scenario</th><th>Old scheduler</th><th>New scheduler</th></tr></thead>
<tbody>
<tr><td>Edit in a busy notes folder</td><td>up to 20 minutes</td><td>under 5 seconds</td></tr>
<tr><td>Full scan of 4 million files</td><td>41 minutes</td><td>38 minutes</td></tr>
<tr><td>Idle processor usage</td><td>6 percent</td><td>under 1 percent</td></tr>
</tbody>
</table>
<h2 id="lessons">What we learned</h2>
<p>The rewrite took longer than planned, mostly because the old code encoded assumptions nobody
had written down. We spent the first month writing tests that described its behaviour, including
the odd corners, before changing a single line. Those tests caught two regressions that would
otherwise have shipped, and they now protect the new scheduler in exactly the same way.</p>
"""

MIRROR_BODY = """<p>This article first appeared on the Example Corp company blog and is reproduced
here with minor edits.</p>
<p>Phones make wonderful cameras and terrible file servers. Operating systems suspend background
work aggressively to save battery, networks switch between mobile data and wireless several times
an hour, and storage fills up without warning. Put simply,
phones are the least reliable devices in any sync setup,
and a good configuration accepts that instead of fighting it.</p>
<h2 id="one-way">Send, do not share</h2>
<p>The most robust setup treats the phone as a send-only device. New photos flow from the phone to
a computer or server, but nothing flows back, so the phone never has to store the whole archive
and never has to resolve a conflict. Once a photo has safely arrived, you can delete it from the
phone without any effect on the copy at home.</p>
<ul>
<li>Sync only while the phone is charging.</li>
<li>Restrict transfers to wireless networks you trust.</li>
<li>Keep the camera folder separate from everything else.</li>
</ul>
<h2 id="battery">Battery and background limits</h2>
<p>If transfers stop whenever the screen turns off, the operating system is probably putting the
app to sleep. Exempt Harbor from battery optimisation in the system settings, or accept that
photos will arrive the next time you open the app. Either choice is fine, as long as it is a
deliberate one.</p>
"""

SHORTCUTS_BODY = """<p>
Press the question mark key anywhere in the web interface
to see the shortcuts that apply to the current screen. The most useful ones are listed below; all
of them work in every supported browser, and none of them clash with the shortcuts of common
screen readers.</p>
<table>
<thead><tr><th>Key</th><th>Action</th></tr></thead>
<tbody>
<tr><td>g then f</td><td>Go to the folder list</td></tr>
<tr><td>g then d</td><td>Go to the device list</td></tr>
<tr><td>r</td><td>Rescan the selected folder</td></tr>
<tr><td>p</td><td>Pause or resume the selected folder</td></tr>
<tr><td>/</td><td>Search file names</td></tr>
</tbody>
</table>
<h2 id="custom">Changing shortcuts</h2>
<p>Shortcuts can be changed in the settings under the accessibility section. A new binding takes
effect immediately and is stored in the browser, so each person can keep their own preferences on
a shared machine. If you assign a key that is already in use, the interface warns you and shows
which action would lose its shortcut.</p>
<p>Some shortcuts are deliberately missing. There is no single key for deleting a folder or
removing a device, because a mistyped letter should never be able to cause data loss. Those
actions always ask for confirmation, and the confirmation dialog cannot be skipped with the
keyboard alone.</p>
"""

EXPERIMENTAL_BODY = """<p>Experimental features are switched off by default and may change or
disappear between releases. They are documented here for people who want to help test them, not
for production use.</p>
<h2 id="lan">Local network discovery over IPv6</h2>
<p>Harbor can announce itself on the local network using IPv6 multicast in addition to the usual
broadcast. This helps on networks where broadcast traffic is filtered, but some consumer routers
handle multicast poorly and flood every port with the announcements.</p>
<h2 id="dedup">Cross-folder deduplication</h2>
<p>When enabled, identical blocks that appear in several folders are stored only once on disk. The
savings can be large for folders full of build artifacts, yet the feature makes recovery after a
crash slower, which is why it remains experimental for now.</p>
"""

NOINDEX_BODY = """<p>This checklist is still being reviewed by the support team and should not be
relied on yet. It collects the steps we ask customers to follow when moving a Harbor installation
to new hardware.</p>
<ul>
<li>Stop the daemon on the old machine and wait until the status shows it as offline.</li>
<li>Copy the state directory, including the hidden journal files.</li>
<li>Install the same Harbor version on the new machine before copying anything back.</li>
<li>Start the daemon and confirm that the device identifier has not changed.</li>
</ul>
<p>Once the new machine is running, the other devices reconnect on their own. The web interface
will feel unfamiliar for a moment because the window layout is stored in the browser rather than
on the server; the <a href="/en/only-via-noindex.html">keyboard shortcuts reference</a> explains
how to get around quickly while everything settles.</p>
"""

NOFOLLOW_BODY = """<p>These notes describe the staging environment that the documentation team uses
to preview changes before they go live. They are kept here for convenience and are not meant for
customers.</p>
<p>Staging is rebuilt from scratch every night, so anything you change there disappears by the
next morning. Features that are not ready for a release are enabled in staging first; the
<a href="/en/only-via-nofollow.html">list of experimental features</a> shows what is currently
switched on. Please report broken pages in the team channel rather than by email, so that whoever
is on duty sees them quickly.</p>
"""

PRIVATE_BODY = """<p>These internal notes are for Example Corp staff only. They list the support
rota, the contacts at our hosting providers and the escalation steps for outages that affect
paying customers. Nothing on this page should ever appear in a public search index.</p>
<p>Before changing the rota, check the shared holiday planner and tell the people involved in
person. Escalations outside office hours go to the engineer on call first and to the head of
operations only if nobody answers within fifteen minutes.</p>
"""

THIN_BODY = "<p>Coming soon. Check back next month.</p>\n"

FR_GUIDE_BODY = """
<p>Ce guide vous accompagne de l'installation de Harbor jusqu'à la première
synchronisation entre deux ordinateurs. Comptez une vingtaine de minutes si vous avez déjà
l'habitude du terminal, un peu plus si c'est votre première fois, ce qui n'a rien d'inquiétant.</p>
<h2 id="installation">Installation</h2>
<p>Harbor est distribué sous la forme d'un seul exécutable, sans dépendance à installer.
Téléchargez l'archive correspondant à votre système, décompressez-la dans un dossier présent dans
votre chemin d'accès, puis lancez <code>harbor version</code> pour vérifier que tout fonctionne.
Sous Linux, nous conseillons de créer un utilisateur dédié : le service n'a besoin d'écrire que
dans son propre répertoire d'état.</p>
<h2 id="premier-dossier">Partager un premier dossier</h2>
<p>Chaque dossier partagé possède un identifiant court, un chemin local et la liste des appareils
autorisés. L'identifiant doit être identique sur toutes les machines, alors que le chemin peut
varier d'un ordinateur à l'autre.
Harbor conserve un petit journal de chaque fichier qu'il a déjà vu,
ce qui lui permet de distinguer un fichier supprimé d'un fichier qui n'est simplement pas encore
arrivé.</p>
<ul>
<li>vérifiez que l'horloge des deux machines est à l'heure ;</li>
<li>ouvrez le port TCP utilisé par Harbor dans votre pare-feu ;</li>
<li>commencez par un petit dossier avant de partager des centaines de gigaoctets.</li>
</ul>
<h2 id="verification">Vérifier le résultat</h2>
<p>Démarrez le service sur les deux machines et ouvrez la page d'état. Au bout d'une minute,
chaque appareil doit apparaître comme connecté et le dossier doit passer de « analyse » à « à
jour ». Créez un fichier texte d'un côté et regardez-le apparaître de l'autre. Si rien ne se
passe, consultez la foire aux questions : les pare-feu trop zélés et les horloges déréglées
expliquent la plupart des échecs.</p>
"""

# Latin-1 only: no curly apostrophes, no oe ligature, no euro sign.
FR_ENCODAGE_BODY = """
<p>Un ordinateur ne stocke jamais des lettres, seulement des nombres. Un jeu de
caractères est la table qui indique quel nombre correspond à quelle lettre, et c'est là que les
ennuis commencent : pendant des décennies, chaque région du monde a utilisé sa propre table.</p>
<h2 id="latin1">La norme ISO 8859-1</h2>
<p>Les caractères accentués comme é, è, à et ç occupent chacun un seul octet dans la norme
ISO 8859-1, aussi appelée Latin-1. Elle couvre le français, l'allemand, l'espagnol et la plupart
des langues d'Europe de l'Ouest, ce qui explique qu'elle ait été la valeur par défaut de nombreux
serveurs web pendant des années. Il lui manque pourtant quelques signes : le symbole de la
monnaie européenne, arrivé trop tard, n'y figure pas.</p>
<h2 id="symptomes">Reconnaître un problème d'encodage</h2>
<p>Lorsqu'un texte enregistré en Latin-1 est lu comme de l'UTF-8, les lettres accentuées se
transforment en points d'interrogation ou en losanges. Dans le cas inverse, des paires de signes
étranges apparaissent à la place d'une seule lettre. Ces deux symptômes sont faciles à reconnaître
une fois qu'on les a croisés, et ils ont presque toujours la même cause : un en-tête absent.</p>
<ul>
<li>déclarez toujours le jeu de caractères dans l'en-tête HTTP ;</li>
<li>préférez l'UTF-8 pour tout nouveau document ;</li>
<li>ne convertissez jamais deux fois le même fichier.</li>
</ul>
<p>Harbor ne modifie jamais le contenu des fichiers qu'il synchronise : un document en Latin-1
arrive en Latin-1 de l'autre côté, octet pour octet. Seuls les noms de fichiers sont normalisés,
afin qu'un même nom s'écrive de la même façon sur tous les systèmes. Où que vous soyez, à Genève,
à Montréal ou à Dakar, le résultat est identique.</p>
"""

DE_BODY = """
<p>Harbor ist ein Werkzeug zur Synchronisation, kein Ersatz für eine Datensicherung. Wer
eine Datei auf dem Laptop löscht, löscht sie wenige Sekunden später auch auf dem Server. Diese
Anleitung erklärt, wie Sie beides sinnvoll kombinieren, ohne doppelt so viel Speicherplatz zu
verbrauchen.</p>
<h2 id="versionen">Dateiversionen aufbewahren</h2>
<p>
Harbor führt ein kleines Journal über jede Datei, die es gesehen hat.
Aktivieren Sie zusätzlich die Versionierung für einen Ordner, verschiebt Harbor überschriebene
oder gelöschte Dateien in ein verstecktes Archiv, statt sie endgültig zu entfernen. Wie lange alte
Versionen dort bleiben, legen Sie pro Ordner fest; dreißig Tage sind für die meisten Teams ein
guter Ausgangswert.</p>
<table>
<thead><tr><th>Strategie</th><th>Speicherbedarf</th><th>Geeignet für</th></tr></thead>
<tbody>
<tr><td>Einfache Versionierung</td><td>gering</td><td>Dokumente und Notizen</td></tr>
<tr><td>Gestaffelte Versionierung</td><td>mittel</td><td>Projektordner</td></tr>
<tr><td>Externe Sicherung</td><td>hoch</td><td>Fotos und Archive</td></tr>
</tbody>
</table>
<h2 id="wiederherstellung">Wiederherstellung testen</h2>
<p>Eine Sicherung, deren Wiederherstellung nie geprobt wurde, ist nur eine Hoffnung. Nehmen Sie
sich einmal im Quartal eine Viertelstunde Zeit, löschen Sie absichtlich eine unwichtige Datei und
holen Sie sie über die Weboberfläche zurück. Dabei fällt schnell auf, ob Berechtigungen fehlen
oder ob das Archiv auf einer Festplatte liegt, die längst voll ist.</p>
<ul>
<li>Bewahren Sie mindestens eine Kopie außerhalb des Hauses auf.</li>
<li>Prüfen Sie die Protokolle nach jedem größeren Update.</li>
<li>Dokumentieren Sie, wer im Ernstfall Zugriff auf die Schlüssel hat.</li>
</ul>
"""

ES_BODY = """
<p>Harbor mantiene sincronizadas las carpetas de varios equipos sin pasar por la nube de
nadie. Esta guía resume los conceptos básicos para que la primera instalación salga bien a la
primera, incluso si nunca ha administrado un servidor.</p>
<h2 id="conceptos">Conceptos básicos</h2>
<p>Cada equipo que participa en la sincronización se llama dispositivo y se identifica mediante
una clave única que se genera durante la instalación. Dos dispositivos solo intercambian datos
cuando ambos se han aceptado mutuamente, de modo que nadie puede unirse a sus carpetas sin permiso.
Harbor guarda un pequeño registro de cada archivo que ha visto,
y gracias a él distingue un archivo borrado de uno que todavía no ha llegado.</p>
<h2 id="instalacion">Instalación</h2>
<p>Descargue el paquete correspondiente a su sistema operativo y ejecútelo. En Linux conviene
crear un usuario dedicado para el servicio, que solo necesita permiso de escritura en su propio
directorio de estado. Al terminar, abra el navegador en la dirección que indica el instalador y
verá la interfaz web con su primer dispositivo ya configurado.</p>
<ul>
<li>compruebe que los relojes de todos los equipos estén en hora;</li>
<li>abra en el cortafuegos el puerto que usa Harbor;</li>
<li>empiece con una carpeta pequeña antes de compartir cientos de gigas.</li>
</ul>
<p>Cuando el segundo equipo aparezca como conectado, cree un archivo de texto en uno de ellos y
espere a que surja en el otro. Si después de unos minutos no ocurre nada, revise las preguntas
frecuentes: los cortafuegos demasiado estrictos y los relojes desajustados explican la mayoría de
los fallos.</p>
"""

IT_BODY = """
<p>Harbor non serve solo a tenere allineati i propri computer: molti gruppi di lavoro lo
usano per condividere progetti, contratti e materiale grafico senza affidarsi a un servizio
esterno. Questa guida spiega come organizzare le cartelle perché tutti trovino sempre la versione
giusta dei documenti.</p>
<h2 id="struttura">Una struttura chiara</h2>
<p>Prima di invitare i colleghi, decidete quali cartelle servono davvero. Una cartella per ogni
progetto funziona meglio di un'unica cartella enorme, perché ciascuno può ricevere solo ciò che
gli interessa.
Harbor tiene un piccolo registro di ogni file che ha visto,
quindi spostare un documento da una cartella all'altra non crea copie inutili.</p>
<h2 id="permessi">Permessi e dispositivi</h2>
<p>Ogni cartella ha il proprio elenco di dispositivi autorizzati. Quando un collega lascia il
gruppo, basta rimuovere il suo computer dall'elenco: da quel momento non riceverà più modifiche,
mentre i file già scaricati restano sul suo disco. Per questo è meglio non condividere dati
riservati con dispositivi personali.</p>
<ul>
<li>assegnate a ogni cartella un responsabile;</li>
<li>usate nomi descrittivi e senza caratteri speciali;</li>
<li>controllate una volta al mese l'elenco dei dispositivi.</li>
</ul>
<p>Infine, ricordate che una cartella condivisa non è un archivio. Se qualcuno cancella un file
per errore, la cancellazione raggiunge tutti in pochi secondi. Attivate il controllo delle
versioni sulle cartelle importanti e verificate di tanto in tanto che il ripristino funzioni
davvero.</p>
"""

PT_BODY = """<p>Nem todo escritório tem fibra óptica, e muita gente sincroniza arquivos por conexões
móveis ou por links de satélite instáveis. A boa notícia é que o Harbor foi pensado para esse tipo
de situação: sempre que algo é alterado,
o Harbor envia apenas os blocos que mudaram,
e não o arquivo inteiro.</p>
<h2 id="limites">Limites de banda</h2>
<p>Em conexões compartilhadas, vale a pena definir limites de envio e de recebimento para cada
dispositivo. Assim, a sincronização continua funcionando em segundo plano sem deixar as
videochamadas travando. Os limites podem ser alterados a qualquer momento pela interface web e
passam a valer imediatamente, sem reiniciar o serviço.</p>
<table>
<thead><tr><th>Tipo de conexão</th><th>Limite sugerido</th></tr></thead>
<tbody>
<tr><td>Rede móvel 4G</td><td>2 Mbit/s</td></tr>
<tr><td>Satélite</td><td>1 Mbit/s</td></tr>
<tr><td>ADSL doméstico</td><td>metade da velocidade de envio</td></tr>
</tbody>
</table>
<h2 id="compressao">Compressão e horários</h2>
<p>A compressão reduz bastante o volume de documentos de texto e planilhas, mas não ajuda em nada
com fotos e vídeos, que já chegam comprimidos. Outra estratégia eficaz é agendar as transferências
grandes para a madrugada, quando ninguém está usando a rede. Dessa forma, o trabalho do dia
seguinte começa com tudo atualizado.</p>
<ul>
<li>ative a compressão apenas para pastas com documentos;</li>
<li>prefira redes cabeadas para a primeira sincronização completa;</li>
<li>acompanhe o histórico de transferências na página de estado.</li>
</ul>
"""

NL_BODY = """
<p>Wie Harbor thuis wil draaien zonder een zware server aan te schaffen, kan prima uit de
voeten met een klein bordje.
Een Raspberry Pi verbruikt minder stroom dan een gloeilamp
en maakt geen geluid, waardoor hij gerust dag en nacht in de meterkast kan blijven staan.</p>
<h2 id="benodigdheden">Wat heb je nodig</h2>
<ul>
<li>een Raspberry Pi 4 of 5 met minstens 2 GB werkgeheugen;</li>
<li>een externe schijf met een eigen voeding;</li>
<li>een bekabelde netwerkverbinding, want wifi is voor grote mappen te traag;</li>
<li>een recente versie van Raspberry Pi OS in de 64-bitsuitvoering.</li>
</ul>
<h2 id="installatie">Installatie</h2>
<p>Download het pakket voor de ARM64-architectuur en installeer het met de pakketbeheerder. Maak
daarna een aparte gebruiker aan die alleen schrijfrechten heeft op de externe schijf, en start de
dienst onder die gebruiker. Zo kan een fout in de configuratie nooit het besturingssysteem zelf
beschadigen.</p>
<pre><code>sudo apt install ./harbor_arm64.deb
sudo systemctl enable --now harbor@harbor
</code></pre>
<h2 id="tips">Tips voor stabiel gebruik</h2>
<p>Geheugenkaarten slijten snel als er voortdurend naar geschreven wordt. Zet daarom niet alleen de
gedeelde mappen, maar ook de statusmap van Harbor op de externe schijf. Controleer daarnaast of de
voeding sterk genoeg is: een te zwakke adapter veroorzaakt vage fouten die op problemen met de
schijf lijken, terwijl de oorzaak heel ergens anders ligt.</p>
"""

# Japanese paragraphs are joined without newlines: a line break inside Japanese text would
# render as a stray space.
JA_BODY = "\n".join(
    [
        "<p>"
        "Harbor は、複数のパソコンのフォルダーを同期するためのソフトウェアです。"
        "クラウドサービスを経由せず、端末同士が直接データをやり取りするので、"
        "ファイルが第三者のサーバーに保存されることはありません。"
        "</p>",
        "<p>"
        "このページでは、はじめて Harbor を使う方のために、インストールから最初の同期までの"
        "流れを説明します。難しい設定は必要ありません。二台のパソコンと、少しの時間があれば"
        "十分です。"
        "</p>",
        '<h2 id="install">インストール</h2>',
        "<p>"
        "公式サイトから、お使いの環境に合ったファイルをダウンロードしてください。"
        "Harbor は一つの実行ファイルだけで動くので、追加のソフトウェアは不要です。"
        "インストールが終わったら、ターミナルで <code>harbor version</code> と入力し、"
        "バージョン番号が表示されることを確認します。"
        "</p>",
        '<h2 id="folder">フォルダーの共有</h2>',
        "<p>"
        "次に、同期したいフォルダーを選びます。フォルダーごとに短い名前を付け、"
        "共有を許可する端末を登録します。名前はすべての端末で同じにする必要がありますが、"
        "保存場所は端末ごとに変えてもかまいません。Harbor は、これまでに見たすべての"
        "ファイルを小さな記録に残しているため、削除されたファイルとまだ届いていない"
        "ファイルを正しく区別できます。"
        "</p>",
        "<ul>",
        "<li>両方のパソコンの時計が正しいことを確認する</li>",
        "<li>ファイアウォールで Harbor のポートを開ける</li>",
        "<li>最初は小さなフォルダーで試す</li>",
        "</ul>",
        '<h2 id="check">動作の確認</h2>',
        "<p>"
        "両方の端末で Harbor を起動し、状態画面を開いてください。一分ほどで相手の端末が"
        "「接続済み」と表示され、フォルダーの状態が「最新」に変わります。"
        "片方でテキストファイルを作成し、もう片方に現れれば設定は完了です。"
        "うまくいかない場合は、よくある質問のページを参考にしてください。"
        "</p>",
        "",
    ]
)

# Windows-1252: curly quotes (0x93/0x94), apostrophe (0x92) and the euro sign (0x80).
PRICING_BODY = """<p>Harbor itself is free software, but many organisations prefer to buy a support
subscription so that someone answers the phone when things go wrong. Prices on this page are in
euros and include value added tax for customers in the European Union.</p>
<h2 id="plans">Plans</h2>
<p>For small organisations,
the “Team” plan costs €8 per user per month
and includes email support with a response within one business day. The “Business” plan adds
telephone support, a named contact and a four-hour response time for €15 per user per month.</p>
<table>
<thead><tr><th>Plan</th><th>Price per user</th><th>Response time</th></tr></thead>
<tbody>
<tr><td>Community</td><td>€0</td><td>best effort</td></tr>
<tr><td>Team</td><td>€8</td><td>one business day</td></tr>
<tr><td>Business</td><td>€15</td><td>four hours</td></tr>
</tbody>
</table>
<h2 id="billing">Billing questions</h2>
<p>Invoices are issued at the start of each month and can be paid by bank transfer or card. We
don’t charge for users who were inactive for the whole month, and if you’re a registered charity
or a school, ask us about the “Education” discount before you sign up.</p>
"""

UNICODE_BODY = """<p>Operating systems disagree about file names more than about anything else.
Picture
a file called naïve café.txt created on a Mac
and then copied to a Linux server. The two systems may store the accented letters differently: one
keeps é as a single character, the other as a plain e followed by a combining accent. Both look
identical on screen, yet a simple byte comparison says they are different names, and a careless
sync tool ends up with two files where there should be one.</p>
<h2 id="normalization">How Harbor handles it</h2>
<p>Harbor compares names after normalizing them, so the two spellings of café are always treated
as the same file, no matter how each system wrote it down. The name on disk is left exactly as the
local system prefers, which keeps other programs on that machine happy.</p>
<ul>
<li>Names such as Ångström — Messungen.xlsx travel unchanged between all platforms.</li>
<li>Characters that Windows forbids, such as a colon, are replaced on Windows only.</li>
<li>Names longer than 255 bytes are rejected with a clear error instead of being cut short.</li>
</ul>
<p>Non-Latin scripts work just as well: a folder named 東京 or Αθήνα synchronizes like any other.
The only limits are those of the file systems themselves, which Harbor reports on the status page
rather than silently working around them.</p>
"""

PAGES: tuple[PageSpec, ...] = (
    PageSpec(
        "/",
        "en",
        "Harbor Documentation",
        "Documentation, guides and release notes for Harbor, the self-hosted sync service.",
        HOME_BODY,
        sitemap="pages",
    ),
    PageSpec(
        "/en/guide.html",
        "en",
        "Getting Started with Harbor",
        "Install Harbor, share a first folder and check that synchronization works.",
        GUIDE_BODY + PRINT_LINK,
        author="Maria Lindqvist",
        published="2026-01-10T09:00:00+00:00",
        sitemap="pages",
    ),
    PageSpec(
        "/en/guide-print.html",
        "en",
        "Getting Started with Harbor (Print Edition)",
        "Printable edition of the Harbor getting started guide.",
        PRINT_NOTE + GUIDE_BODY,
        author="Maria Lindqvist",
        published="2026-01-10T09:00:00+00:00",
        canonical=f"{BASE_TOKEN}/en/guide.html",
    ),
    PageSpec(
        "/en/faq.html",
        "en",
        "Frequently Asked Questions",
        "Answers to the questions our support team hears most often.",
        FAQ_BODY,
        sitemap="pages",
    ),
    PageSpec(
        "/en/faq-copy.html",
        "en",
        "Frequently Asked Questions",
        "Answers to the questions our support team hears most often.",
        FAQ_BODY,
    ),
    PageSpec(
        "/en/advanced.html",
        "en",
        "Advanced Conflict Resolution",
        "What sync conflicts are, why they happen and how to make them rare.",
        ADVANCED_BODY,
        author="Tomás Herrera",
        published="2026-01-12T11:00:00+00:00",
    ),
    PageSpec(
        "/es/rendimiento.html",
        "es",
        "Ajuste del rendimiento",
        "Cómo acelerar Harbor en carpetas con cientos de miles de archivos.",
        RENDIMIENTO_BODY,
        author="Tomás Herrera",
    ),
    PageSpec(
        "/en/release-notes.html",
        "en",
        "Release Notes for Harbor 3.2",
        "What changed in Harbor 3.2: block verification, faster relays and more.",
        RELEASE_NOTES_BODY,
        author="Maria Lindqvist",
        published="2026-02-03T10:00:00+00:00",
        sitemap="blog",
    ),
    PageSpec(
        "/it/novita.html",
        "it",
        "Novità della versione 3.2",
        "Le principali novità di Harbor 3.2 e come aggiornare.",
        NOVITA_BODY,
        sitemap="pages",
    ),
    PageSpec(
        "/blog/2026/01/scheduler-rewrite.html",
        "en",
        "Why We Rewrote the Scheduler",
        "How Harbor's new scheduler decides which folder to look at first.",
        SCHEDULER_BODY,
        author="Priya Raman",
        published="2026-01-20T08:30:00+00:00",
        sitemap="blog",
    ),
    PageSpec(
        "/en/mirror-article.html",
        "en",
        "Syncing Photos from Your Phone",
        "A robust way to get photos off a phone with Harbor.",
        MIRROR_BODY,
        author="Jonas Weber",
        published="2026-01-28T14:00:00+00:00",
        canonical="https://www.example.com/blog/mirror-article",
        sitemap="blog",
    ),
    PageSpec(
        "/en/only-via-noindex.html",
        "en",
        "Keyboard Shortcuts",
        "Keyboard shortcuts for the Harbor web interface.",
        SHORTCUTS_BODY,
    ),
    PageSpec(
        "/en/only-via-nofollow.html",
        "en",
        "Experimental Features",
        "Experimental Harbor features that are switched off by default.",
        EXPERIMENTAL_BODY,
        pool=False,
    ),
    PageSpec(
        "/en/noindex.html",
        "en",
        "Draft: Migration Checklist",
        "Draft checklist for moving Harbor to new hardware.",
        NOINDEX_BODY,
        robots="noindex",
        pool=False,
    ),
    PageSpec(
        "/en/nofollow.html",
        "en",
        "Staging Environment Notes",
        "Notes about the documentation staging environment.",
        NOFOLLOW_BODY,
        robots="noindex, nofollow",
        pool=False,
    ),
    PageSpec(
        "/private/internal-notes.html",
        "en",
        "Internal Notes",
        "Internal notes for Example Corp staff.",
        PRIVATE_BODY,
        robots="noindex",
        pool=False,
    ),
    PageSpec(
        "/en/thin.html",
        "en",
        "Roadmap",
        "What is coming next for Harbor.",
        THIN_BODY,
        sitemap="pages",
        pool=False,
    ),
    PageSpec(
        "/fr/guide.html",
        "fr",
        "Guide de démarrage",
        "Installer Harbor et synchroniser un premier dossier.",
        FR_GUIDE_BODY,
        author="Claire Dubois",
        published="2026-01-11T08:00:00+00:00",
        sitemap="pages",
    ),
    PageSpec(
        "/fr/encodage.html",
        "fr",
        "Les jeux de caractères expliqués",
        "Comprendre la norme ISO 8859-1 et les problèmes d'encodage.",
        FR_ENCODAGE_BODY,
        author="Claire Dubois",
        sitemap="pages",
        charset="iso-8859-1",
    ),
    PageSpec(
        "/de/anleitung.html",
        "de",
        "Sicherungen richtig planen",
        "Wie Sie Synchronisation und Datensicherung mit Harbor kombinieren.",
        DE_BODY,
        author="Jonas Weber",
        published="2026-01-14T07:45:00+00:00",
        sitemap="pages",
    ),
    PageSpec(
        "/es/guia.html",
        "es",
        "Primeros pasos con Harbor",
        "Conceptos básicos e instalación de Harbor.",
        ES_BODY,
        sitemap="pages",
    ),
    PageSpec(
        "/it/guida.html",
        "it",
        "Condividere cartelle con il team",
        "Come organizzare le cartelle condivise di un gruppo di lavoro.",
        IT_BODY,
        sitemap="pages",
    ),
    PageSpec(
        "/pt/guia.html",
        "pt",
        "Sincronização em redes lentas",
        "Como usar o Harbor em conexões móveis e de satélite.",
        PT_BODY,
        sitemap="pages",
    ),
    PageSpec(
        "/nl/handleiding.html",
        "nl",
        "Harbor installeren op een Raspberry Pi",
        "Een zuinige thuisserver voor Harbor bouwen.",
        NL_BODY,
        sitemap="pages",
    ),
    PageSpec(
        "/ja/guide.html",
        "ja",
        "Harbor の基本的な使い方",
        "Harbor のインストールから最初の同期までの手順。",
        JA_BODY,
        sitemap="pages",
    ),
    PageSpec(
        "/en/pricing.html",
        "en",
        "Pricing for European Customers",
        "Support subscription prices in euros.",
        PRICING_BODY,
        sitemap="pages",
        charset="windows-1252",
    ),
    PageSpec(
        "/en/unicode-filenames.html",
        "en",
        "Unicode File Names",
        "How Harbor handles accented and non-Latin file names.",
        UNICODE_BODY,
        sitemap="pages",
        charset="utf-8-bom",
    ),
)

PAGES_BY_PATH = {spec.path: spec for spec in PAGES}

# (Content-Type header, <meta charset>, byte prefix, codec) per PageSpec.charset.
CHARSETS: dict[str, tuple[str, str | None, bytes, str]] = {
    "utf-8": ("text/html; charset=utf-8", "utf-8", b"", "utf-8"),
    "iso-8859-1": ("text/html; charset=iso-8859-1", None, b"", "iso-8859-1"),
    "windows-1252": ("text/html", "windows-1252", b"", "cp1252"),
    "utf-8-bom": ("text/html", None, b"\xef\xbb\xbf", "utf-8"),
}

REDIRECTS: dict[str, tuple[int, str]] = {
    "/old-guide": (301, "/moved-guide"),
    "/moved-guide": (302, "/en/guide.html"),
}

# robots.txt as real servers send it (``--robots``): the same rules and Sitemap line in
# another encoding/layout, or everything disallowed.
#   default            UTF-8, LF, Sitemap: last
#   bom-sitemap-first  UTF-8 BOM, CRLF, "Sitemap:" on the first line (right after the BOM)
#   utf16-cr           UTF-16 with BOM, CR line endings, "  Sitemap :" with whitespace
#   disallow-all       "User-agent: *  Disallow: /"
#   missing            404 (no robots.txt: everything allowed, no sitemap)
ROBOTS_VARIANTS = ("default", "bom-sitemap-first", "utf16-cr", "disallow-all", "missing")


@dataclass(frozen=True)
class CaseRoute:
    """A fixed answer under /cases/ (real-web discovery traps); not linked from the site."""

    body: str
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()


_CASE_PROSE = (
    "<p>This page belongs to the discovery cases of the test website. Each case reproduces a "
    "situation that real sites produce and that once made a crawler lose a page in silence. "
    "{topic}</p><p>A second paragraph keeps the main text well above the thin-page threshold "
    "of two hundred characters, so the only reason not to deliver it is the one under test.</p>"
)


def _case_page(title: str, topic: str, *, head: str = "", links: tuple[str, ...] = ()) -> str:
    items = "".join(f'<li><a href="{href}">{href}</a></li>' for href in links)
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"{head}</head><body><main><article><h1>{title}</h1>"
        + _CASE_PROSE.format(topic=topic)
        + (f"<ul>{items}</ul>" if items else "")
        + "</article></main></body></html>"
    )


_XHTML_A = (
    '<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n'
    '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" '
    '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">'
    '<html xmlns="http://www.w3.org/1999/xhtml"><head><title>DocBook chapter one</title></head>'
    "<body><h1>DocBook chapter one</h1><p>This XHTML page starts with an XML declaration, as "
    "every page of DocBook output does; a crawler parsing decoded text with lxml finds no link "
    "in it.</p><p>It has enough prose to pass the thin-page threshold of two hundred characters "
    'comfortably, and one link to the next chapter.</p><p><a href="b.html">Chapter two</a></p>'
    "</body></html>"
)

# path -> answer. Discovery traps from the real web (tests/test_discovery_cases.py).
CASES: dict[str, CaseRoute] = {
    # XHTML with an XML declaration: its links must be found.
    "/cases/xhtml/a.html": CaseRoute(_XHTML_A),
    "/cases/xhtml/b.html": CaseRoute(
        _case_page("DocBook chapter two", "It is only linked from chapter one.")
    ),
    # Robots directives in headers and meta tags, read by the standard.
    "/cases/robots-tags/": CaseRoute(
        _case_page(
            "Robots directives",
            "The pages below send robots directives meant for other crawlers or for images.",
            links=("a.html", "b.html", "c.html", "d.html", "e.html", "f.html"),
        )
    ),
    "/cases/robots-tags/a.html": CaseRoute(
        _case_page("Photo policy", "Only image previews are limited, not indexing."),
        headers=(("X-Robots-Tag", "max-image-preview:none"),),
    ),
    "/cases/robots-tags/b.html": CaseRoute(
        _case_page("Press contacts", "Only one other crawler is asked to stay away."),
        headers=(("X-Robots-Tag", "otherbot: noindex, nofollow"),),
    ),
    "/cases/robots-tags/c.html": CaseRoute(
        _case_page("Embargoed release", "Nobody may index this page."),
        headers=(("X-Robots-Tag", "noindex"),),
    ),
    "/cases/robots-tags/d.html": CaseRoute(
        _case_page("Only for us", "Two headers: one for another bot, one for kbcrawler."),
        headers=(("X-Robots-Tag", "otherbot: none"), ("X-Robots-Tag", "kbcrawler: noindex")),
    ),
    "/cases/robots-tags/e.html": CaseRoute(
        _case_page(
            "Meta for our bot",
            "A meta tag named after our bot asks us not to index.",
            head='<meta name="kbcrawler" content="noindex">',
        )
    ),
    "/cases/robots-tags/f.html": CaseRoute(
        _case_page(
            "Meta for others",
            "Meta tags for another bot and for snippets only.",
            head='<meta name="otherbot" content="none">'
            '<meta name="robots" content="max-snippet:50, max-image-preview:none">',
        )
    ),
    # A canonical that redirects back to the page.
    "/cases/blog/": CaseRoute(
        _case_page("Example blog", "The post below names a canonical.", links=("post1/",))
    ),
    "/cases/blog/post1/": CaseRoute(
        _case_page(
            "Moving the blog to a static server",
            "Its canonical URL lacks the trailing slash and redirects back here.",
            head=f'<link rel="canonical" href="{BASE_TOKEN}/cases/blog/post1">',
        )
    ),
    "/cases/blog/post1": CaseRoute(
        "", status=308, headers=(("Location", f"{BASE_TOKEN}/cases/blog/post1/"),)
    ),
    # Canonicals that cannot give the document: a 404 and a robots-disallowed URL.
    "/cases/canon/": CaseRoute(
        _case_page(
            "Canonical traps",
            "The pages below name canonicals that give nothing.",
            links=("to-404.html", "to-private.html"),
        )
    ),
    "/cases/canon/to-404.html": CaseRoute(
        _case_page(
            "Canonical to a missing page",
            "Its canonical answers 404.",
            head='<link rel="canonical" href="/cases/canon/missing.html">',
        )
    ),
    "/cases/canon/to-private.html": CaseRoute(
        _case_page(
            "Canonical to a disallowed page",
            "Its canonical is disallowed by robots.txt.",
            head='<link rel="canonical" href="/cases/private/to-private.html">',
        )
    ),
    # A redirect stub: script plus a meta refresh inside <noscript>.
    "/cases/stub/link.html": CaseRoute(
        '<script>window.location.replace("/cases/stub/manual.html")</script>\n'
        '<noscript><META http-equiv="refresh" content="0;URL=\'/cases/stub/manual.html\'">'
        "</noscript>\n"
    ),
    "/cases/stub/manual.html": CaseRoute(
        _case_page("User manual", "It is reached through a redirect stub only.")
    ),
}

# -- issue 16: private sections, awkward themes, llms.txt --------------------------------
# The credentials the private sections want (tests pass them to the crawl through the
# environment; the request log shows what each request carried).
PRIVATE_COOKIE = ("kb_session", "c00kie-5ecret-7d41")
PRIVATE_HEADER = ("X-Docs-Token", "head3r-5ecret-19ab")
PRIVATE_BASIC = ("reader", "ba5ic-5ecret-88c2")


def _private_page(title: str, topic: str, links: tuple[str, ...] = ()) -> str:
    topic = f"It is only served to a reader who is logged in. {topic}"
    return _case_page(title, topic, links=links)


# path -> (credential it needs: "cookie" | "basic", page). Links stay inside /members/ except
# /members/away, which redirects to the "away" host (another test server, off the site).
PRIVATE_PAGES: dict[str, tuple[str, str]] = {
    "/members/cookie": (
        "cookie",
        _private_page(
            "Members area",
            "The articles below need the session cookie too.",
            links=("billing.html", "/members/basic/", "/members/away"),
        ),
    ),
    "/members/cookie/billing.html": (
        "cookie",
        _private_page("Billing for members", "Invoices are issued on the first of the month."),
    ),
    "/members/basic": (
        "basic",
        _private_page(
            "Staff handbook",
            "The whole handbook sits behind HTTP basic authentication.",
            links=("leave.html",),
        ),
    ),
    "/members/basic/leave.html": (
        "basic",
        _private_page("Leave policy for staff", "Ask for leave two weeks ahead."),
    ),
}
AWAY_LANDING = _case_page("Away landing", "A page on another host; credentials never come here.")

_THEME_PROSE = (
    "<p>Harbor keeps folders in sync between laptops and servers. This article explains the "
    "{topic} in detail, with the steps a new administrator follows on the first day.</p>"
    "<p>Each step is short, and every command can be undone, so nothing is lost while you "
    "learn. Read the whole article once before you start.</p>"
)
# Pages whose theme the generic extraction misreads (content_selector, exclude_selectors,
# title_suffix). This theme puts the article in an <aside>, which generic extraction drops
# as chrome; the other keeps an advert inside the article.
THEME_PAGES: dict[str, str] = {
    "/themes/hidden.html": (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        "<title>Replication ~~ Harbor Knowledge Hub (beta)</title></head><body>"
        '<div class="teaser"><p>Replication, explained for new administrators. '
        '<a href="/themes/promo.html">Quotas</a></p></div>'
        '<aside class="kb-answer"><h2>How replication works</h2>'
        + _THEME_PROSE.format(topic="replication protocol")
        + "</aside></body></html>"
    ),
    "/themes/promo.html": (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        "<title>Quotas ~~ Harbor Knowledge Hub</title></head><body>"
        '<div class="kb-answer"><article><h1>Storage quotas per folder</h1>'
        + _THEME_PROSE.format(topic="storage quota rules")
        + '<div class="upsell"><p>Upgrade to Harbor Pro today and get unlimited quotas, '
        "priority support and a free sticker pack for your whole team.</p></div>"
        + "<p>Quotas are checked every night and reported to the folder owner.</p>"
        "</article></div></body></html>"
    ),
}

LLMS_TXT = (
    "# Example Docs\n\n> Harbor's documentation, for language models.\n\n## Guides\n\n"
    "- [Overview](/llms-only/overview.html): what Harbor is\n"
    "- [Guide](/en/guide.html): outside the llms-only section\n"
    "- [Status](http://offsite.invalid/status): another host\n\n"
    "## Optional\n\n- [Everything](/llms-full.txt)\n"
)
LLMS_FULL_TXT = (
    "# Example Docs (full)\n\n## Overview\n\nHarbor syncs folders.\n\n"
    "See [the details page](/llms-only/details.html) for the rest.\n"
)
LLMS_PAGES: dict[str, str] = {
    "/llms-only/start.html": _case_page("Start of the llms section", "It links nowhere."),
    "/llms-only/overview.html": _case_page("Harbor overview", "Only llms.txt links here."),
    "/llms-only/details.html": _case_page("Harbor details", "Only llms-full.txt links here."),
}
# -- JavaScript pages (render_js; tests/test_render.py) ---------------------------------
# Text a browser writes into the page; a crawler without one sees none of it.
JS_TEXT = (
    "<p>This paragraph exists only once the page's script has run in a browser: the static "
    "HTML has an empty element where the text goes. {topic}</p><p>A second paragraph keeps the "
    "rendered text above the thin-page threshold of two hundred characters, so the page is "
    "delivered when, and only when, a browser rendered it.</p>"
)
JS_HANG_SECONDS = 4.0  # how long /cases/js/hang.json holds its answer (a slow API call)


def _js_page(title: str, body: str, script: str) -> str:
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"</head><body>{body}<script>{script}</script></body></html>"
    )


def _js_fill(selector: str, html_text: str, delay_ms: int = 50) -> str:
    """A script writing ``html_text`` into ``selector`` after ``delay_ms``."""
    return (
        f"setTimeout(function () {{ document.querySelector({json.dumps(selector)}).innerHTML"
        f" = {json.dumps(html_text)}; }}, {delay_ms});"
    )


JS_CASES: dict[str, CaseRoute] = {
    # Static, rich: auto must not render it (nor any other page with enough text).
    "/cases/js/": CaseRoute(
        _case_page(
            "JavaScript pages",
            "It links to pages that need a browser and to one that does not.",
            links=("/cases/js/app/", "/cases/js/inline.html", "/cases/js/contact.html"),
        )
    ),
    # An application shell (create-react-app's): empty #root, a <noscript> asking for
    # JavaScript; the text comes from an API call. Its image is never loaded by the browser.
    "/cases/js/app/": CaseRoute(
        _js_page(
            "Harbor web app",
            '<noscript>You need to enable JavaScript to run this app.</noscript><div id="root">'
            '</div><img src="/img/logo.png" alt="">',
            'fetch("/cases/js/app/content.html").then(function (r) { return r.text(); })'
            '.then(function (t) { document.getElementById("root").innerHTML = t; });',
        )
    ),
    "/cases/js/app/content.html": CaseRoute(
        "<main><h1>Harbor web app</h1>"
        + JS_TEXT.format(topic="The application fetched this text from its own server.")
        + '<p><a href="/cases/js/app/settings">Settings</a></p></main>'
    ),
    # Same path prefix as the shell above: auto renders it straight away (its link only
    # exists in the rendered page).
    "/cases/js/app/settings": CaseRoute(
        _js_page(
            "Harbor web app settings",
            '<div id="app"></div>',
            _js_fill(
                "#app",
                "<main><h1>Settings</h1>"
                + JS_TEXT.format(topic="The settings view of the application.")
                + "</main>",
            ),
        )
    ),
    # Empty without JavaScript, full with it; no mount point, no <noscript>: scripts only.
    "/cases/js/inline.html": CaseRoute(
        _js_page(
            "Rendered guide",
            '<div class="page"></div>',
            _js_fill(
                ".page",
                "<article><h1>Rendered guide</h1>"
                + JS_TEXT.format(topic="A script wrote this guide into the page.")
                + "</article>",
            ),
        )
    ),
    # Thin and static, with an analytics script and a tracking pixel in <noscript>: not an
    # application shell, so auto leaves it thin.
    "/cases/js/contact.html": CaseRoute(
        _js_page(
            "Contact",
            '<noscript><img src="/img/logo.png" alt=""></noscript><main><h1>Contact</h1>'
            "<p>Write to docs@example.com.</p></main>",
            "window.dataLayer = window.dataLayer || [];",
        )
    ),
    # Its script fails: no <article> ever appears (wait_for: article times out).
    "/cases/js/broken.html": CaseRoute(
        _js_page("Broken page", '<div id="root"></div>', "throw new Error('bundle missing');")
    ),
    # Waits on an API call the server holds for JS_HANG_SECONDS (a render in progress).
    "/cases/js/hang.html": CaseRoute(
        _js_page(
            "Slow application",
            '<div id="root"></div>',
            'fetch("/cases/js/hang.json").then(function (r) { return r.text(); })'
            '.then(function (t) { document.getElementById("root").textContent = t; });',
        )
    ),
}
CASES.update(JS_CASES)

MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip

GEN_LABELS = {
    "en": "Knowledge Base Article",
    "fr": "Article de la base de connaissances",
    "de": "Wissensdatenbank-Artikel",
    "es": "Artículo de la base de conocimiento",
    "it": "Articolo della base di conoscenza",
    "pt": "Artigo da base de conhecimento",
    "nl": "Kennisbankartikel",
    "ja": "ナレッジベース記事",
}
SECTION_LABELS = {
    "en": "Section",
    "fr": "Partie",
    "de": "Abschnitt",
    "es": "Sección",
    "it": "Sezione",
    "pt": "Seção",
    "nl": "Onderdeel",
    "ja": "セクション",
}
GEN_LANGS = tuple(GEN_LABELS)


# -- sentence pools for generated pages -----------------------------------------------


def _paragraph_sentences(body: str) -> list[str]:
    out: list[str] = []
    for raw in re.findall(r"<p[^>]*>(.*?)</p>", body, re.S):
        text = " ".join(html.unescape(re.sub(r"<[^>]+>", "", raw)).split())
        for sentence in re.split(r"(?<=[.!?])\s+(?=[A-ZÀ-ÖØ-Þ¿¡])|(?<=。)", text):
            if len(sentence.strip()) >= 20:
                out.append(sentence.strip())
    return out


def _build_pools() -> dict[str, list[str]]:
    """Sentences per language, minus every phrase the tests look for in a specific page,
    so generated pages never contain a "must appear exactly once" phrase."""
    keys = [p["must_contain"] for p in site_expectations.EXPECTED_PAGES]
    keys += list(site_expectations.NEVER_DELIVERED_PHRASES.values())
    pools: dict[str, list[str]] = {lang: [] for lang in GEN_LANGS}
    for spec in PAGES:
        if not spec.pool:
            continue
        for sentence in _paragraph_sentences(spec.body):
            if not any(k in sentence or sentence in k for k in keys):
                pools[spec.lang].append(sentence)
    return pools


POOLS = _build_pools()


def _paragraphs(rng: random.Random, pool: list[str], count: int, per: tuple[int, int]) -> list[str]:
    sep = "" if pool and pool[0].endswith("。") else " "
    return [sep.join(rng.sample(pool, min(len(pool), rng.randint(*per)))) for _ in range(count)]


# -- binary fixtures ------------------------------------------------------------------


def _png(width: int = 16, height: int = 16) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    rows = b"".join(b"\x00" + bytes((20, 90, 160)) * width for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def _pdf() -> bytes:
    stream = b"BT /F1 24 Tf 72 720 Td (Harbor Manual) Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, obj)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def _blob() -> bytes:
    data = bytearray(random.Random(1234).randbytes(8192))
    data[0:4] = b"\x00\x01\x02\x00"  # guaranteed NULs right at the start
    return bytes(data)


PNG_BYTES = _png()
PDF_BYTES = _pdf()
BLOB_BYTES = _blob()

# -- linked documents (/library/): PDFs and a DOCX, see tests/fixtures/documents ----------

DOCUMENT_FIXTURES = REPO_ROOT / "tests" / "fixtures" / "documents"
PDF_TYPE = "application/pdf"
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
LIBRARY_BIG_BYTES = 3 * 1024 * 1024


def _library() -> dict[str, tuple[bytes, str]]:
    """The /library/ files: path -> (body, content type). ``huge.pdf`` is the guide padded
    past 3 MiB with PDF comment lines (still a valid PDF); ``download?id=7`` is a PDF at a
    URL without extension (the German handbook); ``quay-rules.pdf`` is served as
    application/octet-stream."""
    guide = (DOCUMENT_FIXTURES / "harbor-guide.pdf").read_bytes()
    padding = b"%" + b"x" * 1022 + b"\n"
    return {
        "/library/harbor-guide.pdf": (guide, PDF_TYPE),
        "/library/download": ((DOCUMENT_FIXTURES / "handbuch.pdf").read_bytes(), PDF_TYPE),
        "/library/quay-rules.pdf": (
            (DOCUMENT_FIXTURES / "quay-rules.pdf").read_bytes(),
            "application/octet-stream",
        ),
        "/library/scan.pdf": ((DOCUMENT_FIXTURES / "scan.pdf").read_bytes(), PDF_TYPE),
        "/library/huge.pdf": (guide + padding * (LIBRARY_BIG_BYTES // 1024), PDF_TYPE),
        "/library/notes.docx": (
            (DOCUMENT_FIXTURES / "deployment-notes.docx").read_bytes(),
            DOCX_TYPE,
        ),
    }


LIBRARY_INDEX = """<!doctype html><html lang="en"><head><title>Library</title></head>
<body><main><h1>Library</h1>
<p>Manuals and notes of the harbor team, to download.</p>
<ul><li><a href="/library/harbor-guide.pdf">Harbor Operations Guide (PDF)</a></li>
<li><a href="/library/scan.pdf">Scanned berth plan (PDF)</a></li>
<li><a href="/library/huge.pdf">Complete archive (PDF, 3 MB)</a></li>
<li><a href="/library/download?id=7">Handbuch (PDF)</a></li>
<li><a href="/library/notes.docx">Deployment notes (DOCX)</a></li></ul>
</main></body></html>"""

# In the library sitemap only, never linked.
LIBRARY_SITEMAP_PATHS = ("/library/quay-rules.pdf",)


LIBRARY = _library()

# -- helpers --------------------------------------------------------------------------


_BOMBS: dict[int, bytes] = {}


def _kind_page(name: str) -> bytes | None:
    """The fixture page ``name`` of KINDS_DIRS, or None."""
    for folder in KINDS_DIRS:
        path = folder / f"{name}.html"
        if path.is_file():
            return path.read_bytes()
    return None


def gzip_bomb(mb: int) -> bytes:
    """A gzipped "sitemap" that inflates to ``mb`` MiB (a few hundred KiB on the wire).

    Built in chunks so the server never holds the inflated bytes.
    """
    if mb not in _BOMBS:
        packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: a gzip container
        head = b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        out = [packer.compress(head)]
        chunk = b" " * (1 << 20)
        out += [packer.compress(chunk) for _ in range(mb)]
        out.append(packer.compress(b"</urlset>") + packer.flush())
        _BOMBS[mb] = b"".join(out)
    return _BOMBS[mb]


def http_date(moment: datetime) -> str:
    return email.utils.format_datetime(moment.astimezone(UTC), usegmt=True)


def w3c_date(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def etag_for(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:24] + '"'


def normalize_path(path: str) -> str:
    """Resolve dot segments like a real web server would."""
    if path in ("", "/"):
        return "/"
    norm = posixpath.normpath(path)
    return "/" + norm.lstrip("/")


@dataclass
class PageVersion:
    """Mutable state of one hand-written page (edits bump the version)."""

    spec: PageSpec
    index: int
    last_modified: datetime
    extra: list[str] = field(default_factory=list)
    version: int = 1


class SiteState:
    """Everything the handlers share: page versions, removals, mode, request log."""

    def __init__(
        self,
        base: str,
        offsite: str,
        gen_pages: int = 0,
        state_dir: Path | None = None,
        robots: str = "default",
        away: str | None = None,
    ) -> None:
        self.lock = threading.RLock()
        self.away = away  # where /members/away redirects (another test server)
        self.robots = robots
        self.base = base
        self.offsite = offsite
        self.netloc = urlsplit(base).netloc
        self.gen_pages = gen_pages
        self.state_dir = state_dir
        self.log: list[dict[str, Any]] = []
        self.reset_state(persist=False)
        self._load()

    # -- state ---------------------------------------------------------------------

    def reset_state(self, persist: bool = True) -> None:
        with self.lock:
            self.pages = {
                spec.path: PageVersion(spec, i, INITIAL_DATE + timedelta(minutes=i))
                for i, spec in enumerate(PAGES)
            }
            self.removed: set[str] = set()
            self.mode: int | None = None
            if persist:
                self._save()

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "mode": self.mode,
                "removed": sorted(self.removed),
                "pages": {
                    p: {
                        "extra": v.extra,
                        "version": v.version,
                        "last_modified": w3c_date(v.last_modified),
                    }
                    for p, v in self.pages.items()
                    if v.version > 1
                },
            }

    def _save(self) -> None:
        if self.state_dir is None:
            return
        self.state_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.state_dir / "website-state.json.tmp"
        tmp.write_text(json.dumps(self.snapshot(), indent=1))
        tmp.replace(self.state_dir / "website-state.json")

    def _load(self) -> None:
        if self.state_dir is None or not (self.state_dir / "website-state.json").exists():
            return
        data = json.loads((self.state_dir / "website-state.json").read_text())
        self.mode = data.get("mode")
        self.removed = set(data.get("removed", []))
        for path, info in data.get("pages", {}).items():
            if path in self.pages:
                page = self.pages[path]
                page.extra = list(info["extra"])
                page.version = info["version"]
                page.last_modified = datetime.fromisoformat(info["last_modified"])

    def edit(self, path: str, text: str) -> PageVersion:
        with self.lock:
            page = self.pages[path]
            page.extra.append(text)
            page.version += 1
            now = datetime.now(UTC).replace(microsecond=0)
            page.last_modified = max(now, page.last_modified + timedelta(seconds=1))
            self._save()
            return page

    def remove(self, path: str) -> None:
        with self.lock:
            self.removed.add(path)
            self._save()

    def set_mode(self, status: int | None) -> None:
        with self.lock:
            self.mode = status
            self._save()

    def record(self, entry: dict[str, Any]) -> None:
        with self.lock:
            self.log.append(entry)

    # -- rendering -----------------------------------------------------------------

    def live(self, path: str) -> PageVersion | None:
        with self.lock:
            page = self.pages.get(path)
            return None if page is None or path in self.removed else page

    def _fill(self, text: str) -> str:
        return text.replace(BASE_TOKEN, self.base).replace(OFFSITE_TOKEN, self.offsite)

    def unlink_removed(self, page_html: str, page_path: str) -> str:
        """Turn links to removed pages into plain text (the page drops out of navigation)."""
        with self.lock:
            removed = set(self.removed)
        if not removed:
            return page_html
        page_url = self.base + page_path

        def replace(match: re.Match[str]) -> str:
            target = urlsplit(urljoin(page_url, html.unescape(match.group(1))))
            if target.netloc == self.netloc and normalize_path(target.path) in removed:
                return match.group(2)
            return match.group(0)

        return ANCHOR_RE.sub(replace, page_html)

    def render(self, page: PageVersion) -> tuple[bytes, str]:
        """Body bytes and Content-Type of a hand-written page."""
        spec = page.spec
        content_type, meta_charset, prefix, codec = CHARSETS[spec.charset]
        article = self._fill(spec.body)
        article += "".join(f"<p>{html.escape(text)}</p>\n" for text in page.extra)
        text = render_layout(
            lang=spec.lang,
            title=spec.title,
            description=spec.description,
            article=article,
            author=spec.author,
            published=spec.published,
            robots=spec.robots,
            canonical=self._fill(spec.canonical) if spec.canonical else None,
            meta_charset=meta_charset,
        )
        text = self.unlink_removed(text, spec.path)
        return prefix + text.encode(codec, errors="xmlcharrefreplace"), content_type

    def render_simple(
        self, path: str, *, lang: str, title: str, description: str, body: str
    ) -> str:
        text = render_layout(lang=lang, title=title, description=description, article=body)
        return self.unlink_removed(text, path)

    def robots_txt(self) -> str:
        return (
            "# Robots rules for Example Docs\n"
            "User-agent: slowbot\n"
            "Crawl-delay: 30\n"
            "Disallow: /\n"
            "\n"
            "User-agent: politebot\n"
            "Crawl-delay: 1\n"
            "Disallow: /private/\n"
            "\n"
            "User-agent: *\n"
            "Disallow: /private/\n"
            "Disallow: /cases/private/\n"
            "\n"
            f"Sitemap: {self.base}/sitemap_index.xml\n"
        )

    def robots_body(self) -> bytes:
        """robots.txt as sent, per ``--robots`` (see ROBOTS_VARIANTS)."""
        text = self.robots_txt()
        sitemap_line = f"Sitemap: {self.base}/sitemap_index.xml\n"
        if self.robots == "bom-sitemap-first":
            text = sitemap_line + text.replace(sitemap_line, "")
            return b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode()
        if self.robots == "utf16-cr":
            text = "  Sitemap :  " + sitemap_line[9:] + text.replace(sitemap_line, "")
            return text.replace("\n", "\r").encode("utf-16")
        if self.robots == "disallow-all":
            return b"User-agent: *\nDisallow: /\n"
        return text.encode()

    def _child_sitemaps(self) -> list[tuple[str, datetime]]:
        with self.lock:
            children = []
            for name, loc in (("pages", "/sitemap-pages.xml"), ("blog", "/sitemap-blog.xml.gz")):
                dates = [v.last_modified for v in self._sitemap_pages(name)]
                children.append((loc, max(dates, default=INITIAL_DATE)))
            if self.gen_pages > 0:
                children.append(("/sitemap-gen.xml", INITIAL_DATE))
            return children

    def _sitemap_pages(self, name: str) -> list[PageVersion]:
        with self.lock:
            return [
                v for p, v in self.pages.items() if v.spec.sitemap == name and p not in self.removed
            ]

    def sitemap_index(self) -> bytes:
        items = "".join(
            f"  <sitemap>\n    <loc>{self.base}{loc}</loc>\n"
            f"    <lastmod>{w3c_date(lastmod)}</lastmod>\n  </sitemap>\n"
            for loc, lastmod in self._child_sitemaps()
        )
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
            f"{items}</sitemapindex>\n"
        ).encode()

    def urlset(self, entries: list[tuple[str, datetime]]) -> bytes:
        items = "".join(
            f"  <url>\n    <loc>{self.base}{path}</loc>\n"
            f"    <lastmod>{w3c_date(lastmod)}</lastmod>\n  </url>\n"
            for path, lastmod in entries
        )
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
            f"{items}</urlset>\n"
        ).encode()

    def sitemap(self, name: str) -> bytes:
        return self.urlset([(v.spec.path, v.last_modified) for v in self._sitemap_pages(name)])

    def gen_sitemap(self) -> bytes:
        return self.urlset(
            [(f"/gen/{i}.html", INITIAL_DATE + timedelta(seconds=i)) for i in range(self.gen_pages)]
        )

    def calendar(self, year: int, month: int) -> str:
        prev_y, prev_m = (year, month - 1) if month > 1 else (year - 1, 12)
        next_y, next_m = (year, month + 1) if month < 12 else (year + 1, 1)
        links = []
        if prev_y >= 1:
            links.append(
                f'<a href="/calendar/{prev_y:04d}/{prev_m:02d}" rel="prev">Previous month</a>'
            )
        if next_y <= 9999:
            links.append(f'<a href="/calendar/{next_y:04d}/{next_m:02d}" rel="next">Next month</a>')
        name = f"{MONTHS[month - 1]} {year}"
        body = (
            f"<p>No public events are scheduled for {name} yet. Community meetups are announced "
            "here about six weeks in advance, and recordings of past talks stay available on the "
            "blog.</p>\n"
            f'<p class="pager">{" | ".join(links)}</p>\n'
        )
        return self.render_simple(
            f"/calendar/{year:04d}/{month:02d}",
            lang="en",
            title=f"Events in {name}",
            description=f"Community events in {name}.",
            body=body,
        )

    def link_target(self, n: int) -> str:
        rng = random.Random(f"target-{n}")
        text = _paragraphs(rng, POOLS["en"], 1, (3, 4))[0]
        body = f"<p>Link target number {n}.</p>\n<p>{html.escape(text)}</p>\n"
        return self.render_simple(
            f"/link-target/{n}.html",
            lang="en",
            title=f"Link Target {n}",
            description=f"Small page number {n} for link-following tests.",
            body=body,
        )

    def many_links(self, n: int) -> str:
        items = "\n".join(
            f'<li><a href="/link-target/{i}.html">Link target {i}</a></li>' for i in range(n)
        )
        body = (
            f"<p>This directory lists {n} small pages. It is not linked from the rest of the "
            "site and exists to measure how fast links are followed.</p>\n"
            f"<ul>\n{items}\n</ul>\n"
        )
        return self.render_simple(
            "/many-links.html",
            lang="en",
            title=f"Link Directory ({n} links)",
            description="A long list of links to small pages.",
            body=body,
        )

    def big_page(self, kb: int) -> bytes:
        """About ``kb`` KiB of valid HTML with sections of ordinary paragraphs."""
        target = kb * 1024
        title = f"Large Reference Page ({kb} KB)"
        rng = random.Random(f"big-{kb}")
        overhead = len(
            self.render_simple(
                "/big.html", lang="en", title=title, description="A very long page.", body=""
            ).encode()
        )
        parts: list[str] = []
        size = overhead
        section = 0
        while size < target:
            if len(parts) % 7 == 0:
                section += 1
                heading = f'<h2 id="part-{section}">Part {section}</h2>\n'
                parts.append(heading)
                size += len(heading)
            para = f"<p>{html.escape(_paragraphs(rng, POOLS['en'], 1, (4, 7))[0])}</p>\n"
            parts.append(para)
            size += len(para.encode())
        return self.render_simple(
            "/big.html",
            lang="en",
            title=title,
            description="A very long page.",
            body="".join(parts),
        ).encode()

    def gen_page(self, i: int) -> bytes:
        """A 30-60 KB page whose text is a deterministic mix of the language's sentences."""
        lang = GEN_LANGS[i % len(GEN_LANGS)]
        rng = random.Random(f"gen-{i}")
        pool = POOLS[lang]
        label = SECTION_LABELS[lang]
        paragraphs = _paragraphs(rng, pool, rng.randint(4, 7), (3, 5))
        parts = [f'<p class="ref">GEN-{i:05d}</p>\n']
        for n, para in enumerate(paragraphs, start=1):
            if n % 2 == 1:
                parts.append(f'<h2 id="s{n}">{label} {(n + 1) // 2}</h2>\n')
            parts.append(f"<p>{html.escape(para)}</p>\n")
        title = f"{GEN_LABELS[lang]} {i}"
        path = f"/gen/{i}.html"
        description = f"{GEN_LABELS[lang]} {i}"
        page = render_layout(
            lang=lang, title=title, description=description, article="".join(parts)
        )
        target = 30_000 + (i * 7919) % 28_000
        filler: list[str] = []
        size = len(page.encode()) + 80
        k = 0
        while size < target:
            item = f'{{"id":{k},"label":"item {k}","weight":{(k * 37) % 101}}}'
            filler.append(item)
            size += len(item) + 1
            k += 1
        script = f'<script type="application/json" id="app-state">[{",".join(filler)}]</script>'
        page = render_layout(
            lang=lang,
            title=title,
            description=description,
            article="".join(parts),
            head_extra=script,
        )
        return self.unlink_removed(page, path).encode()

    def not_found_page(self) -> bytes:
        return render_layout(
            lang="en",
            title="Page Not Found",
            description="The page you asked for does not exist.",
            article="<p>Sorry, we could not find that page. It may have moved, or the link "
            "may contain a typo.</p>\n",
            robots="noindex",
        ).encode()


# -- HTTP -----------------------------------------------------------------------------


class WebsiteServer(ThreadingHTTPServer):
    """One listener (main host or the 127.0.0.2 "other host"); all share one SiteState."""

    daemon_threads = True
    allow_reuse_address = True
    site: SiteState

    def __init__(self, address: tuple[str, int]) -> None:
        super().__init__(address, WebsiteHandler)
        host, port = self.server_address[:2]
        self.listener = f"{host}:{port}"

    def server_bind(self) -> None:
        # Skip HTTPServer's getfqdn(): reverse DNS can stall in a sandbox.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)


class WebsiteHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ExampleDocs/1.0"
    sys_version = ""
    timeout = 60
    server: WebsiteServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes: avoid Nagle/delayed-ACK stalls.
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the request log is available from /__admin/requests instead."""

    def send_response(self, code: int, message: str | None = None) -> None:
        self._status = code
        super().send_response(code, message)

    @property
    def site(self) -> SiteState:
        return self.server.site

    # -- verbs -----------------------------------------------------------------------

    def do_GET(self) -> None:
        self._dispatch(head=False)

    def do_HEAD(self) -> None:
        self._dispatch(head=True)

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        self._head = False
        if path.startswith("/__admin/"):
            try:
                payload = json.loads(raw or b"{}")
            except ValueError:
                self._json(400, {"error": "body is not JSON"})
                return
            self._admin_post(path, payload if isinstance(payload, dict) else {})
            return
        self._status = 0
        try:
            self._send(405, b"method not allowed\n", "text/plain", {"Allow": "GET, HEAD"})
        finally:
            self._record()

    def _dispatch(self, head: bool) -> None:
        self._head = head
        self._status = 0
        url = urlsplit(self.path)
        path = normalize_path(url.path)
        if path.startswith("/__admin/"):
            self._admin_get(path)
            return
        try:
            if url.path in CASES and self.site.mode is None:
                self._serve_case(CASES[url.path])
                return
            self._serve(path, parse_qs(url.query))
        except (ConnectionError, TimeoutError):
            self.close_connection = True
        except Exception:
            sys.stderr.write(traceback.format_exc())
            if not self._status:
                with contextlib.suppress(OSError):
                    self._send(500, b"internal error\n", "text/plain")
        finally:
            self._record()

    def _record(self) -> None:
        headers = self.headers
        self.site.record(
            {
                "time": time.time(),
                "method": self.command,
                "path": self.path,
                "host": self.server.listener,
                "status": self._status,
                "user_agent": headers.get("User-Agent"),
                "if_none_match": headers.get("If-None-Match"),
                "if_modified_since": headers.get("If-Modified-Since"),
                "headers": dict(headers.items()),
            }
        )

    # -- responses -------------------------------------------------------------------

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str | None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if not self._head and body:
            self.wfile.write(body)

    def _json(self, status: int, payload: Any) -> None:
        self._head = False
        self._send(status, json.dumps(payload).encode(), "application/json")

    def _not_modified(self, etag: str, last_modified: datetime) -> bool:
        """RFC 9110: If-None-Match wins; If-Modified-Since only counts without it."""
        inm = self.headers.get("If-None-Match")
        if inm is not None:
            tags = [t.strip() for t in inm.split(",")]
            return "*" in tags or any(t.removeprefix("W/") == etag for t in tags)
        ims = self.headers.get("If-Modified-Since")
        if not ims:
            return False
        try:
            since = email.utils.parsedate_to_datetime(ims)
        except (TypeError, ValueError, IndexError):
            return False
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        return since >= last_modified

    def _send_validated(self, body: bytes, content_type: str, last_modified: datetime) -> None:
        etag = etag_for(body)
        validators = {"ETag": etag, "Last-Modified": http_date(last_modified)}
        if self._not_modified(etag, last_modified):
            self.send_response(304)
            for key, value in validators.items():
                self.send_header(key, value)
            self.end_headers()
            return
        self._send(200, body, content_type, {**validators, "Cache-Control": "no-cache"})

    def _send_html(self, text: str | bytes, last_modified: datetime = INITIAL_DATE) -> None:
        body = text.encode() if isinstance(text, str) else text
        self._send_validated(body, "text/html; charset=utf-8", last_modified)

    def _redirect(self, status: int, location: str) -> None:
        body = f'<html><body><a href="{html.escape(location)}">Moved</a></body></html>'.encode()
        self._send(status, body, "text/html; charset=utf-8", {"Location": location})

    def _not_found(self) -> None:
        self._send(404, self.site.not_found_page(), "text/html; charset=utf-8")

    # -- routing ---------------------------------------------------------------------

    def _serve(self, path: str, query: dict[str, list[str]]) -> None:
        site = self.site
        mode = site.mode
        if mode is not None and path not in MODE_EXEMPT:
            body = f"<html><body><h1>Error {mode}</h1></body></html>\n".encode()
            self._send(mode, body, "text/html; charset=utf-8")
            return
        if path == "/robots.txt" and site.robots == "missing":
            self._send(404, b"not found\n", "text/plain; charset=utf-8")
        elif path == "/robots.txt":
            self._send(200, site.robots_body(), "text/plain; charset=utf-8")
        elif path == "/sitemap_index.xml":
            self._send(200, site.sitemap_index(), "application/xml")
        elif path == "/sitemap-pages.xml":
            self._send(200, site.sitemap("pages"), "application/xml")
        elif path == "/sitemap-blog.xml.gz":
            self._send(200, gzip.compress(site.sitemap("blog"), mtime=0), "application/x-gzip")
        elif path == "/sitemap-gen.xml" and site.gen_pages > 0:
            self._send(200, site.gen_sitemap(), "application/xml")
        elif path in REDIRECTS:
            status, target = REDIRECTS[path]
            self._redirect(status, site.base + target)
        elif path == "/cases/js/hang.json":
            time.sleep(JS_HANG_SECONDS)
            self._send(200, b'{"ready": true}', "application/json")
        elif path == "/go-offsite":
            self._redirect(302, f"{site.offsite}/en/guide.html")
        elif path in PRIVATE_PAGES:
            self._serve_private(*PRIVATE_PAGES[path])
        elif path == "/members/away":
            self._redirect(302, f"{site.away or site.offsite}/members/landing")
        elif path == "/members/landing":
            self._send_html(AWAY_LANDING)
        elif path in THEME_PAGES:
            self._send_html(THEME_PAGES[path])
        elif path in LLMS_PAGES:
            self._send_html(LLMS_PAGES[path])
        elif path == "/llms.txt":
            self._send(200, LLMS_TXT.encode(), "text/markdown; charset=utf-8")
        elif path == "/llms-full.txt":
            self._send(200, LLMS_FULL_TXT.encode(), "text/plain; charset=utf-8")
        elif path == "/library":
            self._send_html(LIBRARY_INDEX)
        elif path == "/library/sitemap.xml":
            entries = [(p, INITIAL_DATE) for p in LIBRARY_SITEMAP_PATHS]
            self._send(200, site.urlset(entries), "application/xml")
        elif path in LIBRARY and (path != "/library/download" or query.get("id") == ["7"]):
            self._send_validated(*LIBRARY[path], INITIAL_DATE)
        elif path == "/files/manual.pdf":
            self._send_validated(PDF_BYTES, "application/pdf", INITIAL_DATE)
        elif path == "/img/logo.png":
            self._send_validated(PNG_BYTES, "image/png", INITIAL_DATE)
        elif path == "/files/blob.html":
            self._send(200, BLOB_BYTES, "text/html")
        elif path == "/big.html":
            kb = self._int_arg(query, "kb", 200, 1, MAX_BIG_KB)
            if kb is not None:
                self._send_html(site.big_page(kb))
        elif path == "/bomb-sitemap.xml.gz":
            mb = self._int_arg(query, "mb", 300, 1, 2048)
            if mb is not None:
                self._send(200, gzip_bomb(mb), "application/x-gzip")
        elif path == "/many-links.html":
            n = self._int_arg(query, "n", 100, 0, MAX_MANY_LINKS)
            if n is not None:
                self._send_html(site.many_links(n))
        elif match := LINK_TARGET_RE.match(path):
            self._send_html(site.link_target(int(match.group(1))))
        elif (match := CALENDAR_RE.match(path)) and 1 <= int(match.group(2)) <= 12:
            year = int(match.group(1))
            if year >= 1:
                self._send_html(site.calendar(year, int(match.group(2))))
            else:
                self._not_found()
        elif (match := KINDS_RE.match(path)) and (kind := _kind_page(match.group(1))):
            self._send_html(kind)
        elif (match := GEN_RE.match(path)) and int(match.group(1)) < site.gen_pages:
            i = int(match.group(1))
            self._send_html(site.gen_page(i), INITIAL_DATE + timedelta(seconds=i))
        elif page := site.live(path):
            body, content_type = site.render(page)
            self._send_validated(body, content_type, page.last_modified)
        else:
            self._not_found()

    def _serve_private(self, needs: str, page: str) -> None:
        """403 without the session cookie, 401 (with a challenge) without basic auth."""
        if needs == "cookie":
            name, value = PRIVATE_COOKIE
            cookies = [c.strip() for c in (self.headers.get("Cookie") or "").split(";")]
            if f"{name}={value}" not in cookies:
                self._send(403, b"<html><body>Log in first</body></html>", "text/html")
                return
        else:
            token = base64.b64encode(":".join(PRIVATE_BASIC).encode()).decode()
            if self.headers.get("Authorization") != f"Basic {token}":
                challenge = {"WWW-Authenticate": 'Basic realm="staff"'}
                self._send(401, b"<html><body>Who are you?</body></html>", "text/html", challenge)
                return
        self._send_html(page)

    def _serve_case(self, case: CaseRoute) -> None:
        body = case.body.replace(BASE_TOKEN, self.site.base).encode("utf-8")
        self.send_response(case.status)
        if case.status < 300 or case.status >= 400:
            self.send_header("Content-Type", "text/html; charset=utf-8")
        for key, value in case.headers:
            self.send_header(key, value.replace(BASE_TOKEN, self.site.base))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not self._head and body:
            self.wfile.write(body)

    def _int_arg(
        self, query: dict[str, list[str]], name: str, default: int, low: int, high: int
    ) -> int | None:
        raw = query.get(name, [str(default)])[0]
        try:
            value = int(raw)
        except ValueError:
            value = -1
        if not low <= value <= high:
            self._send(400, f"{name} must be in {low}..{high}\n".encode(), "text/plain")
            return None
        return value

    # -- admin -----------------------------------------------------------------------

    def _admin_get(self, path: str) -> None:
        site = self.site
        if path == "/__admin/requests":
            with site.lock:
                entries = list(site.log)
            self._json(200, entries)
        elif path == "/__admin/state":
            self._json(200, site.snapshot())
        else:
            self._json(404, {"error": f"unknown admin endpoint {path}"})

    def _admin_post(self, path: str, payload: dict[str, Any]) -> None:
        site = self.site
        target = payload.get("path")
        if path == "/__admin/reset-log":
            with site.lock:
                site.log.clear()
            self._json(200, {"ok": True})
        elif path == "/__admin/reset-state":
            site.reset_state()
            self._json(200, {"ok": True})
        elif path == "/__admin/mode":
            status = payload.get("status")
            if status is not None and not (isinstance(status, int) and 100 <= status <= 599):
                self._json(400, {"error": "status must be an HTTP status code or null"})
                return
            site.set_mode(status)
            self._json(200, {"ok": True, "mode": status})
        elif path in ("/__admin/edit", "/__admin/remove"):
            if not isinstance(target, str) or target not in site.pages:
                self._json(404, {"error": f"no such page: {target!r}"})
                return
            if path == "/__admin/remove":
                site.remove(target)
                self._json(200, {"ok": True, "path": target})
                return
            text = payload.get("text")
            if not isinstance(text, str) or not text:
                self._json(400, {"error": "text must be a non-empty string"})
                return
            page = site.edit(target, text)
            body, _ = site.render(page)
            self._json(
                200,
                {
                    "ok": True,
                    "path": target,
                    "version": page.version,
                    "etag": etag_for(body),
                    "last_modified": http_date(page.last_modified),
                },
            )
        else:
            self._json(404, {"error": f"unknown admin endpoint {path}"})


# -- client side: start and drive the server from tests ------------------------------


class WebsiteError(RuntimeError):
    """An admin call was refused (unknown page, bad argument)."""


class WebsiteHandle(ServerProcess):
    """A running website subprocess and typed access to its admin endpoints."""

    admin_error = WebsiteError
    admin_name = "website"

    def __init__(self, process: subprocess.Popen[bytes], url: str, stderr_path: Path) -> None:
        super().__init__(process, url)
        self.url = url
        self.stderr_path = stderr_path
        parts = urlsplit(url)
        self.host = parts.hostname or ""
        self.port = parts.port or 80
        self.netloc = parts.netloc
        # Base URL of the "other host" (only listening when bound to 127.0.0.1).
        self.offsite_url = f"http://{OFFSITE_HOST}:{self.port}"

    def requests(self) -> list[dict[str, Any]]:
        """Every non-admin request in arrival order: time, method, path (with query), host
        (listener "ip:port"), status, user_agent, if_none_match, if_modified_since."""
        return self._admin("GET", "/__admin/requests")

    def requested_paths(self, *, include_offsite: bool = False) -> list[str]:
        """Paths (with query) requested from the main host, in order."""
        return [r["path"] for r in self.requests() if include_offsite or r["host"] == self.netloc]

    def reset_log(self) -> None:
        self._admin("POST", "/__admin/reset-log")

    def edit(self, path: str, text: str) -> dict[str, Any]:
        """Append a paragraph to a page: new ETag, Last-Modified and sitemap lastmod."""
        return self._admin("POST", "/__admin/edit", {"path": path, "text": text})

    def remove(self, path: str) -> None:
        """The page answers 404 and disappears from sitemaps and links."""
        self._admin("POST", "/__admin/remove", {"path": path})

    def set_mode(self, status: int | None) -> None:
        """Every path except /__admin/* and /robots.txt answers ``status``; None restores."""
        self._admin("POST", "/__admin/mode", {"status": status})

    def reset_state(self) -> None:
        """Undo edits, removals and the mode (the request log is kept)."""
        self._admin("POST", "/__admin/reset-state")

    def state(self) -> dict[str, Any]:
        return self._admin("GET", "/__admin/state")

    def __enter__(self) -> WebsiteHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_website(
    tmpdir: str | os.PathLike[str],
    *,
    gen_pages: int = 0,
    port: int = 0,
    state_dir: str | os.PathLike[str] | None = None,
    robots: str = "default",
    host: str = "127.0.0.1",
    away: str | None = None,
    startup_timeout: float = 20.0,
) -> tuple[str, WebsiteHandle]:
    """Start the site in a subprocess (stderr goes to ``tmpdir``); caller must ``stop()``."""
    tmp = Path(tmpdir)
    tmp.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "tests.servers.website", "--port", str(port)]
    cmd += ["--gen-pages", str(gen_pages), "--robots", robots, "--host", host]
    if away:
        cmd += ["--away", away]
    if state_dir is not None:
        cmd += ["--state-dir", str(state_dir)]
    stderr_path = tmp / ("website-stderr.log" if host == "127.0.0.1" else f"website-{host}.log")
    pythonpath = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": pythonpath}
    with open(stderr_path, "wb") as stderr:
        process = subprocess.Popen(
            cmd,
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=env,
        )
    assert process.stdout is not None
    lines: list[bytes] = []
    reader = threading.Thread(target=lambda: lines.append(process.stdout.readline()), daemon=True)
    reader.start()
    reader.join(startup_timeout)
    line = lines[0].decode().strip() if lines else ""
    if not line.startswith("http://"):
        process.kill()
        process.wait()
        raise RuntimeError(
            f"website did not start (got {line!r}): {stderr_path.read_text()[-2000:]}"
        )
    return line, WebsiteHandle(process, line, stderr_path)


@contextlib.contextmanager
def running_website(tmpdir: str | os.PathLike[str], **options: Any) -> Iterator[WebsiteHandle]:
    """``with running_website(tmp_path) as site: site.url, site.requests()``."""
    _, handle = start_website(tmpdir, **options)
    try:
        yield handle
    finally:
        handle.stop()


# -- command line ---------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local test website for crawl tests")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--state-dir", type=Path, default=None)
    parser.add_argument("--gen-pages", type=int, default=0, help="size of /gen/ (0 = off)")
    parser.add_argument("--robots", choices=ROBOTS_VARIANTS, default="default")
    parser.add_argument("--away", default=None, help="base URL /members/away redirects to")
    args = parser.parse_args(argv)
    server = WebsiteServer((args.host, args.port))
    port = server.server_address[1]
    base = f"http://{args.host}:{port}"
    site = SiteState(
        base, f"http://{OFFSITE_HOST}:{port}", args.gen_pages, args.state_dir, args.robots,
        args.away,
    )  # fmt: skip
    server.site = site
    if args.host == "127.0.0.1":
        # Best effort: some systems have no 127.0.0.2; the links then just fail to connect.
        try:
            other = WebsiteServer((OFFSITE_HOST, port))
        except OSError:
            pass
        else:
            other.site = site
            threading.Thread(target=other.serve_forever, args=(0.2,), daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(base, flush=True)
    try:
        server.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
