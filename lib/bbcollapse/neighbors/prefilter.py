"""The low-precision prefilter of the plan-aware engine: a bf16 GEMM with a proven error bound.

Where the CPU multiplies bfloat16 fast (AVX512_BF16 or AMX; oneDNN behind ``torch.mm``), the
cosine tile of the anchors that need no curve is computed in bf16, and a pair is dropped when
its bf16 cosine lies more than :func:`bf16_error_bound` below every threshold its anchor asked
for.  Survivors are recomputed as float64 dot products, so every statistic stays exact against
a float64 brute force.  Elsewhere the same filter runs on the float32 GEMM with the float32 band
:func:`~.stats.error_band`.  Implements no equation of the paper; it decides which pairs the
statistics of Eqs. 6-9 need.

**The bound** (unit vectors a, b of dimension D, norms within ``UNIT_TOL`` of 1, so that
``sum |a_i b_i| <= N = (1 + UNIT_TOL)^2`` by Cauchy-Schwarz; u = 2^-8 is bf16's unit roundoff,
8 significant bits; v = 2^-24 float32's):

1. inputs are rounded to float32 and then to bf16 to nearest-even: ``|a^_i - a_i| <= u_in |a_i|``
   with ``u_in = u + 2v`` (the double rounding);
2. a product of two bf16 numbers is exact in float32 (8 + 8 significant bits <= 24), so the
   GEMM's only rounding is the float32 accumulation, in any order (blocked, AMX tile pairs):
   at most ``gamma_D sum |a^_i b^_i|`` with ``gamma_D = D v / (1 - D v)``;
3. together ``|s - a.b| <= e_in = N ((1 + u_in)^2 (1 + gamma_D) - 1)``;
4. the float32 sum is written out as bf16: we allow any faithful rounding (``2u`` relative,
   which covers truncation as well as nearest-even): ``e_out = 2u (N + e_in)``;
5. denormals flushed to zero (DAZ/FTZ of the bf16 instructions) change each product by at most
   2^-126 in absolute value, and the float64 reference dot itself is within ``gamma64_D N`` of a.b.

For D = 128 this gives 0.0157 in cosine (0.0078 from the inputs, 0.0079 from the output).
:func:`bf16_self_check` compares a bf16 GEMM with float64 on the running machine before the
prefilter is trusted, and tests/test_prefilter.py places pairs where bf16 rounding pushes them
across a threshold.
"""

from __future__ import annotations

import functools

import numpy as np

from ..distance import UNIT_TOL

__all__ = ["PREFILTERS", "bf16_error_bound", "cpu_flags", "fast_bf16", "order_keys", "resolve_prefilter"]

#: Values of the engine's ``prefilter`` argument.
PREFILTERS = ("auto", "bf16", "float32")
U_BF16 = 2.0**-8
U_F32 = 2.0**-24
_TINY = 2.0**-126
_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


@functools.lru_cache(maxsize=1)
def cpu_flags() -> frozenset:
    """The CPU's ISA flags from /proc/cpuinfo (empty where there is none, e.g. macOS)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def bf16_error_bound(dim: int, norm_tol: float = UNIT_TOL) -> float:
    """Bound on |bf16-GEMM cosine - exact cosine| for vectors of norm within ``norm_tol`` of 1 (see module doc)."""
    n = (1.0 + norm_tol) ** 2
    gamma = dim * U_F32 / (1.0 - dim * U_F32)
    u_in = U_BF16 + 2.0 * U_F32
    e_in = n * ((1.0 + u_in) ** 2 * (1.0 + gamma) - 1.0)
    e_out = 2.0 * U_BF16 * (n + e_in)
    e_tiny = 4.0 * dim * _TINY
    e_ref = n * dim * 2.0**-53 / (1.0 - dim * 2.0**-53)
    return 1.01 * (e_in + e_out + e_tiny + e_ref)


@functools.lru_cache(maxsize=1)
def fast_bf16() -> bool:
    """Whether this CPU has bf16 dot-product instructions (AVX512_BF16 or AMX-BF16) that torch's oneDNN uses."""
    if not any(f in cpu_flags() for f in _BF16_FLAGS):
        return False
    try:
        import torch

        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except Exception:  # pragma: no cover - torch without oneDNN
        return False


@functools.lru_cache(maxsize=8)
def bf16_self_check(dim: int, n: int = 512, seed: int = 0) -> bool:
    """A bf16 ``torch.mm`` of random and near-parallel unit vectors stays within the bound of float64."""
    import torch

    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, dim))
    x[n // 2 :] = x[0] + 0.05 * x[n // 2 :]  # near-parallel pairs: cosines near 1, largest output rounding
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    x32 = x.astype(np.float32)
    exact = x32.astype(np.float64) @ x32.astype(np.float64).T
    t = torch.from_numpy(x32).to(torch.bfloat16)
    approx = torch.mm(t, t.T).float().numpy().astype(np.float64)
    return bool(np.abs(approx - exact).max() <= bf16_error_bound(dim))


def resolve_prefilter(prefilter: str, dim: int) -> str:
    """``"auto"`` -> ``"bf16"`` where the CPU has fast bf16 and the self-check passes, else ``"float32"``."""
    if prefilter not in PREFILTERS:
        raise ValueError(f"prefilter must be one of {PREFILTERS}; got {prefilter!r}")
    if prefilter == "auto":
        return "bf16" if fast_bf16() and bf16_self_check(dim) else "float32"
    if prefilter == "bf16" and not bf16_self_check(dim):
        raise RuntimeError("the bf16 GEMM of this torch build exceeds the documented error bound; use 'float32'")
    return prefilter


def order_keys(bits: np.ndarray) -> np.ndarray:
    """Signed-integer keys of float bit patterns (int16 for bf16, int32 for float32) in the floats' order."""
    shift = np.array(bits.dtype.itemsize * 8 - 1, dtype=bits.dtype)
    mask = np.array(np.iinfo(bits.dtype).max, dtype=bits.dtype)
    return bits ^ ((bits >> shift) & mask)


def threshold_keys(x: np.ndarray, precision: str) -> np.ndarray:
    """Keys of the largest bf16 / float32 value <= each float64 ``x`` (-0 for a zero, so that -0 passes too).

    A pair passes the filter when ``order_keys(value) >= key``; ``x = -inf`` passes everything,
    ``x = +inf`` (an anchor that asked for nothing) nothing.
    """
    import torch

    x = np.asarray(x, dtype=np.float64)
    if precision == "bf16":
        r = torch.from_numpy(x).to(torch.float32).to(torch.bfloat16)
        bits, back = r.view(torch.int16).numpy(), r.to(torch.float64).numpy()
        lo, hi = np.iinfo(np.int16).min, np.iinfo(np.int16).max
    else:
        r = x.astype(np.float32)
        bits, back = r.view(np.int32), r.astype(np.float64)
        lo, hi = np.iinfo(np.int32).min, np.iinfo(np.int32).max
    keys = order_keys(bits).astype(np.int64)
    keys -= back > x  # rounded up: one step down (keys of adjacent floats differ by one)
    keys[(keys == 0) | (back == 0)] = -1  # the key of -0: a zero threshold keeps both zeros
    keys[np.isneginf(x)] = lo
    keys[np.isposinf(x)] = hi
    return np.clip(keys, lo, hi).astype(bits.dtype)
