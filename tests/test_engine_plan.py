"""The plan-aware engine (curve / counts / s-sum / top-k for chosen anchors) against a float64 brute force."""

import numpy as np
import pytest

import bbcollapse as bb
from bbcollapse.neighbors import AnchorScope, neighbor_stats
from helpers import rand_unit
from test_tile_kernel import brute_force

PREFILTERS = ["float32", "bf16"]


def clustered(rng, n, dim, spread=0.35, n_centres=5):
    """Unit vectors around a few centres: many pairs inside r and theta, many far beyond."""
    centres = rand_unit(rng, n_centres, dim, np.float64)
    x = centres[rng.integers(0, n_centres, n)] + spread * rng.standard_normal((n, dim)) / np.sqrt(dim)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def check_scoped(st, ref, scope):
    """Inside the scope every statistic equals the brute force; outside it is empty."""
    counts, curve, ssum, top_d, top_i = ref
    np.testing.assert_array_equal(st.counts[scope.counts], counts[scope.counts])
    assert (st.counts[~scope.counts] == 0).all()
    np.testing.assert_array_equal(st.curve[scope.curve], curve[scope.curve])
    assert (st.curve[~scope.curve] == 0).all()
    np.testing.assert_allclose(st.ssum[scope.ssum], ssum[scope.ssum], rtol=1e-9, atol=1e-12)
    assert (st.ssum[~scope.ssum] == 0).all()
    np.testing.assert_array_equal(st.topk_index[scope.topk], top_i[scope.topk])
    # near d = 0 arccos turns the last bit of a float64 dot (summation order) into ~1e-12 of distance
    np.testing.assert_allclose(st.topk_dist[scope.topk], top_d[scope.topk], rtol=0, atol=1e-10)
    assert (st.topk_index[~scope.topk] == -1).all()


@pytest.mark.parametrize("prefilter", PREFILTERS)
@pytest.mark.parametrize("dim, spread", [(32, 0.35), (128, 1.0)])
def test_paper_workflow_plan_matches_float64_brute_force(rng, prefilter, dim, spread):
    """Curves for a tenth of the anchors, top-k for a few, counts and s-sums for all; small tiles so that
    blocks switch between the threshold path and the dense one (clustered: most pairs inside theta)."""
    pts = clustered(rng, 3300, dim, spread)
    anchors, samples = pts[:300], pts[300:]
    samples[:10] = anchors[:10]  # duplicates: distance 0
    radii, theta, k = (0.1, 0.25), 0.3, 6
    curve = rng.choice(300, 30, replace=False)
    topk = curve[:4].tolist() + [7, 8]
    st = neighbor_stats(
        anchors=anchors,
        samples=samples,
        radii=radii,
        grid=bb.PAPER_GRID,
        theta=theta,
        k=k,
        curve_anchors=curve,
        topk_anchors=topk,
        prefilter=prefilter,
        chunk=700,
        anchor_block=64,
    )
    scope = AnchorScope.of(300, curve=curve, topk=topk)
    assert st.scope == scope
    check_scoped(st, brute_force(anchors, samples, radii, bb.PAPER_GRID, theta, k), scope)


@pytest.mark.parametrize("prefilter", PREFILTERS)
def test_each_statistic_for_its_own_anchors(rng, prefilter):
    """Counts, s-sums, top-k each for a different subset (their thresholds differ per anchor), no curves."""
    pts = clustered(rng, 2600, 24, 0.5)
    anchors, samples = pts[:200], pts[200:]
    radii, theta, k = (0.35,), 0.2, 5  # the count radius beyond theta: count-only anchors keep more pairs
    which = dict(count_anchors=np.arange(0, 200, 2), ssum_anchors=np.arange(0, 200, 3), topk_anchors=[1, 5, 50])
    st = neighbor_stats(
        anchors,
        samples,
        radii=radii,
        grid=bb.PAPER_GRID,
        theta=theta,
        k=k,
        curve_anchors=[],
        prefilter=prefilter,
        **which,
    )
    scope = AnchorScope.of(200, curve=[], counts=which["count_anchors"], ssum=which["ssum_anchors"], topk=[1, 5, 50])
    check_scoped(st, brute_force(anchors, samples, radii, bb.PAPER_GRID, theta, k), scope)


