"""Fidelity benchmark: real documentation sites crawled and scored page by page (issue 11).

Run ``python -m tests.fidelity --help``; not collected by pytest (no ``test_*`` modules).
"""
