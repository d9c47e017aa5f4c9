"""Neighbour counts, the worst case I_w (Eq. 9) and distinct dense modes, against brute force and planted truth."""

import numpy as np
import pytest

import bbcollapse as bb
from bbcollapse.stats import density_order, neighbor_counts, worst_index
from bbcollapse.subjects.synthetic import PlantedSphere
from helpers import rand_unit


def brute_counts(anchors, samples, r):
    """N(a, C, r) from float64 distances arccos(<a, c>) / pi, counting d <= r."""
    cos = np.asarray(anchors, np.float64) @ np.asarray(samples, np.float64).T
    d = np.arccos(np.clip(cos, -1.0, 1.0)) / np.pi
    return (d <= r).sum(axis=1), d


# ---------------------------------------------------------------------------------
# the tie rule
# ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "counts, expected",
    [
        ([3, 7, 1, 7, 7], 1),  # three-way tie on the maximum: the lowest index
        ([4, 4, 4], 0),
        ([0, 0, 9], 2),
        ([5], 0),
        (np.array([0, 200, 200], dtype=np.uint8), 1),  # unsigned counts must not wrap when ranked
        ([-2, -1, -1], 1),  # counts minus self can be -1 for an anchor counted against itself only
    ],
)
def test_worst_index_is_argmax_with_lowest_index_on_ties(counts, expected):
    assert worst_index(counts) == expected
    assert isinstance(worst_index(counts), int)


def test_density_order_matches_a_python_sort(rng):
    counts = rng.integers(0, 6, size=200)  # many ties
    expected = sorted(range(200), key=lambda i: (-int(counts[i]), i))
    assert density_order(counts).tolist() == expected
    assert worst_index(counts) == expected[0]


def test_worst_index_rejects_empty_and_2d():
    with pytest.raises(ValueError, match="non-empty 1-D"):
        worst_index([])
    with pytest.raises(ValueError, match="non-empty 1-D"):
        worst_index(np.ones((2, 2)))


# ---------------------------------------------------------------------------------
# Eq. 9's count against a float64 brute force
# ---------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("r", [0.05, 0.25, 0.4])
def test_neighbor_counts_match_float64_brute_force(dtype, r):
    world = PlantedSphere(dim=6, masses=(0.3, 0.1), spread=0.15, centres_seed=5)
    anchors = world(1, 60).x.astype(dtype)
    samples = np.vstack([world(2, 1500).x, world(1, 60).x[:10]]).astype(dtype)  # 10 duplicates: d = 0
    expected, d = brute_counts(anchors, samples, r)
    # arccos and cos(pi r) round differently within a few ulp of r; keep the test well posed
    assert np.abs(d - r).min() > 1e-9
    got = neighbor_counts(anchors, samples, r=r)
    assert got.dtype == np.int64 and got.shape == (60,)
    np.testing.assert_array_equal(got, expected)
    assert (expected > 0).any() and (expected < samples.shape[0]).all()  # not a vacuous comparison
    # shards add up to the same counts
    np.testing.assert_array_equal(neighbor_counts(anchors, [samples[:700], samples[700:]], r=r), expected)


def test_dense_modes_worst_is_brute_force_argmax():
    world = PlantedSphere(dim=8, masses=(0.1,), spread=0.12, centres_seed=2)
    anchors, samples = world(3, 120).x, world(4, 2000).x
    counts, _ = brute_counts(anchors, samples, 0.25)
    modes = bb.dense_modes(anchors, samples, r=0.25, top=3)
    assert modes.worst == int(np.flatnonzero(counts == counts.max())[0])
    np.testing.assert_array_equal(modes.counts, counts[modes.indices])


# ---------------------------------------------------------------------------------
# distinct modes
# ---------------------------------------------------------------------------------
def test_distinct_modes_are_distinct_and_ordered(rng):
    # three tight clusters of anchors with counts favouring cluster 0 then 1 then 2
    centres = rand_unit(rng, 3, 20, np.float64)
    anchors = np.repeat(centres, 4, axis=0) + 0.01 * rng.standard_normal((12, 20))
    anchors /= np.linalg.norm(anchors, axis=1, keepdims=True)
    counts = np.array([50, 49, 48, 47, 30, 29, 28, 27, 10, 9, 8, 7])
    m = bb.distinct_modes(anchors, counts, r=0.25, top=5)
    assert m.worst == 0
    assert m.indices.tolist() == [0, 4, 8]  # one per cluster; no more exist farther than r
    d = bb.angular_distance(anchors[m.indices], anchors[m.indices])
    assert (d[~np.eye(3, dtype=bool)] > 0.25).all()


def test_dense_modes_find_heaviest_planted_identity():
    world = PlantedSphere(dim=12, masses=(0.12, 0.04), spread=0.1, centres_seed=1)
    _, anchors = world(10, 400)
    _, samples = world(11, 8000)
    modes = bb.dense_modes(anchors, samples, r=0.25, top=2)
    d = bb.angular_distance(anchors[modes.indices], world.centres)
    assert d[0, 0] <= 0.1 + 1e-9  # I_w lies inside identity 0 (the heaviest)
    assert d[1, 1] <= 0.1 + 1e-9  # the second distinct mode is identity 1


def test_rim_of_a_heavy_mode_is_not_a_distinct_mode():
    # anchors on one great circle at normalised distances 0, 0.2, 0.4, 0.9 from the first;
    # counts fall along the slope of one identity, then a separate lighter identity.
    ang = np.pi * np.array([0.0, 0.2, 0.4, 0.9])
    anchors = np.stack([np.cos(ang), np.sin(ang), np.zeros(4)], axis=1)
    counts = np.array([100, 90, 80, 50])
    m = bb.distinct_modes(anchors, counts, r=0.25, top=4)
    # the rim anchor (0.4) is farther than r from the top mode, but a denser anchor (0.2) lies within r of it
    assert m.indices.tolist() == [0, 3]


def test_distinct_modes_never_within_r(rng):
    anchors = rand_unit(rng, 300, 3, np.float64)
    counts = rng.integers(0, 50, 300)
    m = bb.distinct_modes(anchors, counts, r=0.2, top=50)
    d = bb.angular_distance(anchors[m.indices], anchors[m.indices])
    assert (d[~np.eye(len(m.indices), dtype=bool)] > 0.2).all()
    assert m.worst == int(np.flatnonzero(counts == counts.max())[0])  # the lowest index among the densest


def test_distinct_modes_ranked_by_another_score():
    """order_by (e.g. MCCS) replaces the count as the ranking; distinctness still uses r; bad scores are refused."""
    import numpy as np

    from bbcollapse.distance import unit
    from bbcollapse.stats import distinct_modes

    a = unit(np.array([[1.0, 0, 0], [0.999, 0.045, 0], [0, 1.0, 0], [0, 0, 1.0]]))
    counts = np.array([5, 9, 1, 3])
    score = np.array([0.9, 0.2, 0.8, 0.1])
    by_count = distinct_modes(a, counts, r=0.05, top=3)
    by_score = distinct_modes(a, counts, r=0.05, top=3, order_by=score)
    assert by_count.worst == 1 and by_count.indices.tolist() == [1, 3, 2]  # anchor 0 lies within r of anchor 1
    assert by_score.worst == 0 and by_score.indices.tolist() == [0, 2, 3]
    assert by_score.counts.tolist() == [5, 1, 3]  # the counts of the chosen modes, whatever ranked them
    with pytest.raises(ValueError, match="order_by must hold 4 finite scores"):
        distinct_modes(a, counts, r=0.05, order_by=[1.0, np.nan, 0, 0])
