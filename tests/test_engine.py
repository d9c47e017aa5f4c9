"""The neighbour engine against an independent float64 brute force."""

import numpy as np
import pytest

import bbcollapse as bb
from bbcollapse.subjects.synthetic import PlantedSphere
from helpers import rand_unit

BACKENDS = ["torch", "auto"]


def brute(anchors, samples, radii, grid, theta, k):
    """float64 reference: the package's canonical definition d <= r iff dot >= cos(pi r)."""
    dots = anchors.astype(np.float64) @ samples.astype(np.float64).T
    counts = np.stack([(dots >= np.cos(np.pi * r)).sum(1) for r in radii], axis=1)
    curve = np.stack([(dots >= np.cos(np.pi * g)).sum(1) for g in grid], axis=1)
    d = np.arccos(np.clip(dots, -1, 1)) / np.pi
    s = (np.exp(np.maximum(0, theta - d)) - 1) / (np.exp(theta) - 1)
    order = np.lexsort((np.broadcast_to(np.arange(d.shape[1]), d.shape), d), axis=1)[:, :k]
    return counts, curve, s.sum(1), np.take_along_axis(d, order, 1), order


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dim", [7, 32])
def test_matches_float64_brute_force(rng, backend, dim):
    # clustered data so that many pairs fall inside the radii and the kernel
    centres = rand_unit(rng, 5, dim, np.float64)
    pts = centres[rng.integers(0, 5, 3000)] + 0.35 * rng.standard_normal((3000, dim)) / np.sqrt(dim)
    pts = (pts / np.linalg.norm(pts, axis=1, keepdims=True)).astype(np.float32)
    anchors, samples = pts[:150], pts[150:]
    radii, theta, k = (0.1, 0.25), 0.3, 7
    st = bb.neighbor_stats(
        anchors=anchors,
        samples=samples,
        radii=radii,
        grid=bb.PAPER_GRID,
        theta=theta,
        k=k,
        backend=backend,
        chunk=1000,
        anchor_block=64,
    )
    counts, curve, ssum, td, ti = brute(anchors, samples, radii, bb.PAPER_GRID, theta, k)
    np.testing.assert_array_equal(st.counts, counts)
    np.testing.assert_array_equal(st.curve, curve)
    np.testing.assert_allclose(st.ssum, ssum, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(st.topk_index, ti)
    np.testing.assert_allclose(st.topk_dist, td, rtol=0, atol=1e-12)
    assert st.n_samples == samples.shape[0]


@pytest.mark.parametrize("n_grid", [41, 200, 300])
def test_fine_grids_stay_exact(rng, n_grid):
    # The fused kernel's bucket -> bin table is int8 up to 126 thresholds and int16 beyond:
    # a 300-point grid (301 bins) must take the wider table and still equal float64.
    from bbcollapse.neighbors.tables import build_bin_lut

    grid = np.linspace(0.0, 1.0, n_grid)
    t_asc = np.sort(np.cos(np.pi * grid))
    lut = build_bin_lut(t_asc, 1e-6, None)
    assert lut.max() > 127 or n_grid + 1 <= 127  # bins beyond int8's range occur, and fit
    assert lut.dtype == (np.int8 if n_grid + 1 <= 127 else np.int16)
    dim = 16
    pts = rand_unit(rng, 2200, dim, np.float32)
    pts[1000:1100] = pts[0]  # duplicates: pairs at distance 0, on the grid's first point
    anchors, samples = pts[:100], pts[100:]
    st = bb.neighbor_stats(anchors=anchors, samples=samples, grid=grid, radii=grid[::7], backend="numba", chunk=700)
    counts, curve, _, _, _ = brute(anchors, samples, grid[::7], grid, 0.3, 1)
    np.testing.assert_array_equal(st.curve, curve)
    np.testing.assert_array_equal(st.counts, counts)


@pytest.mark.parametrize("backend", BACKENDS)
def test_pairs_exactly_on_thresholds_are_counted(backend):
    # a = e1 and b_j at distance exactly g_j: in float64 <a, b_j> == cos(pi g_j) bit for bit.
    dim = 16
    grid = bb.PAPER_GRID
    b = np.zeros((len(grid), dim))
    b[:, 0] = np.cos(np.pi * grid)
    b[:, 1] = np.sin(np.pi * grid)
    a = np.zeros((1, dim))
    a[0, 0] = 1.0
    st = bb.neighbor_stats(anchors=a, samples=b, radii=grid[::5], grid=grid, backend=backend)
    # the j-th grid point has exactly j + 1 samples at distance <= g_j (ties count)
    np.testing.assert_array_equal(st.curve[0], np.arange(1, len(grid) + 1))
    np.testing.assert_array_equal(st.counts[0], np.arange(1, len(grid) + 1)[::5])


@pytest.mark.parametrize("backend", BACKENDS)
def test_shards_and_merge_equal_one_pass(rng, backend):
    anchors, samples = rand_unit(rng, 40, 9), rand_unit(rng, 2500, 9)
    kw = dict(radii=(0.3,), grid=bb.PAPER_GRID, theta=0.35, k=5, backend=backend)
    whole = bb.neighbor_stats(anchors=anchors, samples=samples, **kw)
    shards = bb.neighbor_stats(anchors=anchors, samples=iter([samples[:700], samples[700:1900], samples[1900:]]), **kw)
    left = bb.neighbor_stats(anchors=anchors, samples=samples[:1234], **kw)
    right = bb.neighbor_stats(anchors=anchors, samples=samples[1234:], index_offset=1234, **kw)
    for other in (shards, left.merge(right), right.merge(left)):
        np.testing.assert_array_equal(other.counts, whole.counts)
        np.testing.assert_array_equal(other.curve, whole.curve)
        np.testing.assert_array_equal(other.topk_index, whole.topk_index)
        np.testing.assert_allclose(other.ssum, whole.ssum, rtol=1e-12)
        assert other.n_samples == whole.n_samples


def test_topk_larger_than_samples_pads(rng):
    st = bb.neighbor_stats(anchors=rand_unit(rng, 3, 5), samples=rand_unit(rng, 4, 5), k=6, backend="torch")
    assert (st.topk_index[:, 4:] == -1).all() and np.isinf(st.topk_dist[:, 4:]).all()
    assert (np.sort(st.topk_index[:, :4], axis=1) == np.arange(4)).all()


def test_counts_and_similarity_match_planted_truth():
    """Engine estimates agree with float64 quadrature of the planted law (5-sigma binomial / CLT bounds)."""
    world = PlantedSphere(dim=10, masses=(0.1, 0.05), spread=0.1, centres_seed=3)
    anchors = np.vstack([world.centres, world(7, 3)[1]])
    n = 40_000
    samples = world(8, n)[1]
    st = bb.neighbor_stats(anchors=anchors, samples=samples, radii=(0.25,), theta=0.3)
    for i, a in enumerate(anchors):
        p = world.neighbor_prob(a, 0.25)
        sd = np.sqrt(n * p * (1 - p)) + 1
        assert abs(st.counts[i, 0] - n * p) < 5 * sd, (i, st.counts[i, 0], n * p)
        m = world.mean_similarity(a, 0.3)
        # s in [0, 1] so Var(s) <= E[s]; CLT bound on the mean
        assert abs(st.mean_similarity[i] - m) < 5 * np.sqrt(m / n) + 1e-9, (i, st.mean_similarity[i], m)


def test_counts_independent_of_tile_shape(rng):
    anchors, samples = rand_unit(rng, 50, 6), rand_unit(rng, 900, 6)
    a = bb.neighbor_stats(
        anchors=anchors, samples=samples, grid=bb.PAPER_GRID, chunk=37, anchor_block=11, backend="torch"
    )
    b = bb.neighbor_stats(
        anchors=anchors, samples=samples, grid=bb.PAPER_GRID, chunk=900, anchor_block=50, backend="torch"
    )
    np.testing.assert_array_equal(a.curve, b.curve)
