"""Angular distance (paper 000, Eq. 4), cosine thresholds and the similarity kernel (Eq. 3).

Descriptors are unit vectors; the normalised angular distance is
``d(a, b) = arccos(<a, b>) / pi`` in [0, 1].  Because arccos is decreasing,
``d <= r`` if and only if ``<a, b> >= cos(pi * r)``.  Everything downstream
compares cosines against :func:`cos_threshold` and never takes arccos of every
pair; this module is the one place that says how.

The canonical (exact) definition used by the whole package is the float64 one:
``d(a, b) <= r``  iff  ``float64 dot(a, b) >= cos(pi * r)`` (a tie counts as a
neighbour; the paper's ``(1 + sgn)/2`` would count it as one half).
"""

from __future__ import annotations

import numpy as np

from ._validation import check_theta

__all__ = ["angular_distance", "cos_threshold", "distance_from_cos", "similarity", "validate_unit", "unit"]

UNIT_TOL = 1e-4


def cos_threshold(r):
    """Cosine threshold ``cos(pi * r)`` equivalent to ``d <= r`` (float64)."""
    return np.cos(np.pi * np.asarray(r, dtype=np.float64))


def angular_distance(a, b):
    """Normalised angular distance ``arccos(clip(<a, b>, -1, 1)) / pi`` (Eq. 4).

    Parameters
    ----------
    a : array (n, D) or (D,)
    b : array (m, D) or (D,)

    Returns
    -------
    array (n, m) (or scalar / 1-D when an input is 1-D), float64, in [0, 1].
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return distance_from_cos(a @ b.T)


def distance_from_cos(cosines):
    """Normalised angular distance ``arccos(clip(c, -1, 1)) / pi`` of cosines (float64, in [0, 1]).

    The one place the package turns cosines into distances; use it on the few cosines that
    need a distance (top-k, rechecks), never on a whole tile.
    """
    return np.arccos(np.clip(np.asarray(cosines, dtype=np.float64), -1.0, 1.0)) / np.pi


def similarity(d, theta):
    """Similarity kernel of the paper (Eq. 3).

    ``s(d) = (exp(max(0, theta - d)) - 1) / (exp(theta) - 1)``: 1 at d = 0,
    decreasing, 0 for d >= theta.

    Parameters
    ----------
    d : array-like of distances in [0, 1]
    theta : float in (0, 1]
    """
    theta = check_theta(theta)
    d = np.asarray(d, dtype=np.float64)
    return np.expm1(np.maximum(0.0, theta - d)) / np.expm1(theta)


def unit(x, eps=1e-12):
    """Return rows of ``x`` scaled to unit L2 norm (float32 in, float32 out).

    Rows with zero norm raise ``ValueError``; use it on descriptor outputs.
    """
    x = np.asarray(x)
    norms = np.linalg.norm(x.astype(np.float64), axis=-1, keepdims=True)
    if (norms <= eps).any():
        raise ValueError("cannot normalise zero vectors: some rows have zero norm")
    out = x / norms
    return out.astype(x.dtype if np.issubdtype(x.dtype, np.floating) else np.float32)


def validate_unit(x, name, dim=None):
    """Check an embedding array at the public boundary.

    Unit-norm vectors are required (we *reject* rather than silently
    normalise, so that a descriptor bug is never hidden; call
    :func:`bbcollapse.unit` to normalise on purpose).

    Returns the array as a C-contiguous float32 or float64 array of shape (n, D).
    """
    try:
        arr = np.asarray(x)
    except Exception as exc:  # pragma: no cover - exotic inputs
        raise TypeError(f"{name} must be an array of shape (n, D); got {type(x).__name__}") from exc
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array of shape (n, D); got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty: expected at least one vector, got shape {arr.shape}")
    if arr.shape[1] == 0:
        raise ValueError(f"{name} has zero dimensions: got shape {arr.shape}")
    if dim is not None and arr.shape[1] != dim:
        raise ValueError(f"{name} has dimension {arr.shape[1]} but the anchors have dimension {dim}")
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    if arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float32)
    if not np.isfinite(arr).all():
        rows = np.where(~np.isfinite(arr).all(axis=1))[0]
        raise ValueError(
            f"{name} contains NaN or inf values (rows {rows[:5].tolist()}...); expected finite unit vectors"
        )
    # float64 accumulation without a float64 copy of the array (5x faster than norm(astype(float64)))
    norms = np.sqrt(np.einsum("ij,ij->i", arr, arr, dtype=np.float64))
    if (norms == 0).any():
        rows = np.where(norms == 0)[0]
        raise ValueError(f"{name} contains zero vectors (rows {rows[:5].tolist()}); expected unit vectors")
    off = np.abs(norms - 1.0) > UNIT_TOL
    if off.any():
        rows = np.where(off)[0]
        raise ValueError(
            f"{name} must be unit vectors (|norm - 1| <= {UNIT_TOL}); rows {rows[:5].tolist()} have norms "
            f"{np.round(norms[rows[:5]], 6).tolist()}. Normalise with bbcollapse.unit(x) if that is intended."
        )
    return np.ascontiguousarray(arr)
