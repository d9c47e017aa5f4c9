"""Per-anchor neighbour statistics and how they merge: the engine's output type (a numpy-only leaf).

``counts`` is N(I', C, r), the neighbour count inside Eq. 9 of paper 000 (Eq. 2 of paper 001),
for each radius; ``curve`` the same count on a distance grid (the neighbour function of Sec. 3.3);
``ssum`` the sum of the similarity kernel of Eq. 6 (the argument of MCCS, Eq. 7); ``topk_*`` the k nearest samples.
Statistics over disjoint sample shards add up and top-k lists merge, which is what makes
streaming, resuming and distribution one code path.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["NeighborStats", "PAPER_GRID", "error_band", "merge_topk"]

#: The paper's neighbour-function grid: d = 0.10, 0.11, ..., 0.50 (41 points).
PAPER_GRID = np.round(np.arange(10, 51) / 100.0, 2)

_U32 = 2.0**-24


def error_band(dim: int) -> float:
    """Rigorous bound on |float32 cosine - float64 cosine| for unit vectors of dimension ``dim``.

    Standard dot-product error analysis gives ``gamma_D * sum|a_i b_i| <= gamma_D`` for
    unit vectors (Cauchy-Schwarz); rounding float64 inputs to float32 adds ``2u``, and
    rounding the threshold itself ``u``.  We add 1% slack and one more ``u``.
    """
    return 1.01 * (dim + 2) * _U32 / (1 - dim * _U32) + 2 * _U32


@dataclass(repr=False)
class NeighborStats:
    """Per-anchor neighbour statistics, mergeable over disjoint sample shards.

    Attributes
    ----------
    radii : (R,) float64       radii for ``counts``
    grid : (G,) float64        distance grid for ``curve``
    theta : float or None      width of the similarity kernel for ``ssum``
    counts : (m, R) int64      #samples with d <= r
    curve : (m, G) int64       #samples with d <= g (cumulative)
    ssum : (m,) float64        sum of s(d) over samples (zeros if theta is None)
    topk_dist : (m, k) float64 distances of the k nearest samples, ascending (inf = none)
    topk_index : (m, k) int64  their global sample indices (-1 = none)
    n_samples : int            number of samples reduced
    """

    radii: np.ndarray
    grid: np.ndarray
    theta: float | None
    counts: np.ndarray
    curve: np.ndarray
    ssum: np.ndarray
    topk_dist: np.ndarray
    topk_index: np.ndarray
    n_samples: int = 0

    @property
    def n_anchors(self) -> int:
        return int(self.counts.shape[0])

    @property
    def mean_similarity(self) -> np.ndarray:
        """mean_C s(d(a, c)) per anchor (the argument of MCCS)."""
        if self.theta is None:
            raise ValueError("these stats were computed without theta; pass theta= to neighbor_stats")
        if self.n_samples == 0:
            return np.zeros_like(self.ssum)
        return self.ssum / self.n_samples

    def count_at(self, r: float) -> np.ndarray:
        """Counts for radius ``r`` (must be one of ``radii``)."""
        hit = np.where(np.isclose(self.radii, r, rtol=0, atol=1e-12))[0]
        if hit.size == 0:
            raise KeyError(f"radius {r} was not computed; available radii: {self.radii.tolist()}")
        return self.counts[:, hit[0]]

    def merge(self, other: NeighborStats) -> NeighborStats:
        """Combine statistics of two disjoint sample shards (exact, associative)."""
        if not isinstance(other, NeighborStats):
            raise TypeError(f"can only merge NeighborStats, got {type(other).__name__}")
        if (
            self.counts.shape[0] != other.counts.shape[0]
            or not np.array_equal(self.radii, other.radii)
            or not np.array_equal(self.grid, other.grid)
            or self.theta != other.theta
            or self.topk_dist.shape[1] != other.topk_dist.shape[1]
        ):
            raise ValueError("cannot merge NeighborStats computed with different anchors, radii, grid, theta or k")
        k = self.topk_dist.shape[1]
        td, ti = merge_topk(
            np.concatenate([self.topk_dist, other.topk_dist], axis=1),
            np.concatenate([self.topk_index, other.topk_index], axis=1),
            k,
        )
        return NeighborStats(
            radii=self.radii,
            grid=self.grid,
            theta=self.theta,
            counts=self.counts + other.counts,
            curve=self.curve + other.curve,
            ssum=self.ssum + other.ssum,
            topk_dist=td,
            topk_index=ti,
            n_samples=self.n_samples + other.n_samples,
        )

    def __repr__(self) -> str:
        return (
            f"NeighborStats(n_anchors={self.n_anchors}, n_samples={self.n_samples}, "
            f"radii={self.radii.tolist()}, grid={len(self.grid)} points, theta={self.theta}, "
            f"k={self.topk_dist.shape[1]})"
        )

    @classmethod
    def empty(cls, m: int, radii, grid, theta, k) -> NeighborStats:
        return cls(
            radii=np.asarray(radii, dtype=np.float64),
            grid=np.asarray(grid, dtype=np.float64),
            theta=theta,
            counts=np.zeros((m, len(radii)), dtype=np.int64),
            curve=np.zeros((m, len(grid)), dtype=np.int64),
            ssum=np.zeros(m, dtype=np.float64),
            topk_dist=np.full((m, k), np.inf),
            topk_index=np.full((m, k), -1, dtype=np.int64),
            n_samples=0,
        )


def merge_topk(dist, index, k):
    """Keep the k smallest (distance, index) pairs per row; ties broken by lower index."""
    if k == 0:
        return dist[:, :0], index[:, :0]
    # Sort by index first, then a stable sort by distance: lexicographic (dist, index).
    key_index = np.where(index < 0, np.iinfo(np.int64).max, index)
    order = np.argsort(key_index, axis=1, kind="stable")
    dist = np.take_along_axis(dist, order, axis=1)
    index = np.take_along_axis(index, order, axis=1)
    order = np.argsort(dist, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(dist, order, axis=1), np.take_along_axis(index, order, axis=1)