@pytest.mark.parametrize("prefilter", PREFILTERS)
def test_ties_on_every_threshold_are_counted(prefilter):
    """Samples at exactly d = r (float64) and one float64 step inside or outside: the plan counts as a float64 brute
    force does, with theta and the radii on the grid points that bf16 rounds furthest."""
    dim = 16
    grid = bb.PAPER_GRID
    eps = np.array([-1, 0, 1])
    c = np.cos(np.pi * grid)[:, None] + eps[None, :] * np.spacing(np.cos(np.pi * grid))[:, None]
    c = c.ravel()
    b = np.zeros((c.size, dim))
    b[:, 0] = c
    b[:, 1] = np.sqrt(1 - c * c)
    a = np.zeros((2, dim))
    a[0, 0] = 1.0
    a[1, 1] = 1.0
    radii = grid[::4]
    st = neighbor_stats(a, b, radii=radii, grid=grid, theta=0.3, curve_anchors=[1], prefilter=prefilter)
    dots = a @ b.T
    np.testing.assert_array_equal(st.counts, np.stack([(dots >= np.cos(np.pi * r)).sum(1) for r in radii], 1))
    ref = brute_force(a, b, radii, grid, 0.3, 0)
    np.testing.assert_allclose(st.ssum, ref[2], rtol=1e-12, atol=1e-15)


def test_default_arguments_give_the_default_run(rng):
    anchors, samples = rand_unit(rng, 30, 12), rand_unit(rng, 500, 12)
    kw = dict(radii=(0.3,), grid=bb.PAPER_GRID, theta=0.35, k=3)
    a = neighbor_stats(anchors, samples, **kw)
    b = neighbor_stats(anchors, samples, curve_anchors=None, prefilter="auto", **kw)
    assert a.scope is None and b.scope is None
    np.testing.assert_array_equal(a.curve, b.curve)


def test_scoped_shards_merge_to_the_whole_and_scopes_intersect(rng):
    pts = clustered(rng, 2200, 20, 0.5)
    anchors, samples = pts[:100], pts[100:]
    kw = dict(radii=(0.25,), grid=bb.PAPER_GRID, theta=0.3, k=4, curve_anchors=[3, 9], topk_anchors=[3])
    whole = neighbor_stats(anchors, samples, **kw)
    left = neighbor_stats(anchors, samples[:1000], **kw)
    right = neighbor_stats(anchors, samples[1000:], index_offset=1000, **kw)
    merged = left.merge(right)
    for name in ("counts", "curve", "topk_index"):
        np.testing.assert_array_equal(getattr(merged, name), getattr(whole, name))
    np.testing.assert_allclose(merged.ssum, whole.ssum, rtol=1e-12)
    assert merged.scope == whole.scope
    # a shard without curves merged with a default one: the curve is kept for no anchor
    full = neighbor_stats(anchors, samples[1000:], index_offset=1000, radii=(0.25,), grid=bb.PAPER_GRID, theta=0.3, k=4)
    lean = neighbor_stats(anchors, samples[:1000], radii=(0.25,), grid=bb.PAPER_GRID, theta=0.3, k=4, curve_anchors=[])
    both = lean.merge(full)
    assert not both.scope.curve.any() and (both.curve == 0).all()
    np.testing.assert_array_equal(both.counts, whole.counts)


def test_torch_backend_restricts_to_the_scope(rng):
    pts = clustered(rng, 1200, 16, 0.5)
    anchors, samples = pts[:60], pts[60:]
    kw = dict(radii=(0.25,), grid=bb.PAPER_GRID, theta=0.3, k=3, curve_anchors=[0, 1], topk_anchors=[2])
    a = neighbor_stats(anchors, samples, backend="torch", **kw)
    b = neighbor_stats(anchors, samples, backend="auto", **kw)
    for name in ("counts", "curve", "topk_index"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert a.scope == b.scope


@pytest.mark.parametrize(
    "kw, msg",
    [
        (dict(curve_anchors=[0, 99]), "outside"),
        (dict(topk_anchors=np.ones(5, dtype=bool)), "boolean mask"),
        (dict(ssum_anchors=[0.5]), "integers"),
        (dict(curve_anchors=[0], prefilter="int4"), "prefilter"),
    ],
)
def test_bad_plans_are_refused_with_one_line(rng, kw, msg):
    anchors, samples = rand_unit(rng, 10, 8), rand_unit(rng, 50, 8)
    with pytest.raises(ValueError, match=msg):
        neighbor_stats(anchors, samples, radii=(0.2,), theta=0.3, k=2, **kw)
