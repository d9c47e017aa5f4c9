"""MCCS, population statistics and dense modes (paper 000, section 3.1).

* ``mccs``: Eq. 7 of the paper gives ``1 / (1 - ln m)`` (``form="paper"``); the authors'
  published code computes ``1 / (-log10 m)`` (``form="code"``), where ``m`` is the mean
  similarity ``mean_C s(d(I', c))``.  The paper's reported values (random anchor ~0.34,
  worst case ~0.62) are only plausible under the code's form, which is the default.
  ``m = 0`` gives 0; ``m = 1`` (every sample identical to the anchor) gives 1 (paper)
  or ``inf`` (code), the limits of each formula.
* ``population``: (mu, sigma) over anchors, sigma with ddof = 1.
* ``dense_modes`` / ``distinct_modes``: the worst-case anchor
  ``I_w = argmax N(I', C, r)`` and the top-p *distinct* modes: peaks of the count
  (no denser anchor within r), so no two returned modes lie within r of each other
  (the authors' code returns the raw top-100, which mostly sit in one cluster).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import check_unit_interval
from ..distance import cos_threshold, validate_unit
from ..neighbors import NeighborStats, neighbor_stats

__all__ = ["mccs", "population", "Population", "DenseModes", "distinct_modes", "dense_modes", "MCCS_FORMS"]

MCCS_FORMS = ("code", "paper")


def mccs(mean_similarity, *, form: str = "code"):
    """Mode collapse/centrality score from mean similarities.

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
    if form not in MCCS_FORMS:
        raise ValueError(f"form must be one of {MCCS_FORMS}; got {form!r}")
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
    """Mean and sample standard deviation (ddof = 1) of per-anchor MCCS values."""
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size < 2:
        raise ValueError(f"population needs at least 2 values for a sample standard deviation; got {v.size}")
    if not np.isfinite(v).all():
        raise ValueError("population values must be finite")
    return Population(mu=float(v.mean()), sigma=float(v.std(ddof=1)), n=int(v.size))


@dataclass(frozen=True)
class DenseModes:
    """Worst-case and distinct dense modes among the anchors.

    Attributes
    ----------
    worst : int             index of I_w in the anchors (argmax of counts, lowest index on ties)
    indices : (p',) int     distinct modes by decreasing count, p' <= top
    counts : (p',) int      their neighbour counts N(I', C, r)
    r : float               radius used for counts and for distinctness
    """

    worst: int
    indices: np.ndarray
    counts: np.ndarray
    r: float

    def __repr__(self):
        return f"DenseModes(worst={self.worst}, indices={self.indices.tolist()}, counts={self.counts.tolist()}, r={self.r})"


def distinct_modes(anchors, counts, *, r: float, top: int = 1, block: int = 512) -> DenseModes:
    """Worst-case anchor and the top-p distinct dense modes, from precomputed counts.

    A *mode* is a peak of the neighbour count among the anchors: an anchor is kept
    when no denser anchor (higher count; on ties, lower index) lies within ``r`` of
    it.  Peaks are returned by decreasing count, so no two returned modes lie within
    ``r`` of each other.  Requiring a peak, rather than only distance from the modes
    kept so far, stops the rim of one heavy identity (anchors just beyond ``r`` of its
    centre, still counting many of its samples) from outranking a lighter identity.

    Parameters
    ----------
    anchors : (m, D) unit vectors
    counts : (m,) neighbour counts N(I', C, r) at radius ``r``
    r : neighbourhood radius, in [0, 1]
    top : maximum number of modes to return
    block : anchors whose neighbourhoods are checked per GEMM

    Returns
    -------
    DenseModes
    """
    a = validate_unit(anchors, "anchors")
    counts = np.asarray(counts)
    if counts.shape != (a.shape[0],):
        raise ValueError(f"counts must have shape ({a.shape[0]},) to match anchors; got {counts.shape}")
    (r,) = check_unit_interval(r, "r")
    if int(top) < 1:
        raise ValueError(f"top must be >= 1; got {top!r}")
    m = a.shape[0]
    order = np.lexsort((np.arange(m), -counts))  # densest first; ties: lower index first
    rank = np.empty(m, dtype=np.int64)
    rank[order] = np.arange(m)
    a64 = a.astype(np.float64)
    t = float(cos_threshold(r))
    kept: list[int] = []
    for start in range(0, m, block):
        cand = order[start : start + block]
        near = (a64[cand] @ a64.T) >= t  # d <= r, same tie rule as the engine
        denser = rank[None, :] < rank[cand][:, None]
        is_peak = ~(near & denser).any(axis=1)
        kept.extend(int(i) for i in cand[is_peak][: top - len(kept)])
        if len(kept) >= top:
            break
    idx = np.asarray(kept, dtype=np.int64)
    return DenseModes(worst=int(order[0]), indices=idx, counts=counts[idx].astype(np.int64), r=float(r))


def dense_modes(anchors, samples, *, r: float = 0.25, top: int = 1, **engine_kwargs) -> DenseModes:
    """Worst-case dense mode I_w and the top-p distinct modes (one engine pass).

    Parameters
    ----------
    anchors : (m, D) unit vectors (the set A)
    samples : (n, D) unit vectors or an iterable of shards (the set C, disjoint from A)
    r : neighbourhood radius for counting and distinctness (the authors' code uses 0.25)
    top : number of distinct modes (p)
    """
    stats = neighbor_stats(anchors=anchors, samples=samples, radii=(r,), **engine_kwargs)
    return distinct_modes(anchors, stats.counts[:, 0], r=r, top=top)
