"""The fused numba tile kernel (NumbaReducer) against a float64 numpy brute force.

The brute force below is independent of the engine: one float64 GEMM, arccos of
every pair, threshold comparisons, a full lexicographic sort for the top-k.
"""

import math

import numpy as np
import pytest

from bbcollapse import PAPER_GRID, neighbor_stats
from bbcollapse.neighbors import Plan
from bbcollapse.neighbors.numba_reducer import NumbaReducer
from bbcollapse.neighbors.tables import LUT_BUCKETS, build_bin_lut, build_s_table
from helpers import rand_unit


def brute_force(anchors, samples, radii, grid, theta, k):
    dots = np.asarray(anchors, np.float64) @ np.asarray(samples, np.float64).T
    d = np.arccos(np.clip(dots, -1, 1)) / np.pi
    counts = np.stack([(dots >= np.cos(np.pi * r)).sum(1) for r in radii], 1) if len(radii) else None
    curve = np.stack([(dots >= np.cos(np.pi * g)).sum(1) for g in grid], 1) if len(grid) else None
    ssum = (np.expm1(np.maximum(0.0, theta - d)) / np.expm1(theta)).sum(1) if theta is not None else None
    idx = np.broadcast_to(np.arange(d.shape[1]), d.shape)
    order = np.lexsort((idx, d), axis=1)[:, :k]
    top_d = np.full((d.shape[0], k), np.inf)
    top_i = np.full((d.shape[0], k), -1)
    kk = min(k, d.shape[1])
    top_d[:, :kk] = np.take_along_axis(d, order, 1)[:, :kk]
    top_i[:, :kk] = order[:, :kk]
    return counts, curve, ssum, top_d, top_i


def unit_rows(rng, n, dim):
    return rand_unit(rng, n, dim, np.float64)


def run_numba(anchors, samples, *, radii, grid, theta, k, chunk=97, tile_rows=7, tile_cols=33, offset=0):
    """NumbaReducer with small tiles so that every tile-boundary path is exercised."""
    anchors = np.asarray(anchors)
    plan = Plan(radii=np.asarray(radii, float), grid=np.asarray(grid, float), theta=theta, k=k, dim=anchors.shape[1])
    red = NumbaReducer(plan, anchors, tile_rows=tile_rows, tile_cols=tile_cols)
    for s0 in range(0, samples.shape[0], chunk):
        red.add(samples[s0 : s0 + chunk], offset + s0)
    return red.result(samples.shape[0])


def assert_matches(st, ref, radii, grid, theta, rtol=1e-9):
    counts, curve, ssum, top_d, top_i = ref
    if len(radii):
        np.testing.assert_array_equal(st.counts, counts)
    else:
        assert st.counts.shape == (st.n_anchors, 0)
    if len(grid):
        np.testing.assert_array_equal(st.curve, curve)
    if theta is not None:
        np.testing.assert_allclose(st.ssum, ssum, rtol=rtol, atol=1e-12)
    np.testing.assert_array_equal(st.topk_index, top_i)
    fin = np.isfinite(top_d)  # where k exceeds the samples, both sides hold inf (index -1, checked above)
    assert not np.isfinite(st.topk_dist[~fin]).any()
    np.testing.assert_array_less(np.abs(st.topk_dist[fin] - top_d[fin]), distance_tolerance(top_d))


def distance_tolerance(d, dim=512):
    """How far two float64 computations of an angular distance d may differ: the float64 cosines of two
    summation orders differ by up to band64(dim), and arccos is ill-conditioned near cos = 1 (a
    near-duplicate at d = 2e-5 moves by 1e-12 when its cosine moves by two ulps)."""
    from bbcollapse.neighbors.plan import band64

    d = np.asarray(d, dtype=np.float64)[np.isfinite(d)]
    c = np.cos(np.pi * d)
    spread = np.arccos(np.clip(c - band64(dim), -1, 1)) - np.arccos(np.clip(c + band64(dim), -1, 1))
    return np.maximum(1e-12, spread / np.pi + 1e-15)


