"""The streaming neighbour engine: anchors A x samples C -> NeighborStats.

One GEMM per tile gives the cosines between a block of anchors and a chunk of
samples; every statistic the paper needs is reduced from that tile before it
is dropped:

* ``counts``  - #{c in C : d(a, c) <= r} for each radius r   (Eq. 5, N(I', C, r))
* ``curve``   - the same cumulative counts on a distance grid (the neighbour function)
* ``ssum``    - sum_c s(d(a, c)) for the similarity kernel of width theta (Eq. 6-7)
* ``topk_*``  - the k nearest samples (distance and global index)

Distances are compared as cosines against ``cos(pi * r)``.  float32 GEMM error
can flip a pair sitting on a threshold, so pairs whose float32 cosine lies within
a rigorous error bound of any threshold are recomputed in float64: counts and
curves therefore equal a float64 brute force exactly (ties count as neighbours).

Peak memory depends on the tile size and |A|, never on |C|: ``samples`` may be
an iterable of shards.  Statistics over disjoint shards merge exactly
(:meth:`NeighborStats.merge`), which is what makes streaming, resuming and
distributed reduction the same code path.
"""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field

import numpy as np

from .distance import check_theta, check_unit_interval, cos_threshold, validate_unit

__all__ = ["NeighborStats", "neighbor_stats", "PAPER_GRID", "error_band"]

#: The paper's neighbour-function grid: d = 0.10, 0.11, ..., 0.50 (41 points).
PAPER_GRID = np.round(np.arange(10, 51) / 100.0, 2)

