"""Top-k helpers of the fused kernels (numba): a k-th largest by heap, a (distance, index) heapsort and a merge.

Used by :func:`.numba_reducer.reduce_tile` and :func:`.sparse_kernel.sparse_tile`: candidates of a row are
recomputed in float64, sorted by (distance, global index) and merged into the row's running top-k.
"""

from __future__ import annotations

from numba import njit

from .numba_cache import cache_kernels

__all__ = ["kth_largest", "merge_row", "sort_by_dist_index"]

_CACHE = cache_kernels()


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
def kth_largest(vals, n, k):
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
