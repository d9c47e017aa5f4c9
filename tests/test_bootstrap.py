"""Bootstrap intervals (stats.bootstrap) against closed-form moments and planted truth."""

from __future__ import annotations

import numpy as np
import pytest

import bbcollapse as bb
from bbcollapse.stats import Contributions, compare_mccs, compare_population
from bbcollapse.stats.bootstrap import _bootstrap_means
from bbcollapse.subjects.synthetic import PlantedSphere

THETA = 0.3


def test_similarity_contributions_match_engine():
    world = PlantedSphere(dim=12, masses=(0.1,), spread=0.12, centres_seed=0)
    c = world(5, 3000).x
    anchor = world.centres[0].astype(np.float32)
    anchor /= np.linalg.norm(anchor)
    s = bb.similarity_contributions(anchor, c, THETA)
    st = bb.neighbor_stats(anchors=anchor[None], samples=c, theta=THETA)
    assert s.mean() == pytest.approx(float(st.mean_similarity[0]), rel=1e-9)
    s2 = bb.similarity_contributions(anchor, [c[:1000], c[1000:]], THETA)  # shards
    np.testing.assert_array_equal(s, s2)


def test_multinomial_bootstrap_matches_closed_form_moments():
    # The bootstrap distribution of a mean has E* = mean and Var* = mean((v - vbar)^2) / n exactly.
    rng = np.random.default_rng(3)
    v = np.where(rng.random(500) < 0.1, rng.random(500), 0.0)
    means = _bootstrap_means(Contributions.of(v), 40000, np.random.default_rng(4))
    assert means.mean() == pytest.approx(v.mean(), rel=0.01)
    assert means.var() == pytest.approx(np.mean((v - v.mean()) ** 2) / v.size, rel=0.05)


def test_normal_regime_has_the_same_moments(monkeypatch):
    import bbcollapse.stats.bootstrap as boot

    rng = np.random.default_rng(3)
    v = np.where(rng.random(500) < 0.3, rng.random(500), 0.0)
    monkeypatch.setattr(boot, "MULTINOMIAL_CELLS", 10)  # force the CLT path
    means = _bootstrap_means(Contributions.of(v), 40000, np.random.default_rng(4))
    assert means.mean() == pytest.approx(v.mean(), rel=0.01)
    assert means.var() == pytest.approx(np.mean((v - v.mean()) ** 2) / v.size, rel=0.05)


def test_a_collapsed_anchor_has_a_point_interval_at_the_cap():
    ci = bb.bootstrap_mccs(None, contributions=Contributions.of(np.ones(10_000)), n_boot=200)
    assert ci.lo == ci.hi == ci.estimate == bb.stats.MCCS_CODE_CAP


def test_contributions_merge_and_mean():
    c = Contributions.of([0.0, 0.5, 0.0]).merge(Contributions.of([1.0]))
    assert c.n == 4 and c.mean == pytest.approx(0.375)
    np.testing.assert_array_equal(c.nonzero, [0.5, 1.0])


def test_bootstrap_mccs_covers_planted_truth():
    world = PlantedSphere(dim=12, masses=(0.05,), spread=0.12, centres_seed=1)
    anchor = world.centres[0]
    truth = bb.mccs(world.mean_similarity(anchor, THETA))
    reps, hits = 120, 0
    for i in range(reps):
        ci = bb.bootstrap_mccs(anchor, world(1000 + i, 2000).x, theta=THETA, n_boot=400, seed=i)
        hits += ci.covers(truth)
    assert 0.88 <= hits / reps <= 0.995, hits / reps


def test_bootstrap_population_covers_known_mu_sigma():
    rng = np.random.default_rng(5)
    hits_mu = hits_sigma = 0
    reps = 150
    for i in range(reps):
        v = rng.normal(0.4, 0.06, size=200)
        ci = bb.bootstrap_population(v, n_boot=400, seed=i)
        hits_mu += ci.mu.covers(0.4)
        hits_sigma += ci.sigma.covers(0.06)
    assert 0.88 <= hits_mu / reps <= 0.99 and 0.85 <= hits_sigma / reps <= 0.99, (hits_mu, hits_sigma)


def test_two_sample_comparison_holds_its_level_and_finds_a_real_drop():
    """p < 0.05 in about 5% of pairs of samples of the same law, and nearly always for a halved mass."""
    same = PlantedSphere(dim=12, masses=(0.05,), spread=0.12, centres_seed=1)
    half = PlantedSphere(dim=12, masses=(0.025,), spread=0.12, centres_seed=1)
    anchor = same.centres[0]
    reps, false_alarms, found = 80, 0, 0
    for i in range(reps):
        s0 = bb.similarity_contributions(anchor, same(2000 + i, 1500).x, THETA)
        s1 = bb.similarity_contributions(anchor, same(5000 + i, 1500).x, THETA)
        s2 = bb.similarity_contributions(anchor, half(8000 + i, 1500).x, THETA)
        false_alarms += compare_mccs(s0, s1, n_boot=400, seed=i).p_value < 0.05
        d = compare_mccs(s0, s2, n_boot=400, seed=i)
        found += d.hi < 0
        assert d.estimate == pytest.approx(d.after.estimate - d.before.estimate)
    assert false_alarms / reps <= 0.125, false_alarms
    assert found / reps >= 0.9, found


def test_population_comparison_sees_a_shift_of_mu_and_not_of_sigma():
    rng = np.random.default_rng(9)
    a, b = rng.normal(0.40, 0.05, 400), rng.normal(0.37, 0.05, 400)
    d = compare_population(a, b, n_boot=1000, seed=1)
    assert d["mu"].hi < 0 and d["mu"].p_value < 0.01
    assert d["sigma"].lo <= 0 <= d["sigma"].hi


def test_two_way_population_bootstrap_matches_the_spread_across_pools():
    """The se of mu from one pool (anchors and samples resampled) against mu's spread over 24 pools."""
    from bbcollapse.stats import similarity_matrix
    from bbcollapse.stats.bootstrap import _population_replicates

    world = PlantedSphere(dim=12, masses=(0.08,), spread=0.12, centres_seed=1)
    mus, ses = [], []
    for i in range(24):
        sim = similarity_matrix(world(1000 + i, 120).x, world(5000 + i, 1500).x, THETA)
        assert sim.shape == (120, 1500) and sim.nnz < 0.5 * 120 * 1500  # sparse: pairs beyond theta are not stored
        (mu, reps), _ = _population_replicates(sim, 300, i)
        mus.append(mu)
        ses.append(reps.std(ddof=1))
    assert 0.7 < np.mean(ses) / np.std(mus, ddof=1) < 1.45, (np.mean(ses), np.std(mus, ddof=1))
    dense = world(1, 1500).x
    sim = similarity_matrix(world(2, 40).x, dense, THETA)
    st = bb.neighbor_stats(anchors=world(2, 40).x, samples=dense, theta=THETA)
    np.testing.assert_allclose(np.asarray(sim.mean(axis=1)).ravel(), st.mean_similarity, rtol=1e-9, atol=1e-15)
