"""Why the all-statistics path keeps its float32 GEMM: the split-bf16 probe of the ceiling section (issue 20).

The bf16 GEMM (AMX) runs at about 4x the float32 rate here, but one bf16 product is off by up to 0.016
in cosine, and the curve's thresholds lie 0.03 apart.  Splitting each vector into two bf16 parts,
``x = h + l + r`` (both rounded to nearest-even; ``|r| <= (2^-16 + 2^-24) |x|``), and multiplying
``[h_a, h_a, l_a]`` by ``[h_b, l_b, h_b]`` (inner dimension 3D) brings the float32 sum within
:func:`split_error_bound` (6.9e-5 at D = 128) of the exact cosine.  But torch's CPU GEMM of bf16
operands writes bf16 (``out_dtype`` is not implemented on the CPU), and that rounding is relative:
an output v stands for any exact cosine in ``v +- (2^-7 |v| + E)`` (any faithful rounding; half that
relative term if the output rounds to nearest).  A pair whose interval holds one of the curve's
thresholds cannot be binned from the tile and needs a float32 (and, near a threshold, float64) dot
product of its own.  This probe measures, on the ceiling's planted tile: the split GEMM's time, the
fraction of such *undecided* pairs (with faithful and with nearest rounding), the cost of a float32
dot product per undecided pair (in a warm cache), and the largest error it saw against float64 as a
fraction of the bound.  The split path's floor is then the split GEMM plus the binning floor plus the
undecided pairs' dot products (plus the s-sum region, as for the float32 path).

A GEMM that *writes float32* from bf16 operands would leave no pair undecided.  torch does not expose
one, but its CPU library carries MKL's ``cblas_gemm_bf16bf16f32`` (AMX kernels); :func:`mkl_bf16_gemm`
binds it through ctypes, and the probe times the split GEMM through it too (``gemm_split_f32``; NaN where
the symbol is missing) and checks its output against float64 within :func:`split_error_bound`.
"""

from __future__ import annotations

import ctypes
import functools
import os

import numpy as np
from numba import njit

from bbcollapse.neighbors.prefilter import U_BF16, U_F32

REL_OUT = 2.0**-7  # faithful rounding to bf16: |s - v| <= 2^-7 |v|
_TINY = 2.0**-125


def split_error_bound(dim: int, norm_tol: float = 1e-5) -> float:
    """Bound on |s - a.b| for the float32 sum s of the split-bf16 GEMM (before its bf16 output).

    With x rounded to float32 (v = 2^-24), ``h = bf16(x)``, ``l = bf16(x - h)`` (``x - h`` exact),
    ``x = h + l + r``: ``|l| <= u (1 + u)(1 + v) |x|``, ``|r| <= e |x|``, ``e = u^2 (1 + v) + v``,
    u = 2^-8.  The GEMM sums ``a.b - l_a l_b - (h_a + l_a) r_b - r_a b``; the dropped terms are at most
    ``N (u^2 (1 + u)^2 (1 + v)^2 + 2 e + e^2)`` with ``N = (1 + norm_tol)^2 >= sum |a_i b_i|``; the 3D
    products of bf16 numbers are exact in float32 and their sum in any order is off by at most
    ``gamma_3D N (1 + u)^2 (1 + v)^2 (1 + 2u)``; denormals flushed to zero cost at most 2^-126 per
    operand and product, and the float64 reference ``gamma_D N``.  1% slack.
    """
    n = (1.0 + norm_tol) ** 2
    u, v = U_BF16, U_F32
    e = u * u * (1.0 + v) + v
    dropped = n * (u * u * (1.0 + u) ** 2 * (1.0 + v) ** 2 + 2.0 * e + e * e)
    gamma = 3 * dim * v / (1.0 - 3 * dim * v)
    magnitude = n * (1.0 + u) ** 2 * (1.0 + v) ** 2 * (1.0 + 2.0 * u)
    e_tiny = 4.0 * 3 * dim * 2.0**-126
    e_ref = n * dim * 2.0**-53 / (1.0 - dim * 2.0**-53)
    return 1.01 * (dropped + gamma * magnitude + e_tiny + e_ref)


def rne_bf16(x32: np.ndarray) -> np.ndarray:
    """float32 -> nearest bf16 (ties to even) as float32, by integer arithmetic (finite |x| < 2^127)."""
    b = np.ascontiguousarray(x32, dtype=np.float32).view(np.uint32)
    r = (b + np.uint32(0x7FFF) + ((b >> np.uint32(16)) & np.uint32(1))) & np.uint32(0xFFFF0000)
    return r.view(np.float32)


def split_operand(x: np.ndarray, order: str):
    """(n, 3D) bf16 torch tensor: ``[h, h, l]`` (order "a") or ``[h, l, h]`` ("b")."""
    import torch

    x32 = np.ascontiguousarray(x, dtype=np.float32)
    h = rne_bf16(x32)
    lo = rne_bf16(x32 - h)
    parts = (h, h, lo) if order == "a" else (h, lo, h)
    bits = np.concatenate([(p.view(np.uint32) >> np.uint32(16)).astype(np.uint16) for p in parts], axis=1)
    return torch.from_numpy(bits.view(np.int16)).view(torch.bfloat16)


