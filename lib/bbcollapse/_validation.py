"""Argument checks shared by the whole package: one function per kind of argument, one message each.

Every public function validates at its boundary with these, so that the same mistake gets the
same clear error everywhere (the value received, the range expected).
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable

import numpy as np

__all__ = [
    "check_alpha",
    "check_fraction",
    "check_int",
    "check_option",
    "check_positive",
    "check_theta",
    "check_unit_interval",
]


def check_theta(theta):
    if theta is None or not np.isfinite(theta) or not (0.0 < float(theta) <= 1.0):
        raise ValueError(f"theta must be a float in (0, 1] (a normalised angular distance); got {theta!r}")
    return float(theta)


def check_unit_interval(values, name):
    """Validate distances/radii: finite and inside [0, 1]. Returns a float64 1-D array."""
    arr = np.atleast_1d(np.asarray(values, dtype=np.float64))
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D sequence of distances in [0, 1]; got shape {arr.shape}")
    bad = ~np.isfinite(arr) | (arr < 0) | (arr > 1)
    if bad.any():
        raise ValueError(f"{name} must lie in [0, 1] (normalised angular distance); got {arr[bad][:5].tolist()}")
    return arr


def check_option(value, options: Iterable, name: str):
    """``value`` if it is one of ``options``, else a ``ValueError`` that lists them."""
    options = tuple(options)
    if value not in options:
        raise ValueError(f"{name} must be one of {', '.join(repr(o) for o in options)}; got {value!r}")
    return value


def check_int(value, name: str, *, minimum: int = 0) -> int:
    """``value`` as an int if it is an integer (not a bool) >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")
    return int(value)


def check_positive(value, name: str) -> float:
    """``value`` as a float if it is finite and > 0."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive number; got {value!r}") from None
    if not np.isfinite(x) or x <= 0:
        raise ValueError(f"{name} must be a positive number; got {value!r}")
    return x


def check_fraction(value, name: str, *, open_low: bool = True, open_high: bool = True) -> float:
    """``value`` as a float inside (0, 1); ``open_low``/``open_high`` say whether 0 / 1 are excluded."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number in the unit interval; got {value!r}") from None
    low_ok = x > 0 if open_low else x >= 0
    high_ok = x < 1 if open_high else x <= 1
    if not (np.isfinite(x) and low_ok and high_ok):
        interval = ("(" if open_low else "[") + "0, 1" + (")" if open_high else "]")
        raise ValueError(f"{name} must lie in {interval}; got {value!r}")
    return x


def check_alpha(alpha) -> float:
    """A significance level in (0, 1)."""
    return check_fraction(alpha, "alpha")
