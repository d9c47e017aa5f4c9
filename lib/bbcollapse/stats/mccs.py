"""MCCS (paper 000, Eq. 7) and its population statistics (Eq. 8), section 3.1.

* ``mccs``: Eq. 7 of the paper gives ``1 / (1 - ln m)`` (``form="paper"``); the authors'
  published code computes ``1 / (-log10 m)`` (``form="code"``), where ``m`` is the mean
  similarity ``mean_C s(d(I', c))`` (Eq. 6, the estimate of Eq. 5).  The code form is the
  default; chapter 1 of the book measures which form the paper's reported values fit.
* ``population``: (mu, sigma) of MCCS over the anchors (Eq. 8), sigma with ddof = 1.

**MCCS is always a finite number.**  ``m = 0`` (no sample within theta) gives 0 in both
forms.  At the other end the code form grows without bound (it exceeds 1 for ``m > 0.1``)
and is infinite at ``m = 1``, while float rounding decides whether an exactly collapsed
anchor (every sample identical to it) lands on ``m = 1`` or just below.  The one rule:

* an anchor is **degenerate** when ``m >= 1 - DEGENERATE_TOL`` (``2**-8``): every sample
  coincides with it up to float32 rounding.  Float32 unit vectors made by
  :func:`bbcollapse.unit` put an identical pair at most ``2u`` = 1.2e-7 below cosine 1,
  i.e. ``d <= 1.6e-4``, so ``1 - m <= 1.6e-4 * e^theta / (e^theta - 1) <= 3.2e-3`` for every
  ``theta >= 0.05`` (tests/test_mccs.py measures it);
* a degenerate anchor scores ``m = 1`` exactly: MCCS 1 in the paper form (Eq. 7's upper
  extreme) and :data:`MCCS_CODE_CAP` = ``1 / -log10(1 - 2**-8)`` (588.3) in the code form,
  the largest value the code form can resolve, so it is continuous and non-decreasing in m;
* degenerate anchors are kept in (mu, sigma) and counted (:func:`degenerate`,
  ``Report.n_degenerate``), never dropped.

Neighbour counts and dense modes (Eq. 9) live in :mod:`bbcollapse.stats.modes`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import check_option
from ..neighbors import NeighborStats

__all__ = ["mccs", "degenerate", "population", "Population", "MCCS_FORMS", "DEGENERATE_TOL", "MCCS_CODE_CAP"]

MCCS_FORMS = ("code", "paper")

#: Mean similarities within this distance of 1 are total collapse up to float32 rounding.
DEGENERATE_TOL = 2.0**-8
#: The code form's value at ``m = 1 - DEGENERATE_TOL``: its value for every degenerate anchor.
MCCS_CODE_CAP = float(1.0 / -np.log10(1.0 - DEGENERATE_TOL))


def _mean_similarity(mean_similarity) -> np.ndarray:
    """The checked float64 array of mean similarities (a NeighborStats gives its own)."""
    if isinstance(mean_similarity, NeighborStats):
        mean_similarity = mean_similarity.mean_similarity
    m = np.asarray(mean_similarity, dtype=np.float64)
    if np.isnan(m).any() or (m < 0).any() or (m > 1 + 1e-12).any():
        raise ValueError("mean_similarity must lie in [0, 1] (a mean of the similarity kernel)")
    return np.clip(m, 0.0, 1.0)


def degenerate(mean_similarity) -> bool | np.ndarray:
    """Whether each anchor is totally collapsed up to float rounding: ``m >= 1 - DEGENERATE_TOL``.

    Parameters
    ----------
    mean_similarity : float, array of floats in [0, 1], or NeighborStats (computed with theta)

    Returns
    -------
    bool or bool array of the same shape
    """
    out = _mean_similarity(mean_similarity) >= 1.0 - DEGENERATE_TOL
    return bool(out) if out.ndim == 0 else out


def mccs(mean_similarity, *, form: str = "code") -> float | np.ndarray:
    """Mode collapse/centrality score MCCS(I') from mean similarities (Eq. 7); always finite.

    Parameters
    ----------
    mean_similarity : float, array of floats in [0, 1], or NeighborStats
        ``mean_C s(d(I', c))`` per anchor; a NeighborStats computed with ``theta``
        is accepted and its ``mean_similarity`` used.
    form : "code" (``1/(-log10 m)``, the authors' code, default) or "paper" (``1/(1 - ln m)``, Eq. 7).

    Returns
    -------
    float or array of the same shape, float64: in [0, 1] for the paper form, in
    [0, MCCS_CODE_CAP] for the code form (degenerate anchors, see the module docstring).
    """
    check_option(form, MCCS_FORMS, "form")
    m = _mean_similarity(mean_similarity)
    flat = m >= 1.0 - DEGENERATE_TOL
    pos = (m > 0) & ~flat
    safe = np.where(pos, m, 0.5)  # any value in (0, 1): masked out below
    val = 1.0 / (1.0 - np.log(safe)) if form == "paper" else 1.0 / -np.log10(safe)
    top = 1.0 if form == "paper" else MCCS_CODE_CAP
    out = np.where(pos, val, np.where(flat, top, 0.0))
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
    values : (m,) MCCS of the m anchors (m >= 2), finite (as :func:`mccs` returns them)

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
