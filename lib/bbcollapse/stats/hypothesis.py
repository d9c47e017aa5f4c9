"""Transitional: the old home of the envelope, worst-case, bootstrap and planning functions.

``diagnosis/core.py`` still imports ``bootstrap_population`` from here; delete this module once
it imports from :mod:`bbcollapse.stats`.
"""

from .bootstrap import bootstrap_population

__all__ = ["bootstrap_population"]
