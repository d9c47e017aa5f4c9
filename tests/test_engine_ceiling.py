"""The bench's ceiling probe (bench/engine_ceiling.py): its floor kernels compute what they claim, against numpy."""

import math
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import engine_ceiling as ec  # noqa: E402  (bench/ is a folder of scripts, not a package)


@pytest.fixture(scope="module")
def tile():
    rng = np.random.default_rng(0)
    return np.ascontiguousarray(rng.uniform(-1, 1, (70, 4096)).astype(np.float32))


def test_floor_compare_counts_pairs_at_or_above_the_threshold(tile):
    t = np.float32(0.25)
    tile = tile.copy()
    tile[3, :10] = t  # ties count
    assert ec.floor_compare(tile, t) == int((tile >= t).sum())


def test_floor_histogram_bins_every_pair_through_the_table(tile):
    from bbcollapse import PAPER_GRID
    from bbcollapse.neighbors.plan import Plan
    from bbcollapse.neighbors.tables import LUT_BUCKETS, build_bin_lut

    plan = Plan(radii=np.array([0.25]), grid=np.asarray(PAPER_GRID), theta=None, k=0, dim=128)
    lut = np.maximum(build_bin_lut(plan.t_asc, plan.band, None, LUT_BUCKETS), 0).astype(np.int32)
    nbins = len(plan.t_asc) + 1
    assert ec.floor_histogram(tile, lut, nbins, LUT_BUCKETS) == tile.size  # every pair lands in exactly one bin


def test_floor_ssum_is_the_kernel_summed_over_the_tile(tile):
    from bbcollapse.neighbors.tables import build_s_table

    theta = 0.3
    s_tab, inv_h = build_s_table(theta)
    ex = tile[:8].astype(np.float64)
    d = np.arccos(np.clip(ex, -1, 1)) / np.pi
    want = np.expm1(np.maximum(0.0, theta - d)).sum()
    assert ec.floor_ssum(ex, s_tab, inv_h) == pytest.approx(want, rel=1e-12)


def test_verdict_and_report_follow_the_figures():
    assert ec.verdict(1.55, 1.6).startswith("reachable")
    assert ec.verdict(3.9, 2.5).startswith("out of reach")
    part = dict(
        gemm32=2.0, gemm64=4.0, gemm_bf16=0.4, reduce=2.0, fast_binning=1.2, topk=0.2, near_threshold=0.2,
        ssum_region=0.4, float64_per_pair=0.004, floor_compare=0.3, floor_histogram=1.0, dense=False,
        gemm_split=0.8, split_undecided=0.02, split_undecided_nearest=0.01, split_dot_ns=14.0, split_bound=7e-5,
        split_error_used=0.1, gemm_split_f32=1.0, split_f32_error_used=0.05,
    )  # fmt: skip
    c = dict(
        tile=[2048, 4096], planted=part, clustered=dict(part, dense=True, floor_ssum=2.0), all_stats_now=2.0,
        all_stats_ceiling=1.5, all_stats_read_once=1.15, all_stats_exact_ceiling=1.55, all_stats_split_floor=1.4,
        all_stats_split_f32_floor=1.6, clustered_now=3.0, clustered_ceiling=3.6, clustered_read_once=2.15,
        load_average=[1.0, 1.0, 1.0],
    )  # fmt: skip
    out = ec.format_ceiling(c)
    assert "target 1.6x reachable in principle (ceiling 1.55x <= 1.6x)" in out
    assert "target 2.5x out of reach on this machine (ceiling 3.60x > 2.5x)" in out
    assert not math.isnan(c["clustered_ceiling"])
    assert "1.000 (0.50x float32); floor of that path 1.60x" in out


def test_mkl_float32_output_split_gemm_stays_within_the_bound():
    """MKL's bf16 -> float32 GEMM on split operands (bench/engine_split.py) is within split_error_bound of float64."""
    import torch

    import engine_split as es

    if es.mkl_bf16_gemm() is None:
        pytest.skip("this torch build carries no MKL cblas_gemm_bf16bf16f32")
    rng = np.random.default_rng(3)
    x = rng.standard_normal((192, 128))
    x[64:128] = x[0] + 0.01 * x[64:128]  # cosines near 1
    x[128:] = -x[:64] + 1e-3 * x[128:]  # near -1
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    exact = x.astype(np.float32).astype(np.float64) @ x.astype(np.float32).astype(np.float64).T
    out = es.split_gemm_f32(es.split_operand(x, "a"), es.split_operand(x, "b"), np.empty((192, 192), np.float32))
    err = np.abs(out - exact).max()
    assert err <= es.split_error_bound(128)
    # one bf16 part per vector is far outside it: the bound is not loose enough to pass anything
    h = torch.from_numpy(es.rne_bf16(x.astype(np.float32))).to(torch.bfloat16).contiguous()
    one = es.split_gemm_f32(h, h, np.empty((192, 192), np.float32))
    assert np.abs(one - exact).max() > 10 * es.split_error_bound(128)
    with pytest.raises(ValueError):
        es.split_gemm_f32(h, h, np.empty((192, 191), np.float32))


