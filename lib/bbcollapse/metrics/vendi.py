"""The Vendi score (Friedman and Dieng 2023) of a sample set on named features, through ``vendi-score``.

Not an equation of paper 000: a peer of MCCS the book compares with (issue 17).  With the cosine
kernel on the features (rows scaled to unit length), the Vendi score of order q is
``exp(H_q(lambda))``, the exponential of the Renyi entropy of the eigenvalues ``lambda`` of
``K / n``: 1 when every sample is the same, n when all are orthogonal, the "effective number
of distinct samples".  The package's primal form (:func:`vendi_score.vendi.score_K`) decomposes
the n x n kernel; its dual form (:func:`vendi_score.vendi.score_dual`) decomposes the d x d
matrix ``X^T X / n``, which has the same nonzero eigenvalues and costs O(n d^2) instead of O(n^3):
``method="auto"`` takes the dual form when n > d.  (The package's ``score_X`` ignores its ``q``
argument, so it is not used.)
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from .._validation import check_option
from .features import check_features
from .result import MetricResult

__all__ = ["VendiScore", "vendi_score"]


@dataclass(frozen=True, repr=False)
class VendiScore(MetricResult):
    """The Vendi score of order q with the cosine kernel, and how it was computed."""

    value: float
    q: float
    n: int
    method: str
    features: str

    @property
    def name(self) -> str:
        return f"Vendi score (q={self.q:g}, cosine kernel) on {self.features}"


def vendi_score(samples, *, q: float = 1.0, method: str = "auto", features: str = "unnamed features") -> VendiScore:
    """Vendi score of ``samples`` (cosine kernel on the features), via the ``vendi-score`` package.

    Parameters
    ----------
    samples : (n, d) features; rows are scaled to unit length (a zero row is an error)
    q : order of the Renyi entropy (1: Shannon; any q > 0, or ``float("inf")``)
    method : "primal" (n x n kernel), "dual" (d x d covariance) or "auto" (dual when n > d)
    features : what the features are, for the result's name

    Returns
    -------
    VendiScore
    """
    from vendi_score import vendi

    x = check_features(samples, "samples")
    check_option(method, ("auto", "primal", "dual"), "method")
    q = float(q)
    if not q > 0:
        raise ValueError(f"q must be > 0 (or inf); got {q!r}")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    if (norms == 0).any():
        raise ValueError("samples contains a zero row; the cosine kernel needs nonzero features")
    x = x / norms
    if method == "auto":
        method = "dual" if len(x) > x.shape[1] else "primal"
    q_arg = "inf" if np.isinf(q) else q
    with warnings.catch_warnings():  # the package names scipy.sparse.csr, deprecated in SciPy 1.14
        warnings.simplefilter("ignore", DeprecationWarning)
        if method == "dual":
            value = vendi.score_dual(x, q=q_arg, normalize=False)
        else:
            value = vendi.score_K(x @ x.T, q=q_arg)
    return VendiScore(value=float(value), q=q, n=len(x), method=method, features=str(features))