def undecided_table(t_asc: np.ndarray, err: float, rel: float) -> np.ndarray:
    """(65536,) bool over bf16 bit patterns: the interval ``v +- (rel |v| + err)`` holds a threshold (or v is
    not finite)."""
    bits = np.arange(65536, dtype=np.uint32) << np.uint32(16)
    with np.errstate(invalid="ignore"):  # signalling NaN patterns
        val = bits.view(np.float32).astype(np.float64)
    fin = np.isfinite(val)
    v0 = np.where(fin, val, 0.0)
    w = rel * np.abs(v0) + err + _TINY
    return (np.searchsorted(t_asc, v0 + w, side="right") > np.searchsorted(t_asc, v0 - w, side="left")) | ~fin


@functools.lru_cache(maxsize=1)
def mkl_bf16_gemm():
    """MKL's ``cblas_gemm_bf16bf16f32`` (bf16 operands, float32 sum and output) from torch's CPU library, or None."""
    try:
        import torch

        fn = ctypes.CDLL(os.path.join(os.path.dirname(torch.__file__), "lib", "libtorch_cpu.so")).cblas_gemm_bf16bf16f32
    except (OSError, AttributeError, ImportError):
        return None
    i, p = ctypes.c_int, ctypes.c_void_p
    fn.restype, fn.argtypes = None, [i, i, i, i, i, i, ctypes.c_float, p, i, p, i, ctypes.c_float, p, i]
    return fn


def split_gemm_f32(sa, sc, out: np.ndarray) -> np.ndarray:
    """out (m, n) float32 = sa . sc^T for bf16 torch tensors sa (m, K), sc (n, K), through MKL (row-major, B^T)."""
    m, k = sa.shape
    n = sc.shape[0]
    fn = mkl_bf16_gemm()
    fits = fn is not None and sc.shape[1] == k and sa.is_contiguous() and sc.is_contiguous()
    if not fits or out.shape != (m, n) or out.dtype != np.float32 or not out.flags.c_contiguous:
        raise ValueError(f"split_gemm_f32: {tuple(sa.shape)} x {tuple(sc.shape)} -> {out.shape} (MKL found: {fn})")
    fn(101, 111, 112, m, n, k, 1.0, sa.data_ptr(), k, sc.data_ptr(), k, 0.0, out.ctypes.data, n)
    return out


@njit(fastmath={"reassoc"})
def dot_rows(a32, c32, ii, jj):
    """float32 dot products of the pairs (ii[q], jj[q]), summed (what each undecided pair needs at least)."""
    tot = 0.0
    for q in range(ii.shape[0]):
        s = np.float32(0.0)
        for t in range(a32.shape[1]):
            s += a32[ii[q], t] * c32[jj[q], t]
        tot += s
    return tot


def split_probe(a32: np.ndarray, c32: np.ndarray, t_asc: np.ndarray, cpu_best, reps: int, window: float) -> dict:
    """Split-bf16 GEMM time (ns/pair), undecided fractions, float32 dot per undecided pair (ns), error / bound."""
    import torch

    rows, cols = a32.shape[0], c32.shape[0]
    sa, sc = split_operand(a32, "a"), split_operand(c32, "b")
    out = torch.empty(rows, cols, dtype=torch.bfloat16)
    ns = 1e9 / (rows * cols)
    gemm = cpu_best(lambda: torch.mm(sa, sc.T, out=out), reps, window) * ns
    u16 = out.view(torch.int16).numpy().view(np.uint16)
    err = split_error_bound(a32.shape[1])
    faithful = undecided_table(t_asc, err, REL_OUT)[u16]
    nearest = undecided_table(t_asc, err, REL_OUT / 2)[u16]
    ii, jj = np.nonzero(faithful)
    dot_ns = np.nan
    if ii.size:
        ii, jj = np.ascontiguousarray(ii), np.ascontiguousarray(jj)
        dot_rows(a32, c32, ii[:8], jj[:8])
        dot_ns = cpu_best(lambda: dot_rows(a32, c32, ii, jj), reps, window) * 1e9 / ii.size
    v = out.to(torch.float64).numpy()
    exact = a32.astype(np.float64) @ c32.astype(np.float64).T
    used = np.abs(v - exact) - REL_OUT * np.abs(v)  # the part the output rounding does not explain
    f32 = dict(gemm_split_f32=np.nan, split_f32_error_used=np.nan)
    if mkl_bf16_gemm() is not None:
        o32 = np.empty((rows, cols), dtype=np.float32)
        f32["gemm_split_f32"] = cpu_best(lambda: split_gemm_f32(sa, sc, o32), reps, window) * ns
        f32["split_f32_error_used"] = float(np.abs(o32 - exact).max() / err)
    return f32 | dict(
        gemm_split=gemm,
        split_undecided=float(faithful.mean()),
        split_undecided_nearest=float(nearest.mean()),
        split_dot_ns=float(dot_ns),
        split_bound=err,
        split_error_used=float(used.max() / err),
    )
