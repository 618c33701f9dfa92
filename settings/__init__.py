"""Scrapy settings for kbcrawler, and every ``KB_*`` default, in one place.

Environment variables named in CONTRACT.md (``KB_API_URL``, ``KB_CHAT_MODEL_ID``,
``KB_OUTBOX``, ``KB_STATE_DIR``) are read here so that ``-s NAME=VALUE`` still wins
over them. ``KB_API_TOKEN`` is deliberately *not* a setting: it is read from the
environment by the delivery pipeline only, so it can never be printed by
``scrapy settings`` or logged with the overridden settings.
"""

from __future__ import annotations

import os

from crawler.paths import project_root as _project_root
from crawler.paths import resolve_path as _resolve

BOT_NAME = "kbcrawler"

SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"
# One spider per site file in settings/sites/ (plus the generic ``site`` spider).
SPIDER_LOADER_CLASS = "crawler.spiderloader.SiteSpiderLoader"
# Our commands: ``crawl`` (exit status reflects the knowledge base's verdict),
# ``kb-flush`` (send the outbox without crawling), ``kb-schedule`` (scrapyd).
COMMANDS_MODULE = "crawler.commands"

# --- politeness -------------------------------------------------------------
USER_AGENT = "kbcrawler/0.1 (+https://github.com/kbcrawler/kbcrawler; knowledge-base sync bot)"
ROBOTSTXT_OBEY = True
# Protego, reading robots.txt bytes with their BOM/encoding (UTF-16 files included).
ROBOTSTXT_PARSER = "crawler.sitefiles.RobotsTxtParser"
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 0.5
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 4.0
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 8
# Outputs processed in parallel per response. Scrapy starts this many asyncio tasks for
# every response; a page yields one item, so the default 100 only burned reactor CPU
# (a large share of the reactor's time in tests/perf; docs/benchmarks.md).
CONCURRENT_ITEMS = 8
DOWNLOAD_DELAY = 0.0
DOWNLOAD_TIMEOUT = 30
RETRY_TIMES = 2
COOKIES_ENABLED = False
# A single response larger than this is dropped (memory stays bounded whatever a
# site serves); sitemaps are decompressed up to the same bound.
DOWNLOAD_MAXSIZE = 8 * 1024 * 1024
DOWNLOAD_WARNSIZE = 4 * 1024 * 1024
REDIRECT_MAX_TIMES = 5
# Depth is counted by our spider (links from pages only, not sitemap hops).
DEPTH_LIMIT = 0
DEPTH_STATS_VERBOSE = False
HTTPCACHE_ENABLED = False
# Follow <meta http-equiv="refresh"> inside <noscript> too (Scrapy ignores it by default):
# a "JavaScript redirect" page that only works without JavaScript through it leads nowhere.
METAREFRESH_IGNORE_TAGS: list[str] = []

# --- unattended defaults: no remote-control surfaces -------------------------
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False

# Pending requests wait on disk, not in memory (see crawler/scheduler.py).
SCHEDULER = "crawler.scheduler.DiskQueueScheduler"
SCHEDULER_DISK_QUEUE = "scrapy.squeues.PickleLifoDiskQueue"

TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
FEED_EXPORT_ENCODING = "utf-8"
LOG_LEVEL = "INFO"

DOWNLOADER_MIDDLEWARES = {
    # Scrapy's, with the requests it drops when scheduled recorded (same place, 50).
    "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware": None,
    "crawler.middlewares.OffsiteMiddleware": 49,
    # Before RedirectMiddleware (600) sees a response, and before the download.
    "crawler.middlewares.HostGuardMiddleware": 50,
    # After RobotsTxtMiddleware (100) has parsed the host's robots.txt.
    "crawler.middlewares.CrawlDelayMiddleware": 110,
    "crawler.middlewares.ConditionalGetMiddleware": 560,
    # The site file's headers, cookies and basic auth, to its own hosts only (after every
    # built-in that sets headers; Scrapy's HttpAuthMiddleware stays unused).
    "crawler.middlewares.SiteCredentialsMiddleware": 590,
}
EXTENSIONS = {
    # AutoThrottle that lets a 304 Not Modified lower the delay as a 200 does (incremental
    # runs answer mostly 304): crawler/scrapy_compat.py.
    "scrapy.extensions.throttle.AutoThrottle": None,
    "crawler.scrapy_compat.NotModifiedAutoThrottle": 0,
    # Live progress on a terminal, else a log line every KB_PROGRESS_SECONDS.
    "crawler.extensions.progress.Progress": 500,
    # The site lock, sync state, per-URL records and run report (last: its spider_closed
    # writes the report once every other component has closed).
    "crawler.extensions.sync.SyncRun": 900,
}
ITEM_PIPELINES = {
    "pipelines.sync.SyncPipeline": 200,
    "pipelines.kb.KnowledgeBasePipeline": 800,
}

