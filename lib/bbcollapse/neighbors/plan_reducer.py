"""The plan-aware engine: compute only the statistics each anchor asks for.

The paper's workflow needs counts at r and the s-sum within theta for every anchor, but the
41-point neighbour curve only for the selected modes and the reference anchors (about 1,100 of
10^4), and the top-k only for the worst case.  :class:`ScopedReducer` splits the anchors of an
:class:`~.stats.AnchorScope` in two groups:

* anchors that want the curve go through the fused kernel of :mod:`.numba_reducer` (every pair
  is binned on the grid);
* the others go through :class:`ThresholdReducer`: a (bf16, where the CPU has it) GEMM and one
  vectorised test per pair against the lowest threshold the anchor asked for
  (:mod:`.sparse_kernel`); survivors are recomputed in float64.  Where most pairs survive
  (clustered samples, or a top-k not yet filled), a block of anchors takes the fused kernel's
  dense path instead, decided on its previous tile.

Results are exact against a float64 brute force and merge over shards like those of a default
run; outside the scope a statistic is empty (:meth:`~.stats.NeighborStats.restricted`).  On
CUDA or with ``backend="torch"`` the portable reducer computes everything and the result is
restricted to the scope (exact, not faster).
"""

from __future__ import annotations

import math

import numpy as np

from .numba_reducer import DENSE_FRACTION, TOPK_MARGIN, NumbaReducer
from .plan import Plan, ieee_float32
from .prefilter import bf16_error_bound, threshold_keys
from .sparse_kernel import count_tile, sparse_tile
from .stats import AnchorScope, NeighborStats

__all__ = ["ScopedReducer", "ThresholdReducer"]


class ThresholdReducer(NumbaReducer):
    """Counts, s-sums and top-k of anchors that need no curve, through a thresholded low-precision GEMM.

    Parameters
    ----------
    plan : Plan without a grid
    anchors : (m, D) unit vectors
    scope : AnchorScope of these m anchors (its ``curve`` is ignored)
    precision : "bf16" or "float32", the GEMM of the prefilter
    """

    def __init__(self, plan: Plan, anchors: np.ndarray, scope: AnchorScope, precision: str, **kw):
        super().__init__(plan, anchors, **kw)
        torch = self.torch
        if len(plan.grid):
            raise ValueError("ThresholdReducer computes no curve; pass a plan without a grid")
        self.precision = precision
        self.bound = bf16_error_bound(self.dim) if precision == "bf16" else plan.band
        d_need = np.full(self.m, -np.inf)
        if len(plan.radii):
            d_need[scope.counts] = np.max(plan.radii)
        if plan.theta is not None:
            d_need[scope.ssum] = np.maximum(d_need[scope.ssum], plan.theta)
        # exact cosine below which a pair is of no use to an anchor (+inf: it asked for none of these)
        self.t_static = np.where(np.isfinite(d_need), np.cos(np.pi * np.clip(d_need, 0.0, 1.0)), np.inf)
        self.want_topk = scope.topk & (plan.k > 0)
        self.ssum_rows = np.ascontiguousarray(scope.ssum & (plan.theta is not None))
        if precision == "bf16":
            self.a_lp = self.a32.to(torch.bfloat16)
            self._buf_lp = torch.empty(self.rows * self.cols, dtype=torch.bfloat16)
            self.shift, self.mask, self.bits_view = 15, 0x7FFF, torch.int16
        else:
            self.a_lp, self._buf_lp = self.a32, self._buf
            self.shift, self.mask, self.bits_view = 31, 0x7FFFFFFF, torch.int32
        self._sparse = {}  # anchor block start -> take the sparse path (decided on the previous tile)
        self._n_surv = np.zeros(64, dtype=np.int64)
        self.tiles_sparse = 0
        self.survivors = 0
        self.sparse_pairs = 0

    def _topk_cos(self):
        """Per anchor, the exact cosine a new top-k member must reach (-inf: top-k not full, inf: no top-k)."""
        out = np.full(self.m, np.inf)
        if self.plan.k:
            dk = self.top_d[:, self.plan.k - 1]
            out[self.want_topk] = -np.inf
            full = self.want_topk & np.isfinite(dk)
            out[full] = np.cos(np.pi * dk[full]) - TOPK_MARGIN
        return out

    def _fill_topk(self, out, b0, b1, topk_cos, keys):
        """Thresholds of anchors whose top-k is not full yet, from this tile's k-th largest cosine.

        Of the k pairs at or above the k-th largest low-precision cosine v_k, each is exactly
        >= v_k - bound, so the k-th nearest is too, and a pair that can enter the top-k has a
        low-precision cosine >= v_k - 2 bound.  Returns (topk_cos, keys), copied where changed.
        """
        rows = np.flatnonzero(np.isneginf(topk_cos[b0:b1]))
        k = self.plan.k
        if rows.size == 0 or out.shape[1] < k:
            return topk_cos, keys
        idx = self.torch.from_numpy(rows)
        vk = self.torch.topk(out[idx].float(), k, dim=1).values[:, -1].double().numpy()
        topk_cos, keys = topk_cos.copy(), keys.copy()
        g = rows + b0
        topk_cos[g] = vk - self.bound - TOPK_MARGIN
        keys[g] = threshold_keys(np.minimum(self.t_static[g], topk_cos[g]) - self.bound, self.precision)
        return topk_cos, keys

    def add(self, chunk: np.ndarray, offset: int):
        torch = self.torch
        cx, c32, c64 = self.prepare(chunk)
        c_lp = c32.to(torch.bfloat16) if self.precision == "bf16" else c32
        n = cx.shape[0]
        with ieee_float32(torch):
            for s0 in range(0, n, self.cols):
                s1 = min(n, s0 + self.cols)
                thr = self.topk_floor()
                topk_cos = self._topk_cos()
                keys = threshold_keys(np.minimum(self.t_static, topk_cos) - self.bound, self.precision)
                for b0 in range(0, self.m, self.rows):
                    b1 = min(self.m, b0 + self.rows)
                    pairs = (b1 - b0) * (s1 - s0)
                    sparse = self._sparse.get(b0)
                    if sparse is not False:
                        out = self._buf_lp[:pairs].view(b1 - b0, s1 - s0)
                        torch.mm(self.a_lp[b0:b1], c_lp[s0:s1].T, out=out)
                        tk, tkeys = self._fill_topk(out, b0, b1, topk_cos, keys)
                        if sparse is None:  # first tile of these anchors: count the survivors before using them
                            n_pass = count_tile(out.view(self.bits_view).numpy(), tkeys, self.shift, self.mask, b0)
                            sparse = n_pass <= DENSE_FRACTION * pairs
                    if not sparse:
                        self.dense_tile(b0, b1, s0, s1, cx, c32, c64, offset, thr)
                        self._sparse[b0] = int(self._n_exact.sum()) <= DENSE_FRACTION * pairs
                    else:
                        self._n_surv[:] = 0
                        sparse_tile(
                            out.view(self.bits_view).numpy(),
                            tkeys,
                            self.shift,
                            self.mask,
                            self.a64,
                            cx,
                            b0,
                            s0,
                            int(offset),
                            self.t_asc,
                            float(self.cos_theta),
                            float(self.plan.theta or 0.0),
                            self.ssum_rows,
                            tk,
                            self.hist,
                            self.ssum,
                            self.top_d,
                            self.top_i,
                            self.s_tab,
                            float(self.inv_h),
                            self.use_tab,
                            self._n_surv,
                        )
                        surv = int(self._n_surv.sum())
                        self.survivors += surv
                        self.tiles_sparse += 1
                        self.sparse_pairs += pairs
                        self.tiles += 1
                        self._sparse[b0] = surv <= DENSE_FRACTION * pairs


