"""The low-precision prefilter: its error bound holds on adversarial pairs, and counts stay exact at thresholds.

The adversarial pairs have every component just below the midpoint between two bf16 numbers, so that
rounding to bf16 shrinks every product by almost 2^-7 and the bf16 GEMM underestimates each cosine by
close to the input half of the bound; a pair placed exactly at a threshold is then dropped by any
filter whose bound is too small, which the last test shows by shrinking the bound.
"""

import math

import numpy as np
import pytest
import torch

from bbcollapse.neighbors import neighbor_stats, plan_reducer, prefilter
from bbcollapse.neighbors.prefilter import bf16_error_bound, order_keys, resolve_prefilter, threshold_keys


def needs_bf16():
    if not prefilter.bf16_self_check(128):
        pytest.skip("torch's bf16 GEMM exceeds the bound on this machine: the engine uses float32 here")


def adversarial_unit(dim=128):
    """A unit vector (to 1e-6) whose nonzero components all round down to bf16 by almost half a bf16 step."""
    vals, counts, rest = [], [], 1.0
    for e in range(-3, -14, -1):
        v = float(np.float32(2.0**e * (1 + 2.0**-8) * (1 - 2.0**-16)))  # just below the midpoint above 2^e
        n = int(rest // (v * v))
        vals.append(v)
        counts.append(n)
        rest -= n * v * v
    x = np.concatenate([np.full(n, v) for v, n in zip(vals, counts)])
    assert x.size <= dim and abs(rest) < 1e-6
    return np.concatenate([x, np.zeros(dim - x.size)])


def adversarial_pairs(rng, n=400, dim=128):
    """Anchor a and samples b_j (permutations of a's components) with a . b_j spread over [0.3, 0.97]."""
    a = adversarial_unit(dim)
    out = []
    while len(out) < n:
        b = a[rng.permutation(dim)]
        if 0.3 <= a @ b <= 0.97:
            out.append(b)
    return a[None, :], np.array(out)


def bf16_cosines(a, b):
    ta = torch.from_numpy(a.astype(np.float32)).to(torch.bfloat16)
    tb = torch.from_numpy(b.astype(np.float32)).to(torch.bfloat16)
    return torch.mm(ta, tb.T).double().numpy()


def test_bound_value_and_growth():
    # 2u from the inputs plus 2u from the output (u = 2^-8), a little more for the float32 sum
    assert 4 * 2.0**-8 < bf16_error_bound(128) < 4.1 * 2.0**-8
    assert bf16_error_bound(4096) > bf16_error_bound(128) > bf16_error_bound(16)


def test_adversarial_pairs_stay_within_the_bound_and_come_close_to_it(rng):
    a, b = adversarial_pairs(rng)
    exact = a @ b.T
    err = bf16_cosines(a, b) - exact
    bound = bf16_error_bound(128)
    assert np.abs(err).max() <= bound
    # every pair underestimated, the worst by more than a third of the bound: the pairs are adversarial
    assert (err < 0).all() and -err.min() > bound / 3
    # random pairs, for contrast, stay far inside
    x = rng.standard_normal((300, 128))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    assert np.abs(bf16_cosines(x, x) - x @ x.T).max() < bound / 2


def counts_at_worst_pairs(a, b, n_worst=12, **kw):
    """Radii at the float64 distances of the pairs bf16 underestimates most (exactly, one step inside, one outside).

    One radius per run: the filter tests the lowest threshold an anchor asked for, so a pair is at
    risk only when it sits at that threshold.
    """
    exact = (a @ b.T)[0]
    worst = np.argsort(bf16_cosines(a, b)[0] - exact)[:n_worst]
    d = np.arccos(np.clip(exact[worst], -1, 1)) / math.pi
    got, ref = [], []
    for r in np.concatenate([d, np.nextafter(d, 1), np.nextafter(d, 0)]):
        got.append(neighbor_stats(a, b, radii=(r,), curve_anchors=[], **kw).counts[0, 0])
        ref.append(int((a @ b.T >= math.cos(math.pi * r)).sum()))
    return np.array(got), np.array(ref)


def test_counts_at_thresholds_equal_float64_with_the_bf16_prefilter(rng):
    needs_bf16()
    a, b = adversarial_pairs(rng)
    for pf in ("bf16", "float32"):
        got, ref = counts_at_worst_pairs(a, b, prefilter=pf)
        np.testing.assert_array_equal(got, ref)


def test_a_bound_too_small_loses_pairs_at_thresholds(rng, monkeypatch):
    """The check above can fail: a filter without the bound drops adversarial pairs at a threshold."""
    needs_bf16()
    a, b = adversarial_pairs(rng)
    monkeypatch.setattr(plan_reducer, "bf16_error_bound", lambda dim: 0.0)
    got, ref = counts_at_worst_pairs(a, b, prefilter="bf16")
    assert (got < ref).any()


def all_bf16():
    bits = np.arange(-(2**15), 2**15, dtype=np.int64).astype(np.int16)
    vals = torch.from_numpy(bits.copy()).view(torch.bfloat16).double().numpy()
    keep = ~np.isnan(vals)
    return bits[keep], vals[keep]


def test_order_keys_sort_like_the_floats():
    bits, vals = all_bf16()
    keys = order_keys(bits).astype(np.int64)
    o = np.argsort(vals, kind="stable")
    assert (np.diff(keys[o]) >= 0).all() or (np.diff(keys[o])[np.diff(vals[o]) > 0] > 0).all()
    assert (np.diff(vals[np.argsort(keys)]) >= 0).all()  # sorting by key sorts the values
    f = np.random.default_rng(0).standard_normal(10_000).astype(np.float32)
    assert (np.diff(f[np.argsort(order_keys(f.view(np.int32)))]) >= 0).all()


@pytest.mark.parametrize("x", [0.0, -0.0, 0.5712, -0.3, 1e-30, -np.inf, np.inf, 0.99999, -1.02])
def test_threshold_keys_keep_every_value_at_or_above_the_threshold(x):
    """Exhaustive over bf16: every value >= x passes; for float32 over values near x."""
    bits, vals = all_bf16()
    k = threshold_keys(np.array([x]), "bf16")[0]
    passes = order_keys(bits) >= k
    if x == np.inf:  # an anchor that asked for nothing: no pair passes
        assert not passes.any()
        return
    assert passes[vals >= x].all()
    if np.isfinite(x):
        assert not passes[vals < x - 0.02 * max(1.0, abs(x))].any()  # and the filter still filters
    f = (x + np.linspace(-1e-6, 1e-6, 2001)).astype(np.float32) if np.isfinite(x) else np.float32([x])
    k32 = threshold_keys(np.array([x]), "float32")[0]
    assert (order_keys(f.view(np.int32))[f.astype(np.float64) >= x] >= k32).all()


def test_isa_detection_falls_back_to_float32(monkeypatch):
    monkeypatch.setattr(prefilter, "fast_bf16", lambda: False)
    assert resolve_prefilter("auto", 128) == "float32"
    with pytest.raises(ValueError, match="prefilter"):
        resolve_prefilter("fp8", 128)
    flags = prefilter.cpu_flags()
    expected = any(f in flags for f in ("avx512_bf16", "amx_bf16"))
    monkeypatch.undo()
    assert (resolve_prefilter("auto", 128) == "bf16") == (
        expected and prefilter.fast_bf16() and prefilter.bf16_self_check(128)
    )


def test_bench_isa_cap_turns_the_prefilter_to_float32():
    """``bench/run.py --isa avx2`` caps torch, MKL and oneDNN before they load: torch then runs AVX2 kernels,
    reports no fast bf16, and the prefilter's "auto" takes float32 (the issue's AVX2 case, on a newer CPU)."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    code = (
        "import json, os, sys; sys.path.insert(0, 'bench'); import run; run.cap_isa('avx2'); "
        "import torch; from bbcollapse.neighbors.prefilter import fast_bf16, resolve_prefilter; "
        "print(json.dumps([torch.backends.cpu.get_cpu_capability(), fast_bf16(), resolve_prefilter('auto', 128), "
        "os.environ['BBCOLLAPSE_BENCH_ISA'], run._machine_line()]))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    capability, fast, auto, cap, line = json.loads(out.stdout.strip().splitlines()[-1])
    assert capability in ("AVX2", "DEFAULT") and not fast and auto == "float32" and cap == "avx2"
    assert "capped at AVX2" in line
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_run_under_test", root / "bench" / "run.py")
    run = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run)
    with pytest.raises(RuntimeError, match="before torch"):  # torch is loaded in this process: too late
        run.cap_isa("avx2")
