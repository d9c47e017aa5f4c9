"""Lookup tables of the fused CPU kernel (numpy only): cosine bucket -> histogram bin, and the
similarity kernel of Eq. 6 as piecewise cubics in t = sqrt(1 - cos)."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["LUT_BUCKETS", "S_TABLE_NODES", "SPECIAL", "build_bin_lut", "build_s_table"]

#: Number of buckets of the cosine -> histogram-bin lookup table.  More buckets send fewer pairs to
#: the slow path (a bucket within the error band of a threshold): 32,768 cut its cost from
#: 0.14-0.18 to 0.06-0.07 ns/pair against 8,192 (one thread, planted tile); the int8 table is
#: 32 KiB, within L1 (65,536 took the slow path to 0.02 but slowed the fast path by 0.05).
LUT_BUCKETS = 32768
#: Nodes of the cubic-Hermite table of the similarity kernel (see :func:`build_s_table`).
S_TABLE_NODES = 4096
#: Lookup-table entry of a bucket that takes the slow (float64 recheck) path.
SPECIAL = -1


def build_bin_lut(t_asc: np.ndarray, band: float, cos_theta: float | None, n_buckets: int = LUT_BUCKETS):
    """Lookup table: bucket of a float32 cosine -> histogram bin, or -1 (slow path).

    Bucket ``b = floor((c + 1) * n_buckets / 2)`` (clamped) covers
    ``[b/S - 1, (b+1)/S - 1)`` with ``S = n_buckets / 2``, up to the rounding of the
    float32 bucket computation.  We widen that range by 1/64 bucket (more than that
    rounding) and by ``band`` (float32 GEMM error);
    a bucket is *clean* when no threshold lies in the widened range, and then every
    cosine in it - float32 or the exact float64 one - has the same bin: the number
    of thresholds below it.  Buckets reaching into the similarity region
    ``cos > cos(pi theta) - band`` are special too, so the fast path does one load.

    Returns
    -------
    lut : (n_buckets,) int8 where the bins fit (at most 126 thresholds), else int16 or int32
        The narrowest type keeps the table in L1 next to the histograms: an int8 table makes
        the kernel's fast path 0.67 instead of 0.76 ns/pair (one thread, planted tile).
    """
    if not 2 <= int(n_buckets) <= 2**16:
        raise ValueError(f"n_buckets must lie in [2, 65536] (the kernel's buckets are uint16); got {n_buckets}")
    s = n_buckets / 2.0
    # x = c * s + s in float32: c * s is exact (s is a power of two) and the sum rounds by at
    # most ulp(2 s) / 2 = n_buckets * 2**-25 buckets (<= 1/128 for n_buckets <= 2**18): widen by 1/64.
    w = 1.0 / s / 64.0
    b = np.arange(n_buckets, dtype=np.float64)
    lo = b / s - 1.0 - w - band
    hi = (b + 1.0) / s - 1.0 + w + band
    lo[0] = -np.inf
    hi[-1] = np.inf
    first_ge_lo = np.searchsorted(t_asc, lo, side="left")  # #thresholds < lo
    count_le_hi = np.searchsorted(t_asc, hi, side="right")  # #thresholds <= hi
    special = count_le_hi > first_ge_lo
    if cos_theta is not None:
        special |= hi > cos_theta - band
    nbins = len(t_asc) + 1
    dtype = next(t for t in (np.int8, np.int16, np.int32) if nbins <= np.iinfo(t).max)
    return np.where(special, SPECIAL, first_ge_lo).astype(dtype)


def build_s_table(theta: float, n_nodes: int = S_TABLE_NODES):
    """Piecewise-cubic table of the unnormalised kernel ``expm1(theta - d)`` in ``t = sqrt(1 - cos)``.

    ``d = arccos(c) / pi = (2 / pi) asin(t / sqrt 2)`` is smooth in ``t`` (whereas arccos
    has a square-root singularity at c = 1), so the cubic Hermite interpolant with exact
    node values and derivatives is accurate to ~h^4: with 4096 nodes, within 1e-14 of
    ``expm1(theta - arccos(c) / pi)`` for theta <= 0.7 (measured in the tests).  Each
    interval's cubic is stored in monomial form in its local coordinate ``u`` in [0, 1),
    one row per power, so evaluation is three multiply-adds after one gather per power
    (column ``n_nodes`` is a zero sentinel: clamping ``x = t / h`` to ``n_nodes`` gives 0
    beyond the kernel, where the interpolant is also 0 since ``f = 0`` at its edge
    ``t_max = sqrt(1 - cos(pi theta))``).

    Returns ``(coef (4, n_nodes + 1), 1 / h)``, or None when theta > 0.7: ``t_max``
    then nears sqrt 2, where ``d'(t)`` diverges, and the kernel evaluates arccos and expm1
    directly; None too when theta is so small that ``cos(pi theta)`` rounds to 1 in float64
    (theta below about 1e-8: the table would have width 0), where direct evaluation is exact
    to round-off as well.
    """
    if theta > 0.7:
        return None
    t_max = math.sqrt(1.0 - math.cos(math.pi * theta))
    if t_max == 0.0:
        return None
    t = np.linspace(0.0, t_max, n_nodes + 1)
    d = (2.0 / math.pi) * np.arcsin(t / math.sqrt(2.0))
    f = np.expm1(np.maximum(0.0, theta - d))
    dd = (2.0 / math.pi) / math.sqrt(2.0) / np.sqrt(1.0 - t * t / 2.0)
    h = t_max / n_nodes
    fp = -np.exp(theta - d) * dd * h  # df/du on the unit interval
    f0, f1, d0, d1 = f[:-1], f[1:], fp[:-1], fp[1:]
    coef = np.zeros((4, n_nodes + 1))
    coef[0, :-1] = f0
    coef[1, :-1] = d0
    coef[2, :-1] = 3.0 * (f1 - f0) - 2.0 * d0 - d1
    coef[3, :-1] = 2.0 * (f0 - f1) + d0 + d1
    return coef, n_nodes / t_max