def test_split_bf16_gemm_stays_within_its_bound_and_one_part_does_not():
    """The split probe's bound (bench/engine_split.py) holds for the GEMM it times; a single bf16 part breaks it."""
    import torch

    import engine_split as es

    rng = np.random.default_rng(1)
    x = rng.standard_normal((256, 128))
    x[128:] = x[0] + 0.05 * x[128:]  # near-parallel: cosines near 1, where the output rounding is largest
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    exact = x @ x.T
    err = es.split_error_bound(128)
    v = torch.mm(es.split_operand(x, "a"), es.split_operand(x, "b").T).double().numpy()
    assert np.all(np.abs(v - exact) <= es.REL_OUT * np.abs(v) + err)
    h = torch.from_numpy(es.rne_bf16(x.astype(np.float32)))
    one = torch.mm(h.to(torch.bfloat16), h.to(torch.bfloat16).T).double().numpy()
    assert np.any(np.abs(one - exact) > es.REL_OUT * np.abs(one) + err)


def test_rne_bf16_is_round_to_nearest_even():
    import torch

    import engine_split as es

    rng = np.random.default_rng(2)
    x = rng.standard_normal(20000).astype(np.float32)
    ties = (rng.integers(0x0080, 0x7F00, 2000).astype(np.uint32) << np.uint32(16)) | np.uint32(0x8000)  # exact halves
    x = np.concatenate([x, ties.view(np.float32)])
    want = torch.from_numpy(x).to(torch.bfloat16).float().numpy()
    np.testing.assert_array_equal(es.rne_bf16(x), want)
    # and by definition: no bf16 number is nearer
    r = es.rne_bf16(x).astype(np.float64)
    ulp = 2.0 ** (np.floor(np.log2(np.abs(r))) - 7)
    assert np.all(np.abs(r - x) <= ulp / 2)


def test_undecided_table_matches_a_direct_check():
    import engine_split as es

    t = np.sort(np.cos(np.pi * np.linspace(0, 0.5, 41)))
    err, rel = 7e-5, 2.0**-7
    tab = es.undecided_table(t, err, rel)
    pat = np.arange(65536, dtype=np.uint32) << np.uint32(16)
    with np.errstate(invalid="ignore"):
        val = pat.view(np.float32).astype(np.float64)
    fin = np.isfinite(val)
    w = rel * np.abs(val[fin]) + err
    direct = (np.abs(val[fin][:, None] - t[None, :]) <= w[:, None] + 2.0**-125).any(axis=1)
    np.testing.assert_array_equal(tab[fin], direct)
    assert tab[~fin].all()
    assert 0 < tab[fin].mean() < 0.5


def test_profile_times_the_engine_without_changing_its_result():
    """The profile's timers wrap torch.mm and reduce_tile; the statistics equal an unwrapped engine's, and its
    counts at the radius equal a float64 brute force."""
    import engine_profile
    from engine_cases import RADIUS, planted_data, run_engine

    m, n, warm = 96, 9000, 4096
    res = engine_profile.profile(m, n, warm, log=lambda *a: None)
    anchors, samples = planted_data(m, n, 128)
    ref = run_engine(anchors, samples, backend="numba")
    got = res["stats"]
    np.testing.assert_array_equal(got.counts, ref.counts)
    np.testing.assert_array_equal(got.curve, ref.curve)
    np.testing.assert_array_equal(got.topk_index, ref.topk_index)
    np.testing.assert_allclose(got.ssum, ref.ssum, rtol=1e-12)
    cos = anchors.astype(np.float64) @ samples.astype(np.float64).T
    brute = (cos >= math.cos(math.pi * RADIUS)).sum(1)
    np.testing.assert_array_equal(got.counts[:, 0], brute)
    assert res["tiles"] == 3 and res["total"] > 0 and res["bare_gemm"] > 0  # one warm-up tile, then 4,096 + 808
    assert res["gemm"] + res["reduce"] + res["rest"] == pytest.approx(res["total"])
