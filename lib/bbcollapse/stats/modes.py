"""Neighbour counts and dense modes (paper 000, section 3.2.1, Eq. 9).

* :func:`neighbor_counts` is the neighbour count ``N(I', C, r) = #{c in C : d(I', c) <= r}``
  of every anchor: the sum inside paper 000's Eq. 9 and seed 001's neighbouring function
  (its Eq. 2, with a tie counted as 1, not 1/2).  It is not paper 000's Eq. 5, the expected
  similarity, whose Monte Carlo estimate (Eq. 6) MCCS (Eq. 7) takes.
* :func:`worst_index` is Eq. 9, ``I_w = argmax_{I' in A} N(I', C, r)``, with the one tie
  rule of the package: the lowest index on ties.  :func:`density_order` is the same rule
  extended to a full ranking, and every worst case in the package is picked through it.
* :func:`distinct_modes` / :func:`dense_modes` add the top-p *distinct* modes: peaks of the
  count (no denser anchor within r), so no two returned modes lie within r of each other
  (the authors' code returns the raw top-100, which mostly sit in one cluster).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import check_int, check_unit_interval
from ..distance import cos_threshold, validate_unit
from ..neighbors import neighbor_stats

__all__ = ["DenseModes", "dense_modes", "density_order", "distinct_modes", "neighbor_counts", "worst_index"]


def neighbor_counts(anchors, samples, *, r: float, **engine_kwargs) -> np.ndarray:
    """Neighbour counts ``N(I', C, r) = #{c in C : d(I', c) <= r}`` of every anchor (the sum in Eq. 9).

    A tie (``d == r``) counts, and counts equal a float64 reference (the engine rechecks
    pairs near the threshold in float64).

    Parameters
    ----------
    anchors : (m, D) unit vectors (the set A)
    samples : (n, D) unit vectors, or an iterable of shards (the set C)
    r : radius in [0, 1]
    **engine_kwargs : passed to :func:`bbcollapse.neighbor_stats` (device, backend, chunk, ...)

    Returns
    -------
    (m,) int64 array
    """
    return neighbor_stats(anchors=anchors, samples=samples, radii=(r,), **engine_kwargs).counts[:, 0]


def density_order(counts) -> np.ndarray:
    """Anchors from densest to sparsest: decreasing count, the lower index first on ties.

    Parameters
    ----------
    counts : (m,) neighbour counts, one per anchor (or any score where larger means denser,
        e.g. MCCS for selection by MCCS)

    Returns
    -------
    (m,) int64 permutation of ``range(m)``; its first element is :func:`worst_index`.
    """
    counts = np.asarray(counts)
    if counts.ndim != 1 or counts.shape[0] == 0:
        raise ValueError(f"counts must be a non-empty 1-D array (one count per anchor); got shape {counts.shape}")
    if counts.dtype.kind in "ub":  # negating an unsigned or bool count would wrap around
        counts = counts.astype(np.int64)
    return np.lexsort((np.arange(counts.shape[0]), -counts))


def worst_index(counts) -> int:
    """I_w = argmax over anchors of N(I', C, r) (Eq. 9); the lowest index on ties.

    Parameters
    ----------
    counts : (m,) neighbour counts, one per anchor

    Returns
    -------
    int, the index of I_w in the anchors
    """
    return int(density_order(counts)[0])


@dataclass(frozen=True)
class DenseModes:
    """Worst-case and distinct dense modes among the anchors.

    Attributes
    ----------
    worst : int             index of I_w in the anchors (:func:`worst_index` of the counts)
    indices : (p',) int     distinct modes by decreasing count, p' <= top
    counts : (p',) int      their neighbour counts N(I', C, r)
    r : float               radius used for counts and for distinctness
    """

    worst: int
    indices: np.ndarray
    counts: np.ndarray
    r: float

    def __repr__(self):
        return (
            f"DenseModes(worst={self.worst}, indices={self.indices.tolist()}, counts={self.counts.tolist()}, "
            f"r={self.r})"
        )


def distinct_modes(anchors, counts, *, r: float, top: int = 1, order_by=None, block: int = 512) -> DenseModes:
    """Worst-case anchor and the top-p distinct dense modes, from precomputed counts.

    A *mode* is a peak of the neighbour count among the anchors: an anchor is kept
    when no denser anchor (in :func:`density_order`) lies within ``r`` of it.  With
    ``order_by`` (e.g. per-anchor MCCS) the anchors are ranked by that score instead of
    the count (Eq. 9 ranks by count; selection by MCCS ranks by the score the paper reports).  Peaks
    are returned by decreasing count, so no two returned modes lie within ``r`` of each
    other.  Requiring a peak, rather than only distance from the modes kept so far,
    stops the rim of one heavy identity (anchors just beyond ``r`` of its centre, still
    counting many of its samples) from outranking a lighter identity.

    Parameters
    ----------
    anchors : (m, D) unit vectors
    counts : (m,) neighbour counts N(I', C, r) at radius ``r`` (:func:`neighbor_counts`)
    r : neighbourhood radius, in [0, 1]
    top : maximum number of modes to return
    order_by : (m,) optional score ranking the anchors instead of ``counts`` (larger is denser; ties
        to the lower index)
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
    top = check_int(top, "top", minimum=1)
    m = a.shape[0]
    if order_by is not None:
        order_by = np.asarray(order_by, dtype=np.float64)
        if order_by.shape != (m,) or not np.isfinite(order_by).all():
            raise ValueError(f"order_by must hold {m} finite scores, one per anchor; got shape {order_by.shape}")
    order = density_order(counts if order_by is None else order_by)
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
    **engine_kwargs : passed to :func:`bbcollapse.neighbor_stats`

    Returns
    -------
    DenseModes
    """
    return distinct_modes(anchors, neighbor_counts(anchors, samples, r=r, **engine_kwargs), r=r, top=top)
