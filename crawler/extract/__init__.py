"""Turn one HTML page into a knowledge-base document: main text as Markdown plus metadata.

One module per stage, in the order a page goes through them (trafilatura splits its own the
same way: ``core``, ``htmlprocessing``, ``metadata``, ...):

- :mod:`~crawler.extract.parse`: decode, refuse binary bodies, parse once with lxml.
- :mod:`~crawler.extract.metadata`: ``<head>`` metadata and robots directives.
- :mod:`~crawler.extract.links`: the page's ``<a href>`` links, for discovery.
- :mod:`~crawler.extract.headings`: heading anchors and the page's own ``<h1>``.
- :mod:`~crawler.extract.titles`: the title, cleaned of the site's name and qualified.
- :mod:`~crawler.extract.mainregion` and :mod:`~crawler.extract.pagekind`: the main region a
  page declares, and pages that are not knowledge (indexes, search pages, redirect stubs).
- :mod:`~crawler.extract.skip`: the one rule that decides why a page gives no document.
- :mod:`~crawler.extract.markdown`: a declared region converted by html-to-markdown.
- :mod:`~crawler.extract.preclean`, :mod:`~crawler.extract.trafilatura_text`,
  :mod:`~crawler.extract.markdown_repair`: elsewhere, trafilatura's judgement of the page,
  prepared before and repaired after.
- :mod:`~crawler.extract.core`: the stages put together
  (:func:`~crawler.extract.core.extract_page`).
- :mod:`~crawler.extract.worker`: what an extraction worker process runs for a page or a
  linked document (:func:`~crawler.extract.worker.process_page`), and
  :mod:`~crawler.extract.result` the typed results it returns.

This package's ``__init__`` imports nothing: the crawler process unpickles the workers'
results (:mod:`crawler.extract.result`) without loading trafilatura or langdetect.
"""