@pytest.mark.parametrize("dim, k", [(17, 6), (32, 50)])
def test_random_data_matches_float64_brute_force(dim, k):
    rng = np.random.default_rng(dim)
    anchors = unit_rows(rng, 40, dim)
    samples = unit_rows(rng, 600, dim)
    samples[:15] = anchors[:15]  # exact duplicates: distance 0, arccos ill-conditioned
    samples[15:25] = samples[25:35]  # duplicate samples: ties broken by lower index
    radii, grid, theta = [0.25, 0.4], PAPER_GRID, 0.3
    st = run_numba(anchors, samples.astype(np.float32).astype(np.float64), radii=radii, grid=grid, theta=theta, k=k)
    ref = brute_force(anchors, samples.astype(np.float32), radii, grid, theta, k)
    assert_matches(st, ref, radii, grid, theta)


def on_threshold_pairs(dim, radii):
    """Anchor e1; samples at angular distance exactly r (in float64) for each r, and just either side."""
    e1 = np.zeros(dim)
    e1[0] = 1.0
    rows = []
    for r in radii:
        for eps in (0.0, 1e-9, -1e-9, 3e-6, -3e-6, 0.0):
            b = np.zeros(dim)
            b[0], b[1] = np.cos(np.pi * r + eps), np.sin(np.pi * r + eps)
            rows.append(b)
    return e1[None, :], np.array(rows)


@pytest.mark.parametrize("dim", [3, 128])
def test_pairs_exactly_on_thresholds_are_counted_as_neighbours(dim):
    radii = [0.25, 0.1, 0.5]
    anchors, samples = on_threshold_pairs(dim, np.concatenate([radii, PAPER_GRID]))
    rng = np.random.default_rng(1)
    # a second anchor in a generic direction and a few random samples around
    anchors = np.vstack([anchors, unit_rows(rng, 1, dim)])
    samples = np.vstack([samples, unit_rows(rng, 50, dim)])
    perm = rng.permutation(samples.shape[0])
    samples = samples[perm]
    ref = brute_force(anchors, samples, radii, PAPER_GRID, 0.3, 9)
    # the dots of anchor e1 are exact products, so the float64 reference is unambiguous
    dots0 = samples @ anchors[0]
    for r in radii:
        assert (dots0 == np.cos(np.pi * r)).sum() >= 2
    st = run_numba(anchors, samples, radii=radii, grid=PAPER_GRID, theta=0.3, k=9)
    assert_matches(st, ref, radii, PAPER_GRID, 0.3)
    # a float32-only count (no float64 recheck) would get these wrong
    dots32 = (anchors.astype(np.float32) @ samples.astype(np.float32).T).astype(np.float64)
    naive = np.stack([(dots32 >= np.cos(np.pi * r)).sum(1) for r in PAPER_GRID], 1)
    assert not np.array_equal(naive, ref[1])


def test_lookup_table_bins_agree_with_threshold_counts():
    rng = np.random.default_rng(2)
    plan = Plan(radii=np.array([0.25]), grid=PAPER_GRID, theta=0.3, k=0, dim=64)
    cos_theta = math.cos(math.pi * 0.3)
    lut = build_bin_lut(plan.t_asc, plan.band, cos_theta)
    c = np.concatenate([rng.uniform(-1, 1, 200000), plan.t_asc, [-1.0, 1.0]]).astype(np.float32)
    s = np.float32(LUT_BUCKETS / 2)
    b = np.clip(c * s + s, 0, LUT_BUCKETS - 1).astype(np.int64)
    e = lut[b]
    clean = e >= 0
    want = np.searchsorted(plan.t_asc, c.astype(np.float64), side="right")
    np.testing.assert_array_equal(e[clean], want[clean])
    # clean buckets stay out of the float32 error band of every threshold
    gap = np.abs(c[clean, None].astype(np.float64) - plan.t_asc[None, :]).min(1)
    assert (gap > plan.band).all()
    assert (c[clean] <= cos_theta - plan.band).all()
    # and only a small fraction of buckets is special
    assert (lut < 0).mean() < 0.3


