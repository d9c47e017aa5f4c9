"""Strict JSON files written atomically: ``report.json`` and the book's ``data/results/*.json``.

Strict JSON has no NaN and no Infinity (Python's ``json`` writes both as bare words that other
parsers reject).  :func:`strict` turns every non-finite float into ``null`` and records *why* in
a ``{path: reason}`` map that the file carries under ``"null_reasons"``; :func:`write_json`
writes the text to a fresh temporary file in the target's directory (``mkstemp``: a new name,
never a planted link), flushes it to disk and renames it over the target, so a crash or a full
disk leaves either the old file or the new one, never a truncated one.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import asdict, is_dataclass
from pathlib import Path

import numpy as np

__all__ = ["strict", "dumps", "write_json", "write_text_atomic", "NULL_REASONS", "FILE_MODE"]

#: Key under which a file lists the values written as null and why.
NULL_REASONS = "null_reasons"


def _file_mode() -> int:
    """0o666 less the process umask: what ``open(path, "w")`` would have given the file."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


FILE_MODE = _file_mode()


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
    """Write ``text`` to ``path`` atomically (temporary file in the same directory, fsync, rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, FILE_MODE)  # mkstemp makes 0600; give the file the mode a plain write would
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    try:  # make the rename itself durable
        dfd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return path
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)
    return path


def write_json(path, value, *, reasons: dict | None = None, indent: int | None = 1) -> Path:
    """:func:`dumps` ``value`` and write it atomically to ``path``; returns the path."""
    return write_text_atomic(path, dumps(value, reasons=reasons, indent=indent) + "\n")
