"""The portable tile reducer behind :func:`bbcollapse.neighbor_stats`.

A reducer owns the per-anchor accumulators of one run and consumes chunks of
samples: for each block of anchors it computes one cosine tile with a GEMM and
reduces it (threshold histogram -> counts and curve, similarity sum, top-k)
before the tile is dropped.

``TorchReducer`` runs on any torch device (CPU or CUDA) with vectorised eager
ops; it is the portable reference path.  The fused CPU kernel
(:mod:`.numba_reducer`) is picked by ``backend="auto"`` on CPU.
"""

from __future__ import annotations

import math

import numpy as np

from .plan import Plan, ieee_float32
from .stats import NeighborStats, merge_topk


def topk_candidates(rows, gidx, dist, n_rows, k):
    """Per-row k smallest (dist, gidx) among a ragged candidate list -> dense (n_rows, k)."""
    out_d = np.full((n_rows, k), np.inf)
    out_i = np.full((n_rows, k), -1, dtype=np.int64)
    if rows.size == 0:
        return out_d, out_i
    order = np.lexsort((gidx, dist, rows))
    rows_s = rows[order]
    starts = np.searchsorted(rows_s, np.arange(n_rows))
    rank = np.arange(rows_s.size) - starts[rows_s]
    keep = rank < k
    out_d[rows_s[keep], rank[keep]] = dist[order][keep]
    out_i[rows_s[keep], rank[keep]] = gidx[order][keep]
    return out_d, out_i


class TorchReducer:
    """Eager torch tile reduction (CPU or CUDA), exact via float64 rechecks."""

    def __init__(self, plan: Plan, anchors: np.ndarray, *, device, anchor_block=2048):
        import torch

        self.torch = torch
        self.plan = plan
        self.dev = torch.device(device)
        self.block = int(anchor_block)
        self.m = anchors.shape[0]
        self.a32 = torch.from_numpy(np.ascontiguousarray(anchors, dtype=np.float32)).to(self.dev)
        self.a64 = torch.from_numpy(np.ascontiguousarray(anchors, dtype=np.float64)).to(self.dev)
        n_t = len(plan.t_asc)
        self.n_t = n_t
        self.t32 = torch.tensor(plan.t_asc, dtype=torch.float32, device=self.dev)
        self.t64 = torch.tensor(plan.t_asc, dtype=torch.float64, device=self.dev)
        inf = torch.tensor([math.inf], dtype=torch.float32, device=self.dev)
        self.t_lo = torch.cat([-inf, self.t32])  # t_lo[v] = largest threshold <= c
        self.t_hi = torch.cat([self.t32, inf])  # t_hi[v] = smallest threshold > c
        self.hist = torch.zeros((self.m, n_t + 1), dtype=torch.int64, device=self.dev)
        self.ssum = torch.zeros(self.m, dtype=torch.float64, device=self.dev)
        self.top_d = np.full((self.m, plan.k), np.inf)
        self.top_i = np.full((self.m, plan.k), -1, dtype=np.int64)
        self.cos_theta = math.cos(math.pi * plan.theta) if plan.theta is not None else None

    def add(self, chunk: np.ndarray, offset: int):
        torch = self.torch
        c32 = torch.from_numpy(np.ascontiguousarray(chunk, dtype=np.float32)).to(self.dev)
        c64 = torch.from_numpy(np.ascontiguousarray(chunk, dtype=np.float64)).to(self.dev)
        with ieee_float32(torch):
            for b0 in range(0, self.m, self.block):
                b1 = min(self.m, b0 + self.block)
                cos = self.a32[b0:b1] @ c32.T
                self._reduce(cos, b0, b1, c64, offset)

    def _exact_dots(self, rows, cols, b0, c64):
        """float64 dots of the listed (anchor row, sample col) pairs, in bounded memory."""
        torch = self.torch
        n, dim = rows.numel(), c64.shape[1]
        if n * 8 >= (self.a64.shape[0] - b0) * c64.shape[0] and n > 4096:
            # Dense (e.g. most pairs inside the similarity kernel): one float64 GEMM of the
            # rows involved is cheaper than gathering.
            r0, r1 = int(rows.min()), int(rows.max()) + 1
            return (self.a64[b0 + r0 : b0 + r1] @ c64.T)[rows - r0, cols]
        out = torch.empty(n, dtype=torch.float64, device=self.dev)
        step = max(1, (1 << 22) // dim)  # 32 MiB of float64 per gathered batch
        for s in range(0, n, step):
            e = min(n, s + step)
            out[s:e] = (self.a64[b0 + rows[s:e]] * c64[cols[s:e]]).sum(1)
        return out

    def _reduce(self, cos, b0, b1, c64, offset):
        torch, plan = self.torch, self.plan
        mb, nc = cos.shape
        band = plan.band
        if self.n_t:
            v = torch.searchsorted(self.t32, cos, right=True)
            near = ((cos - self.t_lo[v]) <= band) | ((self.t_hi[v] - cos) <= band)
            rows, cols = near.nonzero(as_tuple=True)
            if rows.numel():
                v[rows, cols] = torch.searchsorted(self.t64, self._exact_dots(rows, cols, b0, c64), right=True)
            v += (torch.arange(mb, device=self.dev) * (self.n_t + 1))[:, None]
            self.hist[b0:b1] += torch.bincount(v.reshape(-1), minlength=mb * (self.n_t + 1)).view(mb, self.n_t + 1)
        if self.cos_theta is not None:
            rows, cols = (cos > self.cos_theta - band).nonzero(as_tuple=True)
            if rows.numel():
                # float64 dots: arccos is ill-conditioned near cos = 1 (duplicates), where
                # the float32 cosine would be off by ~1e-4 in distance.
                d = torch.arccos(self._exact_dots(rows, cols, b0, c64).clamp(-1, 1)) / math.pi
                s = torch.expm1((plan.theta - d).clamp(min=0))
                self.ssum.index_add_(0, rows + b0, s)
        if plan.k:
            kk = min(plan.k, nc)
            kth = torch.topk(cos, kk, dim=1).values[:, -1:]
            rows, cols = (cos >= kth - 2 * band).nonzero(as_tuple=True)
            d64 = torch.arccos(self._exact_dots(rows, cols, b0, c64).clamp(-1, 1)) / math.pi
            cd, ci = topk_candidates(rows.cpu().numpy(), cols.cpu().numpy() + offset, d64.cpu().numpy(), mb, plan.k)
            td, ti = merge_topk(
                np.concatenate([self.top_d[b0:b1], cd], axis=1),
                np.concatenate([self.top_i[b0:b1], ci], axis=1),
                plan.k,
            )
            self.top_d[b0:b1], self.top_i[b0:b1] = td, ti

    def result(self, n_samples: int) -> NeighborStats:
        return self.plan.to_stats(self.hist.cpu().numpy(), self.ssum.cpu().numpy(), self.top_d, self.top_i, n_samples)