def test_shards_merge_to_the_whole_and_k_larger_than_samples():
    rng = np.random.default_rng(3)
    anchors = unit_rows(rng, 12, 9)
    samples = unit_rows(rng, 80, 9)
    radii, k = [0.3], 100  # k > n_samples: padded with inf / -1
    whole = run_numba(anchors, samples, radii=radii, grid=PAPER_GRID, theta=0.4, k=k, chunk=31)
    a = run_numba(anchors, samples[:50], radii=radii, grid=PAPER_GRID, theta=0.4, k=k, chunk=31)
    b = run_numba(anchors, samples[50:], radii=radii, grid=PAPER_GRID, theta=0.4, k=k, chunk=31, offset=50)
    merged = a.merge(b)
    ref = brute_force(anchors, samples, radii, PAPER_GRID, 0.4, k)
    assert_matches(whole, ref, radii, PAPER_GRID, 0.4)
    assert_matches(merged, ref, radii, PAPER_GRID, 0.4)
    assert (whole.topk_index[:, 80:] == -1).all() and np.isinf(whole.topk_dist[:, 80:]).all()
    assert merged.n_samples == 80


def test_theta_none_and_empty_radii_through_the_engine():
    rng = np.random.default_rng(4)
    anchors = unit_rows(rng, 10, 16).astype(np.float32)
    samples = unit_rows(rng, 300, 16).astype(np.float32)
    st = neighbor_stats(
        anchors=anchors,
        samples=samples,
        radii=(),
        grid=PAPER_GRID,
        theta=None,
        k=3,
        backend="numba",
        device="cpu",
        chunk=128,
    )
    ref = brute_force(anchors, samples, [], PAPER_GRID, None, 3)
    assert_matches(st, ref, [], PAPER_GRID, None)
    np.testing.assert_array_equal(st.ssum, 0.0)
    # nothing at all but top-k
    st = neighbor_stats(anchors=anchors, samples=samples, k=2, backend="numba", device="cpu")
    assert_matches(st, brute_force(anchors, samples, [], [], None, 2), [], [], None)
    assert st.curve.shape == (10, 0)
    # k = 0: no top-k, counts only
    st = neighbor_stats(anchors=anchors, samples=samples, radii=[0.4], k=0, backend="numba", device="cpu")
    np.testing.assert_array_equal(st.counts, brute_force(anchors, samples, [0.4], [], None, 0)[0])


def test_numba_equals_torch_reducer():
    rng = np.random.default_rng(5)
    anchors = unit_rows(rng, 30, 24)
    centre = anchors[:3]
    # clustered samples: many pairs inside the similarity kernel and near thresholds
    samples = centre[rng.integers(0, 3, 900)] + 0.25 * rng.standard_normal((900, 24)) / np.sqrt(24)
    samples /= np.linalg.norm(samples, axis=1, keepdims=True)
    kw = dict(radii=[0.1, 0.25], grid=PAPER_GRID, theta=0.3, k=7, device="cpu", chunk=256)
    nb = neighbor_stats(anchors=anchors, samples=samples, backend="numba", **kw)
    th = neighbor_stats(anchors=anchors, samples=samples, backend="torch", anchor_block=16, **kw)
    np.testing.assert_array_equal(nb.counts, th.counts)
    np.testing.assert_array_equal(nb.curve, th.curve)
    np.testing.assert_array_equal(nb.topk_index, th.topk_index)
    np.testing.assert_allclose(nb.topk_dist, th.topk_dist, rtol=0, atol=1e-12)
    np.testing.assert_allclose(nb.ssum, th.ssum, rtol=1e-12)
    ref = brute_force(anchors, samples, [0.1, 0.25], PAPER_GRID, 0.3, 7)
    assert_matches(nb, ref, [0.1, 0.25], PAPER_GRID, 0.3)
    assert (ref[2][:3] > 100).all()  # the kernel region is populated (anchors 0-2 are the centres)