class ScopedReducer:
    """Reducer of a plan-aware run: curve anchors through the fused kernel, the rest through the threshold path.

    Parameters
    ----------
    plan : Plan of the run (all radii, grid, theta, k)
    anchors : (m, D) unit vectors
    scope : AnchorScope (which anchors want which statistic)
    precision : "bf16" or "float32" (the prefilter's GEMM; see :func:`.prefilter.resolve_prefilter`)
    fused : use the numba kernels (CPU); else ``portable`` (a TorchReducer over all anchors) is used
    """

    def __init__(self, plan: Plan, anchors, scope: AnchorScope, *, precision: str, fused: bool, portable=None, **kw):
        self.plan, self.scope, self.m = plan, scope, anchors.shape[0]
        self.parts = []
        if not fused:
            self.parts.append((np.arange(self.m), portable))
            return
        curve = scope.curve if len(plan.grid) else np.zeros(self.m, dtype=bool)
        full, rest = np.flatnonzero(curve), np.flatnonzero(~curve)
        if full.size:
            self.parts.append((full, NumbaReducer(plan, anchors[full], **kw)))
        if rest.size:
            sub = AnchorScope(*(getattr(scope, name)[rest] for name in ("counts", "curve", "ssum", "topk")))
            lean = Plan(radii=plan.radii, grid=np.zeros(0), theta=plan.theta, k=plan.k, dim=plan.dim)
            self.parts.append((rest, ThresholdReducer(lean, anchors[rest], sub, precision, **kw)))

    def add(self, chunk: np.ndarray, offset: int):
        for _, reducer in self.parts:
            reducer.add(chunk, offset)

    def result(self, n_samples: int) -> NeighborStats:
        p = self.plan
        out = NeighborStats.empty(self.m, p.radii, p.grid, p.theta, p.k)
        out.n_samples = int(n_samples)
        for rows, reducer in self.parts:
            st = reducer.result(n_samples)
            out.counts[rows] = st.counts
            out.ssum[rows] = st.ssum
            out.topk_dist[rows] = st.topk_dist
            out.topk_index[rows] = st.topk_index
            if st.curve.shape[1] == len(p.grid):
                out.curve[rows] = st.curve
        return out.restricted(self.scope)

    @property
    def survivor_fraction(self) -> float:
        """Diagnostics: the fraction of the threshold path's pairs recomputed in float64 (nan without one)."""
        thr = [r for _, r in self.parts if isinstance(r, ThresholdReducer)]
        if not thr or not thr[0].sparse_pairs:
            return math.nan
        return thr[0].survivors / thr[0].sparse_pairs