# --- kbcrawler (KB_*) ----------------------------------------------------------
KB_API_URL = os.environ.get("KB_API_URL") or "https://api.aismarttalk.tech/v1"
KB_CHAT_MODEL_ID = os.environ.get("KB_CHAT_MODEL_ID") or ""
# Relative paths are under the project root (the folder of scrapy.cfg), wherever the
# command runs from; the crawl command also resolves -s values and logs the result.
KB_OUTBOX = os.environ.get("KB_OUTBOX") or "outbox"
KB_STATE_DIR = os.environ.get("KB_STATE_DIR") or ".kbstate"
if _project_root() is not None:  # no scrapy.cfg (scrapyd): crawl resolves them and warns
    KB_OUTBOX, KB_STATE_DIR = str(_resolve(KB_OUTBOX)), str(_resolve(KB_STATE_DIR))

# Defaults of the site-file keys max_document_chars, min_chars, max_pages and max_depth:
# a site file's own key wins over them (crawler.config.SiteConfig.with_settings decides).
KB_MAX_DOCUMENT_CHARS = 20_000  # a document's content never exceeds this; longer pages split
KB_MIN_DOCUMENT_CHARS = 1_000  # floor when the server says DOCUMENT_TOO_LARGE
KB_MIN_CHARS = 200  # thinner pages are skipped (skipped/thin)
KB_MAX_PAGES = 5_000  # pages sent to extraction, per run
KB_MAX_DEPTH = 5  # link depth from start_urls

# Extraction worker pool.
KB_EXTRACT_WORKERS = 0  # 0 = one per core
KB_EXTRACT_TIMEOUT = 60.0  # seconds for one page before the worker is recycled
KB_EXTRACT_MAX_PENDING = 0  # pages waiting for the pool; 0 = 4 x workers
KB_EXTRACT_INLINE = False  # benchmark baseline only: extract in the reactor thread
# spawn: lean workers holding only the extraction libraries; fork: copies of the crawler
KB_EXTRACT_START_METHOD = "spawn"
KB_LANG_SAMPLE_CHARS = 3_000

# JavaScript rendering (site key render_js: auto | always; crawler/render.py).
KB_BROWSER_PATH = "/usr/bin/chromium"  # the system's Chromium (Debian: apt-get install chromium)
KB_RENDER_TIMEOUT = 30.0  # seconds for a page to load and settle (network idle or wait_for)
KB_RENDER_PAGES = 4  # browser pages (tabs) at once, in one context: bounds the browser's memory

# Batching and delivery.
KB_MAX_BATCH_DOCS = 100  # the API's documented maximum
KB_MAX_BATCH_BYTES = 4 * 1024 * 1024
KB_FLUSH_SECONDS = 10.0
KB_IMPORT_RATE_PER_MIN = 100  # documented limit of the import endpoint
KB_MAX_IN_FLIGHT = 2
KB_CONNECT_TIMEOUT = 10.0
KB_REQUEST_TIMEOUT = 120.0  # a 100-document POST can take a while
KB_MAX_RETRIES = 6
KB_BACKOFF_BASE = 1.0
KB_BACKOFF_MAX = 60.0
KB_LOG_WAIT_SECONDS = 5.0  # a retry wait this long or longer is logged (host, reason, when)

# Per-URL records (KB_STATE_DIR/<site>/runs/<stamp>.urls.jsonl): lines per reason, per run;
# further URLs of that reason are only counted.
KB_URL_RECORDS_PER_REASON = 10_000

# Incremental sync.
KB_FULL_SYNC = False  # True (or ``-a full=1``) re-sends every page
KB_GONE_AFTER_RUNS = 2  # a page missed in this many complete runs is reported gone
KB_SHRINK_RATIO = 0.5  # a run reaching less than this share of the last good one fails
KB_MAX_ERROR_SHARE = 0.3  # share of 403/429/5xx answers that fails the run
KB_SYNC_ENABLED = True  # False: no lock, sync state, records or run report (scrapy parse)

# Operator commands and progress.
KB_CHECK_MAX_SITEMAPS = 100  # sitemap files `kb-check --live` reads at most per site
KB_QUERY_RATE_PER_MIN = 60  # kb-search / kb-query: the documented limit of search and query
KB_PROGRESS_SECONDS = 60.0  # without a terminal: one progress log line this often (0 = off)
KB_PROGRESS_BAR = True  # on a terminal: a live progress display instead of the log lines