def cone_rows(rng, n, dim, spread):
    """Unit vectors clustered around e_0: most pairs inside the similarity kernel (like face embeddings)."""
    mu = np.zeros(dim)
    mu[0] = 1.0
    x = mu + spread * rng.standard_normal((n, dim)) / math.sqrt(dim)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.mark.parametrize("theta, spread", [(0.3, 0.5), (0.12, 0.2), (0.8, 0.5)])
def test_clustered_samples_take_the_float64_tile_path_and_stay_exact(theta, spread):
    """When most pairs lie inside the kernel the reducer switches to one float64 GEMM per tile
    and a tabulated kernel; counts, curve and top-k stay exact and the s-sum matches float64."""
    rng = np.random.default_rng(11)
    dim = 24
    anchors = cone_rows(rng, 30, dim, spread)
    samples = cone_rows(rng, 900, dim, spread).astype(np.float32).astype(np.float64)
    # near-duplicates of anchors (d ~ 1e-4: the steep end of the kernel) and tied samples
    samples[:10] = anchors[:10] + 1e-4 * rng.standard_normal((10, dim))
    samples[:10] /= np.linalg.norm(samples[:10], axis=1, keepdims=True)
    samples[40:50] = samples[60:70]
    radii, grid, k = [0.1, 0.2], PAPER_GRID, 7
    plan = Plan(radii=np.asarray(radii), grid=np.asarray(grid), theta=theta, k=k, dim=dim)
    red = NumbaReducer(plan, anchors, tile_rows=8, tile_cols=64)
    for s0 in range(0, samples.shape[0], 128):
        red.add(samples[s0 : s0 + 128], s0)
    st = red.result(samples.shape[0])
    assert red.tiles_dense > red.tiles // 2, (red.tiles_dense, red.tiles)
    ref = brute_force(anchors, samples, radii, grid, theta, k)
    assert_matches(st, ref, radii, grid, theta)  # rtol 1e-9: duplicates (cos = 1 +- 1e-16) put ~1e-8 in d


def test_float64_tile_path_counts_ties_on_every_threshold():
    """A dense tile is binned from its float64 GEMM (no float32 copy): samples at exactly d = g for every grid
    point and radius, and one float64 step inside and outside, amid a cone that makes every tile dense, are
    counted as a float64 brute force counts them (a tie is a neighbour)."""
    rng = np.random.default_rng(3)
    dim = 24
    grid, radii, theta = PAPER_GRID, PAPER_GRID[::5], 0.3
    t = np.cos(np.pi * grid)
    c = (t[:, None] + np.array([-1, 0, 1])[None, :] * np.spacing(t)[:, None]).ravel()
    ties = np.zeros((c.size, dim))
    ties[:, 0] = c
    ties[:, 1] = np.sqrt(1 - c * c)  # a dot with e_0 is c exactly, in any summation order
    anchors = cone_rows(rng, 20, dim, 0.5)
    anchors[0] = 0.0
    anchors[0, 0] = 1.0
    samples = np.concatenate([cone_rows(rng, 400, dim, 0.5), ties, cone_rows(rng, 400, dim, 0.5)])
    plan = Plan(radii=np.asarray(radii), grid=np.asarray(grid), theta=theta, k=5, dim=dim)
    red = NumbaReducer(plan, anchors, tile_rows=8, tile_cols=64)
    for s0 in range(0, samples.shape[0], 200):
        red.add(samples[s0 : s0 + 200], s0)
    st = red.result(samples.shape[0])
    assert red.tiles_dense > red.tiles // 2, (red.tiles_dense, red.tiles)
    ref = brute_force(anchors, samples, radii, grid, theta, 5)
    assert_matches(st, ref, radii, grid, theta)
    dots = samples[:, 0]  # anchor 0 = e_0: the exact float64 cosines
    np.testing.assert_array_equal(st.curve[0], [(dots >= np.cos(np.pi * g)).sum() for g in grid])


