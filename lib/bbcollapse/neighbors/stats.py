"""Per-anchor neighbour statistics and how they merge: the engine's output type (a numpy-only leaf).

``counts`` is N(I', C, r), the neighbour count inside Eq. 9 of paper 000 (Eq. 2 of paper 001),
for each radius; ``curve`` the same count on a distance grid (the neighbour function of Sec. 3.3);
``ssum`` the sum of the similarity kernel of Eq. 6 (the argument of MCCS, Eq. 7); ``topk_*`` the k nearest samples.
Statistics over disjoint sample shards add up and top-k lists merge, which is what makes
streaming, resuming and distribution one code path.  An :class:`AnchorScope` says which anchors
each statistic was computed for (the plan-aware engine computes, say, curves for a few anchors
only); outside its scope a statistic holds its empty value (0, or inf / -1 for top-k).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["AnchorScope", "NeighborStats", "PAPER_GRID", "error_band", "merge_topk"]

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


STATISTICS = ("counts", "curve", "ssum", "topk")


@dataclass(frozen=True, eq=False)
class AnchorScope:
    """Which anchors each statistic is computed for: four (m,) bool masks.

    ``counts`` (at every radius), ``curve`` (every grid point), ``ssum`` and ``topk``.
    Build one with :meth:`of`; :meth:`everything` is the scope of a default engine run.
    """

    counts: np.ndarray
    curve: np.ndarray
    ssum: np.ndarray
    topk: np.ndarray

    @classmethod
    def everything(cls, m: int) -> AnchorScope:
        return cls(*(np.ones(m, dtype=bool) for _ in STATISTICS))

    @classmethod
    def of(cls, m: int, **which) -> AnchorScope:
        """``which[name]``: None (all m anchors), a boolean mask (m,) or integer anchor indices."""
        unknown = set(which) - set(STATISTICS)
        if unknown:
            raise TypeError(f"unknown statistics {sorted(unknown)}; expected some of {list(STATISTICS)}")
        return cls(*(_mask(which.get(name), m, f"{name}_anchors") for name in STATISTICS))

    @property
    def is_everything(self) -> bool:
        return all(getattr(self, name).all() for name in STATISTICS)

    def __and__(self, other: AnchorScope) -> AnchorScope:
        return AnchorScope(*(getattr(self, n) & getattr(other, n) for n in STATISTICS))

    def __eq__(self, other) -> bool:
        return isinstance(other, AnchorScope) and all(
            np.array_equal(getattr(self, n), getattr(other, n)) for n in STATISTICS
        )

    __hash__ = None

    def __repr__(self) -> str:
        return "AnchorScope(" + ", ".join(f"{n}={int(getattr(self, n).sum())}" for n in STATISTICS) + ")"


def _mask(which, m: int, name: str) -> np.ndarray:
    if which is None:
        return np.ones(m, dtype=bool)
    arr = np.asarray(which)
    if arr.dtype == bool:
        if arr.shape != (m,):
            raise ValueError(f"{name} as a boolean mask must have shape ({m},); got {arr.shape}")
        return arr.copy()
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} must be anchor indices (integers) or a boolean mask; got dtype {arr.dtype}")
    idx = arr.astype(np.int64).ravel()
    if idx.size and (idx.min() < 0 or idx.max() >= m):
        raise ValueError(f"{name} holds indices outside [0, {m}): {idx[(idx < 0) | (idx >= m)][:5].tolist()}")
    out = np.zeros(m, dtype=bool)
    out[idx] = True
    return out


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
    scope : AnchorScope or None  which anchors each statistic was computed for (None: all)
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
    scope: AnchorScope | None = None

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
        """Combine statistics of two disjoint sample shards (exact, associative).

        With scopes, a statistic of the result is kept for the anchors both shards computed it
        for (the intersection) and emptied elsewhere.
        """
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
        ).restricted(_meet(self.scope, other.scope, self.n_anchors))

    def restricted(self, scope: AnchorScope | None) -> NeighborStats:
        """These statistics with every one emptied outside ``scope`` (in place; returns self)."""
        if scope is None or scope.is_everything:
            self.scope = None
            return self
        self.counts[~scope.counts] = 0
        self.curve[~scope.curve] = 0
        self.ssum[~scope.ssum] = 0.0
        self.topk_dist[~scope.topk] = np.inf
        self.topk_index[~scope.topk] = -1
        self.scope = scope
        return self

    def __repr__(self) -> str:
        return (
            f"NeighborStats(n_anchors={self.n_anchors}, n_samples={self.n_samples}, "
            f"radii={self.radii.tolist()}, grid={len(self.grid)} points, theta={self.theta}, "
            f"k={self.topk_dist.shape[1]}" + ("" if self.scope is None else f", scope={self.scope!r}") + ")"
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


def _meet(a: AnchorScope | None, b: AnchorScope | None, m: int) -> AnchorScope | None:
    if a is None and b is None:
        return None
    return (a or AnchorScope.everything(m)) & (b or AnchorScope.everything(m))


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
