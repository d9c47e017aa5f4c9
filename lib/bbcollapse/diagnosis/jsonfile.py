"""Strict JSON files written atomically: ``report.json`` and the book's ``data/results/*.json``.

Strict JSON has no NaN and no Infinity (Python's ``json`` writes both as bare words that other
parsers reject).  :func:`strict` turns every non-finite float into ``null`` and records *why* in
a ``{path: reason}`` map that the file carries under ``"null_reasons"``; :func:`write_json`
writes the text through the package's atomic writer (:mod:`bbcollapse._atomic`: a fresh temporary
file in the target's directory, never a planted link, flushed and renamed over the target), so a
crash or a full disk leaves either the old file or the new one, never a truncated one.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, is_dataclass
from pathlib import Path

import numpy as np

from .._atomic import FILE_MODE, atomic_write_bytes

__all__ = ["strict", "dumps", "write_json", "write_text_atomic", "NULL_REASONS", "FILE_MODE"]

#: Key under which a file lists the values written as null and why.
NULL_REASONS = "null_reasons"


def _reason(x: float) -> str:
    if math.isnan(x):
        return "not a number (NaN): the quantity is undefined here"
    return f"{'+' if x > 0 else '-'}infinite: no finite value exists"


def strict(value, reasons: dict | None = None, _path: str = ""):
    """``value`` as plain JSON types with every non-finite float replaced by None.

    Parameters
    ----------
    value : dicts, lists, tuples, numpy arrays and scalars, dataclasses, numbers, strings, None
        (anything else is written as its ``str``)
    reasons : optional ``{path: reason}`` for values the caller knows to be undefined; paths are
        JSON-pointer-like (``/faces/variants/3/region_fraction``)

    Returns
    -------
    (clean, nulls) : the JSON-able value and ``{path: reason}`` for each null written in place
        of a non-finite number (the caller's reason where given, else a generic one) and for each
        None the caller gave a reason for
    """
    nulls: dict[str, str] = {}
    reasons = reasons or {}

    def walk(v, path):
        if isinstance(v, np.ndarray):
            v = v.tolist()
        elif isinstance(v, np.generic):
            v = v.item()
        elif is_dataclass(v) and not isinstance(v, type):
            v = asdict(v)
        if isinstance(v, dict):
            return {str(k): walk(x, f"{path}/{k}") for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [walk(x, f"{path}/{i}") for i, x in enumerate(v)]
        if isinstance(v, float) and not math.isfinite(v):
            nulls[path] = reasons.get(path, _reason(v))
            return None
        if v is None and path in reasons:  # a value the caller knows is undefined, already None
            nulls[path] = reasons[path]
        if v is None or isinstance(v, (bool, int, float, str)):
            return v
        return str(v)

    return walk(value, _path), nulls


def dumps(value, *, reasons: dict | None = None, indent: int | None = 1) -> str:
    """Strict JSON text of a dict ``value``; a ``"null_reasons"`` entry lists the nulls that replaced NaN/inf."""
    clean, nulls = strict(value, reasons)
    if nulls:
        if not isinstance(clean, dict):
            raise TypeError("only a dict can carry its null_reasons")
        clean[NULL_REASONS] = {**clean.get(NULL_REASONS, {}), **nulls}
    return json.dumps(clean, indent=indent, allow_nan=False)


def write_text_atomic(path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically, creating its directory (see :mod:`bbcollapse._atomic`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write_bytes(path, text.encode("utf-8"))


def write_json(path, value, *, reasons: dict | None = None, indent: int | None = 1) -> Path:
    """:func:`dumps` ``value`` and write it atomically to ``path``; returns the path."""
    return write_text_atomic(path, dumps(value, reasons=reasons, indent=indent) + "\n")