@pytest.mark.parametrize("clustered", [True, False])  # most pairs inside theta (dense tiles) / few (rechecks)
def test_float32_samples_give_the_statistics_of_their_float64_copy_bit_for_bit(clustered):
    """float32 samples are rechecked from float32 (exact products in float64): every statistic, the s-sum
    included, equals that of their float64 copy exactly, and the float64 brute force."""
    rng = np.random.default_rng(8)
    dim = 48
    draw = (lambda n: cone_rows(rng, n, dim, 0.5)) if clustered else (lambda n: unit_rows(rng, n, dim))
    anchors = draw(30)
    s32 = draw(700).astype(np.float32)
    near = anchors[np.arange(40) % 5] + 0.3 * rng.standard_normal((40, dim)) / math.sqrt(dim)
    s32[:40] = near / np.linalg.norm(near, axis=1, keepdims=True)  # inside theta of anchors 0-4: s-sum rechecks
    radii, grid, theta, k = [0.1, 0.2], PAPER_GRID, 0.3, 2
    plan = Plan(radii=np.asarray(radii), grid=np.asarray(grid), theta=theta, k=k, dim=dim)
    out = []
    for samples in (s32, s32.astype(np.float64)):
        red = NumbaReducer(plan, anchors, tile_rows=8, tile_cols=64)
        for s0 in range(0, samples.shape[0], 128):
            red.add(samples[s0 : s0 + 128], s0)
        out.append((red.result(samples.shape[0]), red.tiles_dense, red.tiles))
    (a, dense_a, tiles), (b, dense_b, _) = out
    assert dense_a == dense_b and (dense_a > tiles // 2 if clustered else dense_a < tiles // 2), (dense_a, tiles)
    for name in ("counts", "curve", "ssum", "topk_dist", "topk_index"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert_matches(a, brute_force(anchors, s32, radii, grid, theta, k), radii, grid, theta)


def test_float64_band_covers_a_reordered_float64_sum():
    """band64 bounds the difference of a float64 GEMM (any order) and the kernel's float64 dot product."""
    from bbcollapse.neighbors.numba_reducer import dot64
    from bbcollapse.neighbors.plan import band64

    rng = np.random.default_rng(4)
    for dim in (3, 24, 128, 512):
        a, b = unit_rows(rng, 64, dim), unit_rows(rng, 256, dim)
        b[:32] = a[:32] + 1e-9 * rng.standard_normal((32, dim))  # near-parallel: the largest terms
        gemm = a @ b.T
        ref = np.array([[dot64(a, i, b, j) for j in range(b.shape[0])] for i in range(a.shape[0])])
        assert np.abs(gemm - ref).max() <= band64(dim)
        assert band64(dim) < 1e-12


def test_similarity_table_matches_direct_evaluation():
    """The piecewise-cubic (Hermite) table of expm1(theta - d) in t = sqrt(1 - cos) against math.acos/expm1."""
    from bbcollapse.neighbors.numba_reducer import s_unnorm  # the kernel's scalar path

    for theta in (0.05, 0.3, 0.6, 0.7):
        s_tab, inv_h = build_s_table(theta)
        c = np.concatenate([np.cos(np.pi * np.linspace(0, theta * 1.2, 20001)), [1.0, 1 - 1e-15, -1.0]])
        got = np.array([s_unnorm(x, theta, s_tab, inv_h, True) for x in c])
        d = np.arccos(np.clip(c, -1, 1)) / np.pi
        want = np.expm1(np.maximum(0.0, theta - d))
        np.testing.assert_allclose(got, want, rtol=0, atol=2e-14)
    assert build_s_table(0.71) is None  # t_max near sqrt(2): evaluated directly instead
