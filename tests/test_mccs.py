"""MCCS forms, population statistics and dense modes against closed forms and planted truth."""
import math
import statistics

import numpy as np
import pytest

import bbcollapse as bb
from bbcollapse.subjects.synthetic import PlantedSphere

from conftest import rand_unit


def test_similarity_kernel_closed_form():
    theta = 0.3
    assert bb.similarity(0.0, theta) == pytest.approx(1.0)
    assert bb.similarity(theta, theta) == 0.0 and bb.similarity(0.9, theta) == 0.0
    d = 0.1
    assert bb.similarity(d, theta) == pytest.approx((math.exp(0.2) - 1) / (math.exp(0.3) - 1))


def test_angular_distance_known_angles():
    a = np.array([1.0, 0, 0])
    b = np.array([[1.0, 0, 0], [0, 1.0, 0], [-1.0, 0, 0], [math.cos(1.0), math.sin(1.0), 0]])
    np.testing.assert_allclose(bb.angular_distance(a, b), [0, 0.5, 1.0, 1.0 / math.pi], atol=1e-12)


def test_mccs_forms_closed_form():
    assert bb.mccs(0.1, form="code") == pytest.approx(1.0)  # 1 / -log10(0.1)
    assert bb.mccs(0.01, form="code") == pytest.approx(0.5)
    assert bb.mccs(0.1, form="paper") == pytest.approx(1 / (1 + math.log(10)))
    assert bb.mccs(1.0, form="paper") == pytest.approx(1.0)
    assert bb.mccs(1.0, form="code") == math.inf


def test_mccs_zero_mean_is_zero_not_nan():
    with np.errstate(all="raise"):
        out = bb.mccs(np.array([0.0, 0.5, 0.0]))
    assert out[0] == 0.0 and out[2] == 0.0 and out[1] == pytest.approx(1 / math.log10(2))


def test_mccs_rejects_bad_form_and_values():
    with pytest.raises(ValueError, match="form"):
        bb.mccs(0.5, form="log")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        bb.mccs(-0.1)


def test_population_matches_stdlib():
    v = [0.3, 0.5, 0.45, 0.9, 0.1]
    p = bb.population(v)
    assert p.mu == pytest.approx(statistics.mean(v)) and p.sigma == pytest.approx(statistics.stdev(v))
    mu, sigma = p
    assert (mu, sigma) == (p.mu, p.sigma)
    with pytest.raises(ValueError, match="at least 2"):
        bb.population([0.4])


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
    # every anchor not returned either has a denser anchor within r, or the list is full
    assert m.worst == int(np.lexsort((np.arange(300), -counts))[0])
