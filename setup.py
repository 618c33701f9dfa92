"""Shim for tools that still build through ``setup.py`` (scrapyd-deploy builds eggs with it).

Everything (metadata, dependencies, package data, the ``scrapy`` entry point scrapyd
needs to find the settings module) lives in pyproject.toml; keep it there.
"""

from setuptools import setup

setup()
