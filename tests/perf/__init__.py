"""Throughput and memory benchmark (issue 6): ``python -m tests.perf --help``.

Not part of the pytest suite: no module here is named ``test_*``.
"""
