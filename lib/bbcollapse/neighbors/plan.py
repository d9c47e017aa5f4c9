"""The thresholds of one engine run, in the shapes the tile reducers want (a numpy-only leaf)."""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from ..distance import UNIT_TOL, cos_threshold
from .stats import NeighborStats, error_band

__all__ = ["Plan", "band64", "ieee_float32"]


def band64(dim: int) -> float:
    """Bound on the difference of two float64 dot products of the same vectors (norms within UNIT_TOL of 1)
    summed in different orders: twice gamma_D of float64, with 1% slack and the rounding of a threshold."""
    u = 2.0**-53
    return 1.01 * 2.0 * (1.0 + UNIT_TOL) ** 2 * (dim + 2) * u / (1.0 - dim * u) + 2.0 * u


@contextmanager
def ieee_float32(torch):
    """torch's float32 matmuls in IEEE float32 (no TF32) inside the block: the error band assumes it."""
    prev = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("highest")
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(prev)


@dataclass
class Plan:
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

    def to_stats(self, hist, ssum_unnormalised, top_d, top_i, n_samples) -> NeighborStats:
        """Accumulators of a reducer -> NeighborStats (``ssum`` still lacks the 1/(e^theta - 1) factor)."""
        counts, curve = self.finish(np.asarray(hist))
        ssum = np.array(ssum_unnormalised, dtype=np.float64)
        if self.theta is not None:
            ssum /= math.expm1(self.theta)
        return NeighborStats(
            radii=self.radii,
            grid=self.grid,
            theta=self.theta,
            counts=counts,
            curve=curve,
            ssum=ssum,
            topk_dist=np.array(top_d, dtype=np.float64),
            topk_index=np.array(top_i, dtype=np.int64),
            n_samples=int(n_samples),
        )
