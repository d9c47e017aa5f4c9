"""Arrays on the wire between bbcollapse and an external black box (a command's pipes, an HTTP body).

A batch travels as ``.npy`` bytes, never as a pickle, so that a black box can answer with
numbers only and never with code.  Implements no equation of paper 000; it is plumbing
shared by :mod:`.command` and :mod:`.http`.
"""

from __future__ import annotations

import io

import numpy as np

from ..protocols import BlackBoxError

__all__ = ["STDERR_TAIL", "load_npy", "npy_bytes", "stderr_tail"]

STDERR_TAIL = 2000  # characters of a failing command's stderr quoted in errors


def npy_bytes(array: np.ndarray) -> bytes:
    """The ``.npy`` bytes of ``array`` (any shape; C order; object arrays are refused by numpy)."""
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array), allow_pickle=False)
    return buf.getvalue()


def stderr_tail(text: str) -> str:
    """The last :data:`STDERR_TAIL` characters of ``text`` as a block to append to an error ("" if empty)."""
    text = (text or "").strip()
    if not text:
        return ""
    if len(text) > STDERR_TAIL:
        text = "..." + text[-STDERR_TAIL:]
    return f"\n--- stderr tail ---\n{text}"


def load_npy(data: bytes, who: str, tail: str = "") -> np.ndarray:
    """Parse ``.npy`` bytes (no pickles) into a numeric array of any shape.

    Parameters
    ----------
    data : the bytes a black box returned
    who : how the black box is named in errors (a command line, ``POST <url>``)
    tail : its stderr, quoted (the end of it) in errors

    Raises
    ------
    BlackBoxError
        when ``data`` is not a ``.npy`` file or holds Python objects.
    """
    try:
        arr = np.load(io.BytesIO(data), allow_pickle=False)
    except Exception as exc:  # ValueError, EOFError, OSError, UnpicklingError ...
        hint = f"{len(data)} bytes starting {data[:60]!r}"
        raise BlackBoxError(
            f"{who} returned malformed output: expected a .npy array ({exc}); got {hint}{stderr_tail(tail)}"
        ) from None
    if not isinstance(arr, np.ndarray) or arr.dtype.hasobject:
        raise BlackBoxError(f"{who} returned a .npy file that is not a numeric array{stderr_tail(tail)}")
    return arr
