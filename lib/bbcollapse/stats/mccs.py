"""MCCS (paper 000, Eq. 7) and its population statistics (Eq. 8), section 3.1.

* ``mccs``: Eq. 7 of the paper gives ``1 / (1 - ln m)`` (``form="paper"``); the authors'
  published code computes ``1 / (-log10 m)`` (``form="code"``), where ``m`` is the mean
  similarity ``mean_C s(d(I', c))``.  The paper's reported values (random anchor ~0.34,
  worst case ~0.62) are only plausible under the code's form, which is the default.
  ``m = 0`` gives 0; ``m = 1`` (every sample identical to the anchor) gives 1 (paper)
  or ``inf`` (code), the limits of each formula.
* ``population``: (mu, sigma) of MCCS over the anchors (Eq. 8), sigma with ddof = 1.

Neighbour counts and dense modes (Eq. 9) live in :mod:`bbcollapse.stats.modes`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import check_option
from ..neighbors import NeighborStats

__all__ = ["mccs", "population", "Population", "MCCS_FORMS"]

MCCS_FORMS = ("code", "paper")


def mccs(mean_similarity, *, form: str = "code") -> float | np.ndarray:
    """Mode collapse/centrality score MCCS(I') from mean similarities (Eq. 7).

    Parameters
    ----------
    mean_similarity : float, array of floats in [0, 1], or NeighborStats
        ``mean_C s(d(I', c))`` per anchor; a NeighborStats computed with ``theta``
        is accepted and its ``mean_similarity`` used.
    form : "code" (``1/(-log10 m)``, the authors' code, default) or "paper" (``1/(1 - ln m)``, Eq. 7).

    Returns
    -------
    float or array of the same shape, float64.
    """
    if isinstance(mean_similarity, NeighborStats):
        mean_similarity = mean_similarity.mean_similarity
    check_option(form, MCCS_FORMS, "form")
    m = np.asarray(mean_similarity, dtype=np.float64)
    if np.isnan(m).any() or (m < 0).any() or (m > 1 + 1e-12).any():
        raise ValueError("mean_similarity must lie in [0, 1] (a mean of the similarity kernel)")
    m = np.clip(m, 0.0, 1.0)
    pos = m > 0
    safe = np.where(pos, m, 1.0)
    with np.errstate(divide="ignore"):
        if form == "paper":
            val = 1.0 / (1.0 - np.log(safe))
        else:
            val = 1.0 / (0.0 - np.log10(safe))  # m == 1 -> +inf (0.0 - 0.0 is +0.0), the limit
    out = np.where(pos, val, 0.0)
    return float(out) if out.ndim == 0 else out


@dataclass(frozen=True)
class Population:
    """(mu, sigma) of MCCS over m anchors; sigma uses ddof = 1."""

    mu: float
    sigma: float
    n: int

    def __iter__(self):
        return iter((self.mu, self.sigma))

    def __repr__(self):
        return f"Population(mu={self.mu:.4f}, sigma={self.sigma:.4f}, n={self.n})"


def population(values) -> Population:
    """Mean and sample standard deviation (ddof = 1) of per-anchor MCCS values (Eq. 8).

    Parameters
    ----------
    values : (m,) MCCS of the m anchors (m >= 2), finite

    Returns
    -------
    Population (unpacks as ``mu, sigma``)
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size < 2:
        raise ValueError(f"population needs at least 2 values for a sample standard deviation; got {v.size}")
    if not np.isfinite(v).all():
        raise ValueError("population values must be finite")
    return Population(mu=float(v.mean()), sigma=float(v.std(ddof=1)), n=int(v.size))