_U32 = 2.0 ** -24


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

    def merge(self, other: "NeighborStats") -> "NeighborStats":
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
        td, ti = _merge_topk(
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
    def empty(cls, m: int, radii, grid, theta, k) -> "NeighborStats":
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


def _merge_topk(dist, index, k):
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


@dataclass
class _Plan:
    """Thresholds of one run, in the shapes the tile reducers want."""

    radii: np.ndarray
    grid: np.ndarray
    theta: float | None
    k: int
    dim: int
    t_asc: np.ndarray = field(init=False)  # unique cosine thresholds, ascending (float64)
    radii_pos: np.ndarray = field(init=False)  # position of each radius in t_asc
    grid_pos: np.ndarray = field(init=False)
    band: float = field(init=False)

    def __post_init__(self):
        dist = np.unique(np.concatenate([self.radii, self.grid]))  # ascending distances
        # cos is decreasing: ascending cosines <-> descending distances.
        self.t_asc = cos_threshold(dist[::-1])
        d_desc = dist[::-1]
        self.radii_pos = np.searchsorted(-d_desc, -self.radii)
        self.grid_pos = np.searchsorted(-d_desc, -self.grid)
        self.band = error_band(self.dim)

    def finish(self, hist: np.ndarray):
        """hist[a, v] = #pairs with exactly v thresholds <= cos  ->  (counts, curve)."""
        # count(cos >= t_asc[i]) = #pairs with v >= i + 1
        ge = np.cumsum(hist[:, ::-1], axis=1)[:, ::-1]  # ge[:, v] = #pairs with value >= v
        n_t = len(self.t_asc)
        cum = ge[:, 1 : n_t + 1]
        return cum[:, self.radii_pos].astype(np.int64), cum[:, self.grid_pos].astype(np.int64)

    def to_stats(self, hist, ssum_unnormalised, top_d, top_i, n_samples) -> "NeighborStats":
        """Accumulators of a reducer -> NeighborStats (``ssum`` still lacks the 1/(e^theta - 1) factor)."""
        counts, curve = self.finish(np.asarray(hist))
        ssum = np.array(ssum_unnormalised, dtype=np.float64)
        if self.theta is not None:
            ssum /= math.expm1(self.theta)
        return NeighborStats(
            radii=self.radii, grid=self.grid, theta=self.theta, counts=counts, curve=curve, ssum=ssum,
            topk_dist=np.array(top_d, dtype=np.float64), topk_index=np.array(top_i, dtype=np.int64),
            n_samples=int(n_samples),
        )


def _iter_chunks(samples, chunk, dim):
    """Yield validated (float32/64) sample chunks from an array or an iterable of shards."""
    if isinstance(samples, np.ndarray) or hasattr(samples, "__array__") and not hasattr(samples, "__next__"):
        arr = np.asarray(samples)
        if arr.ndim != 2:
            raise ValueError(f"samples must be a 2-D array of shape (n, D); got shape {arr.shape}")
        if arr.shape[0] == 0:
            raise ValueError(f"samples is empty: expected at least one vector, got shape {arr.shape}")
        # validate chunk by chunk: checking norms needs a float64 copy, which must not scale with |C|
        for start in range(0, arr.shape[0], chunk):
            name = "samples" if start == 0 and arr.shape[0] <= chunk else f"samples[{start}:{start + chunk}]"
            yield validate_unit(arr[start : start + chunk], name, dim)
        return
    n_seen = 0
    for j, shard in enumerate(samples):
        arr = validate_unit(shard, f"samples shard {j}", dim)
        n_seen += arr.shape[0]
        for start in range(0, arr.shape[0], chunk):
            yield arr[start : start + chunk]
    if n_seen == 0:
        raise ValueError("samples is empty: the iterable yielded no vectors")


def neighbor_stats(
    anchors,
    samples,
    *,
    radii=(),
    grid=None,
    theta=None,
    k: int = 0,
    device: str | None = None,
    backend: str = "auto",
    index_offset: int = 0,
    chunk: int = 8192,
    anchor_block: int = 2048,
    progress: bool | None = None,
    total: int | None = None,
) -> NeighborStats:
    """Reduce every anchor-sample pair in one streaming pass.

    Parameters
    ----------
    anchors : array (m, D)
        Unit vectors (the anchor set A).
    samples : array (n, D) or iterable of arrays (n_j, D)
        Unit vectors (the sample set C), possibly streamed shard by shard.
    radii : sequence of float in [0, 1]
        Radii r for ``counts`` (d <= r).
    grid : sequence of float in [0, 1], optional
        Distance grid for the cumulative ``curve``; :data:`PAPER_GRID` is the paper's.
    theta : float in (0, 1], optional
        Width of the similarity kernel; enables ``ssum``.
    k : int
        Number of nearest samples to keep per anchor.
    device : "cpu", "cuda", ...; default cuda when available, else cpu.
    backend : "auto", "torch" or "numba" (CPU only; fused one-pass tile reduction).
    index_offset : int
        Global index of the first sample (for shards reduced separately, then merged).
    chunk, anchor_block : tile shape (samples per chunk, anchors per block).
    progress : show a tqdm bar (default: only when stderr is a terminal).
    total : number of samples, for the progress bar when ``samples`` is an iterable.

    Returns
    -------
    NeighborStats
    """
    a = validate_unit(anchors, "anchors")
    m, dim = a.shape
    radii = check_unit_interval(radii, "radii") if len(np.atleast_1d(radii)) else np.zeros(0)
    grid = check_unit_interval(grid, "grid") if grid is not None and len(np.atleast_1d(grid)) else np.zeros(0)
    if theta is not None:
        theta = check_theta(theta)
    if not isinstance(k, (int, np.integer)) or k < 0:
        raise ValueError(f"k must be a non-negative integer; got {k!r}")
    if chunk < 1 or anchor_block < 1:
        raise ValueError("chunk and anchor_block must be positive")
    plan = _Plan(radii=radii, grid=grid, theta=theta, k=int(k), dim=dim)

    from .reducers import make_reducer  # local import: torch is heavy

    reducer = make_reducer(plan, a, device=device, backend=backend, anchor_block=anchor_block)
    if progress is None:
        progress = sys.stderr.isatty()
    if total is None and isinstance(samples, np.ndarray):
        total = samples.shape[0]
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, unit="sample", unit_scale=True, desc="neighbours", smoothing=0.1)
    offset = int(index_offset)
    n = 0
    try:
        for c in _iter_chunks(samples, chunk, dim):
            reducer.add(c, offset)
            offset += c.shape[0]
            n += c.shape[0]
            if bar is not None:
                bar.update(c.shape[0])
    finally:
        if bar is not None:
            bar.close()
    return reducer.result(n)
