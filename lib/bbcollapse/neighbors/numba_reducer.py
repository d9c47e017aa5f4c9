"""Fused one-pass CPU tile reduction (numba) behind :func:`bbcollapse.neighbor_stats`.

The float32 cosine tile comes from one GEMM (torch, i.e. MKL/oneDNN/OpenBLAS);
a single parallel numba pass over its rows then does every reduction at once:

* **histogram over the thresholds** (radii and grid): the float32 cosine is
  quantised into one of ``LUT_BUCKETS`` buckets and a lookup table gives the
  histogram bin directly.  Buckets that lie within the error band of a
  threshold (or in the similarity-kernel region) are marked special and take a
  slow path; there, pairs whose cosine lies within the rigorous float32 error
  bound ``band`` of a threshold are recomputed as a float64 dot product, so the
  counts equal a float64 brute force exactly (a tie ``cos == cos(pi r)`` counts
  as a neighbour).
* **similarity sum**: only for ``cos > cos(pi theta) - band``, from the float64 cosine
  (arccos is ill-conditioned near cos = 1).  Where few pairs are inside the kernel, each
  takes a float64 dot product; where most are (clustered samples, such as the face
  embeddings of one generator), the tile gets one float64 GEMM instead and the kernel
  ``expm1(theta - d)`` is read from a cubic-Hermite table in ``t = sqrt(1 - cos)``
  (within 1e-14 of direct evaluation): 70 -> 10 ns/pair on 2 cores when every pair is
  inside theta.  The switch is per block of anchors, decided on the previous tile.  Such a
  tile is binned from its float64 values directly, with the float64 band :func:`band64`
  (no float32 copy; only pairs within ~1e-13 of a threshold take a float64 dot product).
* **top-k**: a per-row candidate buffer guarded by a running threshold, so most
  pairs are rejected by one compare; the surviving candidates (all within
  ``2 band`` of the k-th largest float32 cosine) are recomputed in float64 and
  merged with the running list by (distance, global index).

Counts, top-k and the similarity sum are therefore computed from float64 dot
products: counts and top-k exactly, the similarity sum to float64 round-off.

Compiled kernels are cached on disk where numba finds a writable place (``__pycache__``
beside this file, or the user's cache directory); a read-only install with an unwritable
HOME caches them in a private directory of the temp dir instead, and where there is none,
compiles them in every process (:mod:`.numba_cache`).  Caching never changes a result.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .numba_cache import cache_kernels
from .plan import Plan, band64, ieee_float32
from .stats import NeighborStats
from .tables import LUT_BUCKETS, SPECIAL, build_bin_lut, build_s_table

__all__ = [
    "NumbaReducer",
    "TOPK_MARGIN",
    "dot64",
    "merge_row",
    "n_le",
    "reduce_tile",
    "s_unnorm",
    "sort_by_dist_index",
]

#: When more than this fraction of a tile's pairs took the float64 path (a clustered sample:
#: most pairs inside the similarity kernel), the next tile of those anchors gets one float64
#: GEMM instead of a gathered float64 dot per pair (which reads a D-vector per pair).
DENSE_FRACTION = 0.02
#: Default tile shape: anchors x samples per GEMM (a 16 MiB float32 tile).  On the first machine
#: (Zen 3, 2 shared cores) 2048 x 4096 halved the time of 512 x 4096 (fewer, larger parallel
#: regions).  On the AVX-512 Xeon (2 cores, quiet, |A| = 10^4, |C| = 32768, planted), 1024 rows
#: against 2048: all statistics 3.24 vs 3.80 ns/pair on 1 thread and 1.68 vs 1.87 on 2; the bare
#: GEMM is no slower (1.36 vs 1.44, 0.74 vs 0.77); 512 rows is as fast on 1 thread, slower on 2.
TILE_ROWS = 1024
TILE_COLS = 4096
#: Interleaved sub-histograms per row (the pass over a row is unrolled by this much).
N_SUB = 4
TOPK_MARGIN = 1e-12  # covers cos(pi * arccos(x) / pi) round-off when re-deriving a threshold


_CACHE = cache_kernels()


@njit(cache=_CACHE, fastmath={"reassoc"})
def dot64(a64, i, cx, j):
    """float64 dot product of anchor i and sample j.

    Each product is exact for float32 samples (24 + 24 significant bits) and rounded once for
    float64 ones; ``reassoc`` lets LLVM sum them in vector lanes (3.5x faster than four scalar
    chains: 18 against 63 ns at D = 128, measured).  The order is fixed for a compiled kernel but
    may differ between ISAs; the float64 band :func:`.plan.band64` bounds every summation order,
    and exact ties (representable products) sum to the same value in any order.
    """
    s = 0.0
    for t in range(a64.shape[1]):
        s += a64[i, t] * np.float64(cx[j, t])
    return s


@njit(cache=_CACHE)
def s_unnorm(cc, theta, s_tab, inv_h, use_tab):
    """expm1(max(0, theta - arccos(cc) / pi)) for an exact float64 cosine cc."""
    if use_tab:
        x = min(math.sqrt(max(0.0, 1.0 - cc)) * inv_h, np.float64(s_tab.shape[1] - 1))
        k = np.uint32(x)
        u = x - np.float64(k)
        return s_tab[0, k] + u * (s_tab[1, k] + u * (s_tab[2, k] + u * s_tab[3, k]))
    d = math.acos(min(max(cc, -1.0), 1.0)) / math.pi
    if d < theta:
        return math.expm1(theta - d)
    return 0.0


@njit(cache=_CACHE)
def n_le(t_asc, x):
    """Number of thresholds <= x (t_asc short): a branch-free count, 4x faster than a bisection (24 ns) whose
    branches mispredict."""
    c = 0
    for q in range(t_asc.shape[0]):
        c += t_asc[q] <= x
    return c


@njit(cache=_CACHE)
def merge_row(top_d, top_i, row, cd, ci, n):
    """Merge n candidates (cd, ci) sorted by (dist, index) into the sorted row of top_d/top_i."""
    k = top_d.shape[1]
    old_d = top_d[row].copy()
    old_i = top_i[row].copy()
    p = 0
    q = 0
    for r in range(k):
        take_new = False
        if q < n:
            if p >= k:
                take_new = True
            else:
                od = old_d[p]
                oi = old_i[p]
                if oi < 0:
                    take_new = True
                elif cd[q] < od or (cd[q] == od and ci[q] < oi):
                    take_new = True
        if take_new:
            top_d[row, r] = cd[q]
            top_i[row, r] = ci[q]
            q += 1
        else:
            top_d[row, r] = old_d[p]
            top_i[row, r] = old_i[p]
            p += 1


@njit(cache=_CACHE)
def _sift_down_min(h, start, n):
    """Restore the min-heap property of h[:n] below position start."""
    i = start
    while True:
        lo = 2 * i + 1
        if lo >= n:
            return
        if lo + 1 < n and h[lo + 1] < h[lo]:
            lo += 1
        if h[lo] < h[i]:
            h[i], h[lo] = h[lo], h[i]
            i = lo
        else:
            return


@njit(cache=_CACHE)
def _kth_largest(vals, n, k):
    """k-th largest of vals[:n] (1 <= k <= n) with a size-k min-heap, O(n log k)."""
    h = vals[:k].copy()
    for i in range(k // 2 - 1, -1, -1):
        _sift_down_min(h, i, k)
    for q in range(k, n):
        if vals[q] > h[0]:
            h[0] = vals[q]
            _sift_down_min(h, 0, k)
    return h[0]


@njit(cache=_CACHE)
def _before(d1, i1, d2, i2):
    return d1 < d2 or (d1 == d2 and i1 < i2)


@njit(cache=_CACHE)
def sort_by_dist_index(d, idx, n):
    """In-place heapsort of (d[:n], idx[:n]) by (distance, index)."""
    # max-heap under the (d, idx) order
    for start in range(n // 2 - 1, -1, -1):
        _sift_down_pair(d, idx, start, n)
    for end in range(n - 1, 0, -1):
        d[0], d[end] = d[end], d[0]
        idx[0], idx[end] = idx[end], idx[0]
        _sift_down_pair(d, idx, 0, end)


@njit(cache=_CACHE)
def _sift_down_pair(d, idx, start, n):
    i = start
    while True:
        c = 2 * i + 1
        if c >= n:
            return
        if c + 1 < n and _before(d[c], idx[c], d[c + 1], idx[c + 1]):
            c += 1
        if _before(d[i], idx[i], d[c], idx[c]):
            d[i], d[c] = d[c], d[i]
            idx[i], idx[c] = idx[c], idx[i]
            i = c
        else:
            return


@njit(parallel=True, cache=_CACHE)
def reduce_tile(
    cos,  # (mb, nc) float32 tile
    a64,  # (m, D) float64 anchors
    cx,  # (n_chunk, D) float64 samples of the chunk (exact values)
    row0,  # global anchor row of tile row 0
    col0,  # chunk column of tile column 0
    gidx0,  # global sample index of chunk column 0
    lut,  # (n_buckets <= 2**16,) int8/16/32: bin, or -1 (special)
    lut_nt,  # (n_buckets,) the same without the similarity region (-1 only near a threshold)
    t_asc,  # (n_t,) float64
    band,
    cos_theta,  # float64 (ignored unless do_ssum)
    theta,
    do_ssum,
    hist,  # (m, n_t + 1) int64, accumulated
    ssum,  # (m,) float64, accumulated (unnormalised expm1 sums)
    top_d,  # (m, k) float64
    top_i,  # (m, k) int64
    thr_init,  # (m,) float64: lower bound on the cosine of a new top-k member
    ex,  # (mb, nc) float64 exact tile when use_ex, else any 2-D float64 array
    use_ex,
    s_tab,  # (4, n_nodes + 1) float64 piecewise-cubic table of the kernel (see build_s_table)
    inv_h,
    use_tab,
    n_exact,  # (64,) int64: float64 cosines taken per row block (output)
):
    mb, nc = cos.shape
    nbins = t_asc.shape[0] + 1
    k = top_d.shape[1]
    n_b = lut.shape[0]
    s = np.float32(n_b / 2.0)
    bmax = np.float32(n_b - 1)
    zero = np.float32(0.0)
    special = np.int32(SPECIAL)
    two_band = 2.0 * band + TOPK_MARGIN
    n_blk = min(mb, 64)
    n_jb = (nc + 63) // 64
    n_full = nc // 64
    # With a float64 tile, the similarity sum is one pass over its rows (below), so the
    # histogram's fast path covers the similarity region too.
    mlut = lut_nt if use_ex else lut
    sep_ssum = do_ssum and use_ex
    n_iv = np.uint32(s_tab.shape[1] - 1)  # intervals of the table; column n_iv is the zero sentinel
    x_end = np.float64(s_tab.shape[1] - 1)
    c0 = s_tab[0]
    c1 = s_tab[1]
    c2 = s_tab[2]
    c3 = s_tab[3]
    for blk in prange(n_blk):
        r_start = blk * mb // n_blk
        r_end = (blk + 1) * mb // n_blk
        n_ex = 0
        sub = np.zeros(N_SUB * nbins, dtype=np.int64)
        idx = np.empty(nc, dtype=np.uint16)  # bucket of each cosine of the row (n_buckets <= 2**16)
        tbuf = np.empty(nc if sep_ssum else 1, dtype=np.float64)  # table coordinate, then kernel value
        kbuf = np.empty(nc if sep_ssum else 1, dtype=np.uint32)  # table interval of each pair
        lanes = np.empty(8, dtype=np.float64)  # partial sums of the kernel over a row
        slow = np.empty(nc, dtype=np.int64)  # columns in special buckets
        cand = np.empty(nc, dtype=np.int64)  # top-k candidates
        blk_above = np.empty(n_jb, dtype=np.int64)  # candidates per 64 columns
        for li in range(r_start, r_end):
            i = row0 + li
            crow = cos[li]
            thr = thr_init[i]
            if k > 0 and thr == -np.inf and nc >= k:
                # No full top-k yet: the k-th largest cosine of a prefix of the row is a
                # lower bound on the row's k-th largest, so anything more than 2*band
                # below it cannot enter the float64 top-k.
                n_pre = min(nc, 8 * k + 256)
                thr = np.float64(_kth_largest(crow, n_pre, k)) - two_band
            thr32 = np.float32(thr - 1e-7) if k > 0 else np.float32(np.inf)
            n_slow = 0
            n_cand = 0
            # Pass 1 (vectorised): bucket of every cosine; flag the 64-blocks holding
            # top-k candidates.
            # A fixed trip count of 64 over slices vectorises (min(nc, j0 + 64) - j0 did not: 2x slower).
            # uint16 buckets, counted in a loop of their own, vectorise fully: 0.56-0.59 against
            # 0.74-0.84 ns/pair for int32 buckets counted in the same loop (one thread, planted).
            n_above = 0
            for jb in range(n_full):
                rsub = crow[jb * 64 : jb * 64 + 64]
                isub = idx[jb * 64 : jb * 64 + 64]
                for j in range(64):
                    isub[j] = np.uint16(min(max(rsub[j] * s + s, zero), bmax))
                cnt = 0
                for j in range(64):
                    cnt += rsub[j] >= thr32
                blk_above[jb] = cnt
                n_above += cnt
            if n_full < n_jb:
                cnt = 0
                for j in range(n_full * 64, nc):
                    c = crow[j]
                    idx[j] = np.uint16(min(max(c * s + s, zero), bmax))
                    cnt += c >= thr32
                blk_above[n_full] = cnt
                n_above += cnt
            # Pass 2: bucket -> bin, four interleaved sub-histograms (no store-to-load
            # dependency between neighbouring pairs that fall into the same bin).
            j = 0
            while j + 4 <= nc:
                e0 = mlut[idx[j]]
                e1 = mlut[idx[j + 1]]
                e2 = mlut[idx[j + 2]]
                e3 = mlut[idx[j + 3]]
                if e0 == special or e1 == special or e2 == special or e3 == special:
                    for q in range(4):
                        e = mlut[idx[j + q]]
                        if e != special:
                            sub[np.uint32(q * nbins) + np.uint32(e)] += 1
                        else:
                            slow[n_slow] = j + q
                            n_slow += 1
                else:
                    sub[np.uint32(e0)] += 1
                    sub[np.uint32(nbins) + np.uint32(e1)] += 1
                    sub[np.uint32(2 * nbins) + np.uint32(e2)] += 1
                    sub[np.uint32(3 * nbins) + np.uint32(e3)] += 1
                j += 4
            while j < nc:
                e = mlut[idx[j]]
                if e != special:
                    sub[np.uint32(e)] += 1
                else:
                    slow[n_slow] = j
                    n_slow += 1
                j += 1
            if n_above > 0:
                for jb in range(n_jb):
                    if blk_above[jb] > 0:
                        for j in range(jb * 64, min(nc, jb * 64 + 64)):
                            if crow[j] >= thr32:
                                cand[n_cand] = j
                                n_cand += 1
            # Special buckets: near a threshold (float64 recheck) or in the similarity region.
            acc = 0.0
            for q in range(n_slow):
                j = slow[q]
                cd = np.float64(crow[j])
                have = False
                ce = 0.0
                v = lut_nt[idx[j]]
                if v == special:  # near a threshold: its bin may need the float64 cosine
                    v = n_le(t_asc, cd)
                    if (v > 0 and cd - t_asc[v - 1] <= band) or (v < nbins - 1 and t_asc[v] - cd <= band):
                        ce = dot64(a64, i, cx, col0 + j)
                        have = True
                        v = n_le(t_asc, ce)
                sub[v] += 1
                if do_ssum and not sep_ssum and cd > cos_theta - band:
                    # float64 cosine: arccos is ill-conditioned near cos = 1 (duplicates),
                    # where a float32 cosine would be off by ~1e-4 in distance.
                    if not have:
                        ce = dot64(a64, i, cx, col0 + j)
                        have = True
                    acc += s_unnorm(ce, theta, s_tab, inv_h, use_tab)
                if have:
                    n_ex += 1
            if sep_ssum:
                erow = ex[li]
                if use_tab:
                    # x = sqrt(1 - cos) / h for the whole row, clamped to the table's zero
                    # sentinel (vectorised), then the interval's cubic (a gather per power
                    # and three multiply-adds), summed over 8 lanes.
                    for j in range(nc):
                        x = min(math.sqrt(max(0.0, 1.0 - erow[j])) * inv_h, x_end)
                        kq = np.uint32(x)
                        kbuf[j] = kq
                        tbuf[j] = x - np.float64(kq)
                    for j in range(nc):
                        kq = kbuf[j]
                        u = tbuf[j]
                        tbuf[j] = c0[kq] + u * (c1[kq] + u * (c2[kq] + u * c3[kq]))
                    lanes[:] = 0.0
                    j = 0
                    while j + 8 <= nc:
                        for q in range(8):
                            lanes[q] += tbuf[j + q]
                        j += 8
                    while j < nc:
                        lanes[0] += tbuf[j]
                        j += 1
                    for q in range(8):
                        acc += lanes[q]
                    n_in = 0
                    for j in range(nc):
                        n_in += kbuf[j] < n_iv
                    n_ex += n_in
                else:
                    for j in range(nc):
                        ce = erow[j]
                        if ce > cos_theta:
                            acc += s_unnorm(ce, theta, s_tab, inv_h, use_tab)
                            n_ex += 1
            if do_ssum:
                ssum[i] += acc
            for v in range(nbins):
                tot = 0
                for q in range(N_SUB):
                    tot += sub[q * nbins + v]
                    sub[q * nbins + v] = 0
                hist[i, v] += tot
            if n_cand > 0:
                # Everything within 2*band of the k-th largest float32 cosine may be in
                # the float64 top-k; resolve those in float64.
                if n_cand >= k:
                    vals = np.empty(n_cand, dtype=crow.dtype)  # float64 rows: no rounding before the band
                    for q in range(n_cand):
                        vals[q] = crow[cand[q]]
                    kth = np.float64(_kth_largest(vals, n_cand, k))
                    thr = max(thr, kth - two_band)
                cand_d = np.empty(n_cand, dtype=np.float64)
                cand_i = np.empty(n_cand, dtype=np.int64)
                n = 0
                for q in range(n_cand):
                    jj = cand[q]
                    if np.float64(crow[jj]) >= thr:
                        dot = dot64(a64, i, cx, col0 + jj)
                        n_ex += 1
                        cand_d[n] = math.acos(min(max(dot, -1.0), 1.0)) / math.pi
                        cand_i[n] = gidx0 + col0 + jj
                        n += 1
                sort_by_dist_index(cand_d, cand_i, n)
                merge_row(top_d, top_i, i, cand_d, cand_i, n)
        n_exact[blk] = n_ex


class NumbaReducer:
    """Fused CPU tile reduction: torch float32 GEMM + one numba pass per tile.

    Same interface as :class:`.torch_reducer.TorchReducer`; exact counts,
    curve and top-k with respect to float64 dot products.

    Parameters
    ----------
    plan : Plan
    anchors : (m, D) float32/float64 unit vectors
    anchor_block : int
        Upper bound on the anchors per GEMM tile (the tile is at most
        ``min(anchor_block, tile_rows) x tile_cols``).
    tile_rows, tile_cols : tile shape (see ``TILE_ROWS``, ``TILE_COLS``).
    """

    def __init__(
        self,
        plan: Plan,
        anchors: np.ndarray,
        *,
        anchor_block=2048,
        tile_rows=TILE_ROWS,
        tile_cols=TILE_COLS,
        n_buckets=LUT_BUCKETS,
    ):
        import torch

        self.torch = torch
        self.plan = plan
        self.m, self.dim = anchors.shape
        self.rows = max(1, min(int(anchor_block), int(tile_rows)))
        self.cols = max(1, int(tile_cols))
        self.a32 = torch.from_numpy(np.ascontiguousarray(anchors, dtype=np.float32))
        self.a64 = np.ascontiguousarray(anchors, dtype=np.float64)
        self.cos_theta = math.cos(math.pi * plan.theta) if plan.theta is not None else 2.0
        self.lut = build_bin_lut(
            plan.t_asc, plan.band, math.cos(math.pi * plan.theta) if plan.theta is not None else None, n_buckets
        )
        self.t_asc = np.ascontiguousarray(plan.t_asc, dtype=np.float64)
        self.lut_nt = build_bin_lut(plan.t_asc, plan.band, None, n_buckets)
        # A dense tile is binned from its float64 GEMM directly: only pairs within band64 of a
        # threshold (float64 rounding, any summation order) take a float64 dot product.
        self.band64 = band64(self.dim)
        self.lut_ex = build_bin_lut(plan.t_asc, self.band64, None, n_buckets)
        self.hist = np.zeros((self.m, len(self.t_asc) + 1), dtype=np.int64)
        self.ssum = np.zeros(self.m, dtype=np.float64)
        self.top_d = np.full((self.m, plan.k), np.inf)
        self.top_i = np.full((self.m, plan.k), -1, dtype=np.int64)
        self._buf = torch.empty(self.rows * self.cols, dtype=torch.float32)
        self._buf64 = None  # float64 tile buffer, allocated when a tile is dense
        self._c64 = (None, None, None)  # (float32 chunk, column start, float64 copy of that slice)
        self._dense = {}  # anchor block start -> the previous tile of that block was dense
        tab = build_s_table(plan.theta) if plan.theta is not None else None
        if tab is None:
            self.s_tab, self.inv_h, self.use_tab = np.zeros((4, 2)), 1.0, False
        else:
            self.s_tab, self.inv_h = tab
            self.use_tab = True
        self._no_ex = np.zeros((1, 1))
        self._n_exact = np.zeros(64, dtype=np.int64)
        self.tiles_dense = 0  # diagnostics: tiles that took the float64 GEMM
        self.tiles = 0

    def topk_floor(self):
        """Per anchor, a lower bound on the float32 cosine of anything that can still enter its top-k."""
        k = self.plan.k
        if k == 0:
            return np.full(self.m, np.inf)
        dk = self.top_d[:, k - 1]
        thr = np.full(self.m, -np.inf)
        full = np.isfinite(dk)
        thr[full] = np.cos(np.pi * dk[full]) - self.plan.band - TOPK_MARGIN
        return thr

    def prepare(self, chunk: np.ndarray):
        """(values for the float64 rechecks, float32 torch, float64 torch or None): float32 samples stay float32
        (their float64 dot products are bit for bit those of a float64 copy); dense tiles copy their slice."""
        torch = self.torch
        c32 = torch.from_numpy(np.ascontiguousarray(chunk, dtype=np.float32))
        if chunk.dtype == np.float32:
            return c32.numpy(), c32, None
        cx = np.ascontiguousarray(chunk, dtype=np.float64)
        return cx, c32, torch.from_numpy(cx)

    def add(self, chunk: np.ndarray, offset: int):
        torch = self.torch
        cx, c32, c64 = self.prepare(chunk)
        n = cx.shape[0]
        with ieee_float32(torch):
            for s0 in range(0, n, self.cols):
                s1 = min(n, s0 + self.cols)
                thr = self.topk_floor()
                for b0 in range(0, self.m, self.rows):
                    self.dense_tile(b0, min(self.m, b0 + self.rows), s0, s1, cx, c32, c64, offset, thr)

    def dense_tile(self, b0, b1, s0, s1, cx, c32, c64, offset, thr):
        """Reduce the tile anchors[b0:b1] x chunk[s0:s1] through a float32 (or float64) GEMM and reduce_tile."""
        torch, plan = self.torch, self.plan
        out = self._buf[: (b1 - b0) * (s1 - s0)].view(b1 - b0, s1 - s0)
        ex, use_ex = self._no_ex, False
        dense = self._dense.get(b0)
        if dense is None:  # first tile of these anchors: float32 GEMM, then look
            torch.mm(self.a32[b0:b1], c32[s0:s1].T, out=out)
            dense = (
                plan.theta is not None
                and int(torch.count_nonzero(out > self.cos_theta - plan.band)) > DENSE_FRACTION * out.numel()
            )
            if not dense:
                self._dense[b0] = False
        elif not dense:
            torch.mm(self.a32[b0:b1], c32[s0:s1].T, out=out)
        if dense:
            # One float64 GEMM, binned directly with band64 (no float32 copy of it).
            if self._buf64 is None:
                self._buf64 = torch.empty(self.rows * self.cols, dtype=torch.float64)
            ex64 = self._buf64[: (b1 - b0) * (s1 - s0)].view(b1 - b0, s1 - s0)
            if c64 is None and not (self._c64[0] is cx and self._c64[1] == s0):  # once per float32 slice
                self._c64 = (cx, s0, torch.from_numpy(cx[s0:s1].astype(np.float64)))
            c = c64[s0:s1] if c64 is not None else self._c64[2]
            torch.mm(torch.from_numpy(self.a64[b0:b1]), c.T, out=ex64)
            ex, use_ex = ex64.numpy(), True
            self.tiles_dense += 1
        self.tiles += 1
        self._n_exact[:] = 0
        tile, lut, lut_nt, band = (
            (ex, self.lut_ex, self.lut_ex, self.band64) if use_ex else (out.numpy(), self.lut, self.lut_nt, plan.band)
        )
        reduce_tile(
            tile,
            self.a64,
            cx,
            b0,
            s0,
            int(offset),
            lut,
            lut_nt,
            self.t_asc,
            float(band),
            float(self.cos_theta),
            float(plan.theta or 0.0),
            plan.theta is not None,
            self.hist,
            self.ssum,
            self.top_d,
            self.top_i,
            thr,
            ex,
            use_ex,
            self.s_tab,
            float(self.inv_h),
            self.use_tab,
            self._n_exact,
        )
        self._dense[b0] = int(self._n_exact.sum()) > DENSE_FRACTION * (b1 - b0) * (s1 - s0)

    def result(self, n_samples: int) -> NeighborStats:
        return self.plan.to_stats(self.hist, self.ssum, self.top_d, self.top_i, n_samples)
