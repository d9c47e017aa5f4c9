"""The 2-D ring and grid (seed 004, section 5.1): the mixtures, the three metrics, the descriptor, planted collapse.

Every metric is checked on constructed points whose answer is known in closed form, and against an
independent float64 loop over points and means.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from bbcollapse.lab.ring2d import (
    PlantedIntraMode,
    RandomFourierFeatures,
    assign_modes,
    benchmark,
    bootstrap_mode_scores,
    grid,
    mode_scores,
    ring,
    scores_from_counts,
    training_set,
)
from bbcollapse.lab.toy_study import mean_sd, within_mode_spread, worst_case_mccs

#: P(|x| <= 3 sd) for a 2-D isotropic Gaussian: 1 - exp(-9/2)
IN_3SD = 1.0 - math.exp(-4.5)


# --------------------------------------------------------------------------- the mixtures
def test_ring_is_the_seed_s_eight_means_at_radius_two():
    spec = ring()
    assert spec.m == 8 and spec.sd == 0.001
    steps = np.arctan2(spec.means[:, 1], spec.means[:, 0]) / (np.pi / 4)  # angles in units of pi/4
    np.testing.assert_allclose(np.hypot(*spec.means.T), 2.0)
    np.testing.assert_allclose(steps, np.round(steps), atol=1e-12)
    assert set(np.mod(np.round(steps), 8).astype(int)) == set(range(8))
    np.testing.assert_allclose(spec.means[0], [2 * math.cos(math.pi / 4), 2 * math.sin(math.pi / 4)])


def test_grid_is_the_seed_s_25_means():
    spec = grid()
    assert spec.m == 25 and spec.sd == 0.0025
    assert {tuple(m) for m in spec.means} == {(2.0 * i, 2.0 * j) for i in range(-2, 3) for j in range(-2, 3)}


def test_literature_variant_is_pacgan_s_released_configuration():
    r, g = ring("literature"), grid("literature")
    np.testing.assert_allclose(np.hypot(*r.means.T), 1.0)
    assert (r.sd, g.sd) == (0.01, 0.05)
    np.testing.assert_array_equal(g.means, grid().means)
    assert g.sd**2 == pytest.approx(grid().sd)  # the seed's grid "sd" is the literature's variance


def test_training_set_has_equal_counts_per_mode_and_is_deterministic():
    for name, per_mode in (("ring", 12_500), ("grid", 4_000)):
        spec = benchmark(name)
        x = training_set(spec, 3)
        assert x.shape == (100_000, 2) and x.dtype == np.float32
        nearest, _ = assign_modes(x, spec)
        np.testing.assert_array_equal(np.bincount(nearest, minlength=spec.m), per_mode)
        np.testing.assert_array_equal(x, training_set(spec, 3))
        assert not np.array_equal(x, training_set(spec, 4))


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="variant"):
        ring("paper")
    with pytest.raises(ValueError, match="benchmark"):
        benchmark("spiral")
    with pytest.raises(ValueError, match="multiple"):
        ring().sample(0, 10, stratified=True)
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        mode_scores(np.zeros((4, 3)), ring())


# --------------------------------------------------------------------------- the metrics
def test_points_on_every_mean_score_all_modes_full_quality_zero_kl():
    spec = grid()
    s = mode_scores(np.repeat(spec.means, 4, axis=0), spec)
    assert (s.modes, s.quality, s.n) == (25, 1.0, 100)
    assert s.reverse_kl == pytest.approx(0.0, abs=1e-12)


def test_all_points_in_one_mode_have_reverse_kl_log_m():
    spec = ring()
    s = mode_scores(np.repeat(spec.means[3:4], 50, axis=0), spec)
    assert (s.modes, s.quality) == (1, 1.0)
    assert s.reverse_kl == pytest.approx(math.log(8))


def test_low_quality_points_make_the_reverse_kl_negative_as_the_seed_says():
    spec = ring()
    good = np.repeat(spec.means, 10, axis=0)
    bad = np.zeros((80, 2))  # the centre of the ring: 2 from every mean
    s = mode_scores(np.vstack([good, bad]), spec)
    assert s.quality == pytest.approx(0.5)
    assert s.reverse_kl == pytest.approx(0.5 * math.log(0.5))  # sum_i (1/16) log((1/16) 8)
    assert s.reverse_kl < 0


def test_normalised_reverse_kl_ignores_low_quality_points():
    spec = ring()
    x = np.vstack([np.repeat(spec.means[:2], 5, axis=0), np.zeros((90, 2))])
    s = mode_scores(x, spec)
    assert s.reverse_kl == pytest.approx(0.1 * math.log(0.05 * 8))  # the seed's: negative
    assert s.reverse_kl_normalised == pytest.approx(math.log(4))  # two equal modes of eight
    assert mode_scores(np.zeros((5, 2)), spec).reverse_kl_normalised == 0.0


def test_reverse_kl_of_an_unequal_split():
    spec = ring()
    x = np.vstack([np.repeat(spec.means[:1], 75, axis=0), np.repeat(spec.means[1:2], 25, axis=0)])
    assert mode_scores(x, spec).reverse_kl == pytest.approx(0.75 * math.log(6) + 0.25 * math.log(2))


def test_three_sd_boundary_counts_as_high_quality():
    spec = ring()
    centre = spec.means[0]
    on = centre + [3 * spec.sd, 0.0]
    off = centre + [3 * spec.sd * (1 + 1e-6), 0.0]
    assert mode_scores(np.array([on]), spec).quality == 1.0
    assert mode_scores(np.array([off]), spec).quality == 0.0


def test_metrics_equal_a_float64_loop_over_points_and_means():
    rng = np.random.default_rng(0)
    spec = grid("literature")
    x = spec.means[rng.integers(0, spec.m, 3000)] + rng.normal(0, 2.5 * spec.sd, (3000, 2))
    counts = np.zeros(spec.m, dtype=np.int64)
    for p in x:
        d = [math.dist(p, m) for m in spec.means]
        i = int(np.argmin(d))
        counts[i] += d[i] <= 3 * spec.sd
    p = counts / len(x)
    ref_rkl = sum(pi * math.log(pi * spec.m) for pi in p if pi > 0)
    s = mode_scores(x, spec)
    np.testing.assert_array_equal(s.counts, counts)
    assert (s.modes, s.quality) == (int((counts > 0).sum()), counts.sum() / len(x))
    assert s.reverse_kl == pytest.approx(ref_rkl, rel=1e-12)


def test_quality_of_the_true_mixture_is_the_closed_form():
    spec = ring()
    x, _ = spec.sample(5, 400_000)
    s = mode_scores(x, spec)
    se = math.sqrt(IN_3SD * (1 - IN_3SD) / s.n)
    assert s.modes == 8
    assert abs(s.quality - IN_3SD) < 4 * se
    # with p_i = q/8 for every mode, the reverse KL is q log q
    assert s.reverse_kl == pytest.approx(IN_3SD * math.log(IN_3SD), abs=4 * se)


def test_bootstrap_intervals_cover_the_estimate_with_the_binomial_width():
    spec = ring()
    x, _ = spec.sample(1, 50_000)
    ci = bootstrap_mode_scores(x, spec, n_boot=500, seed=2)
    q = ci["quality"]
    assert q.lo <= q.estimate <= q.hi
    assert q.se == pytest.approx(math.sqrt(q.estimate * (1 - q.estimate) / 50_000), rel=0.2)
    assert ci["modes"].lo == ci["modes"].hi == 8


def test_scores_from_counts_handles_empty_modes():
    assert scores_from_counts([0, 0, 10, 0], 20) == (1, 0.5, pytest.approx(0.5 * math.log(2)))


def test_mean_sd_is_the_sample_sd():
    assert mean_sd([1.0, 2.0, 3.0]) == (2.0, 1.0)
    assert mean_sd([4.0]) == (4.0, 0.0)


# --------------------------------------------------------------------------- the descriptor
def test_rff_cosine_approximates_the_gaussian_kernel():
    d = RandomFourierFeatures(lengthscale=0.01, dim=8192, seed=1)
    x0 = np.array([[2.0, 0.0]])
    deltas = np.array([0.0, 0.005, 0.01, 0.02, 0.05])
    pts = x0 + np.column_stack([deltas, np.zeros_like(deltas)])
    e = d(pts)
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)
    cos = e @ e[0]
    np.testing.assert_allclose(cos, d.kernel(deltas), atol=0.04)  # O(1/sqrt(D)) noise
    assert abs(cos[-1]) < 0.04


def test_rff_is_deterministic_and_refuses_bad_input():
    a = RandomFourierFeatures(0.1, dim=16, seed=3)
    np.testing.assert_array_equal(a(np.ones((2, 2))), RandomFourierFeatures(0.1, dim=16, seed=3)(np.ones((2, 2))))
    with pytest.raises(ValueError, match="lengthscale"):
        RandomFourierFeatures(0.0)
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        a(np.ones(3))


# --------------------------------------------------------------------------- planted intra-mode collapse
def test_planted_collapse_keeps_seed_004_s_metrics_and_shrinks_the_mode():
    spec = ring()
    truth = PlantedIntraMode(spec)
    xt = truth(0, 200_000).x
    for k in (1, 10):
        planted = PlantedIntraMode(spec, k, collapsed=2)
        x = planted(0, 200_000).x
        s, st = mode_scores(x, spec), mode_scores(xt, spec)
        assert s.modes == st.modes == 8
        assert st.quality - 0.002 <= s.quality <= st.quality + 0.0025  # at most +1.1% of one mode, plus noise
        assert s.reverse_kl == pytest.approx(st.reverse_kl, abs=0.005)
        spread = within_mode_spread(x, spec)
        # one prototype: the mode is a point plus 0.1 sd jitter; ten stratified prototypes fool the spread too
        assert spread[2] == pytest.approx(0.1, abs=0.02) if k == 1 else spread[2] > 0.8
    np.testing.assert_allclose(within_mode_spread(xt, spec), math.sqrt(1 - 4.5 * math.exp(-4.5) / IN_3SD), atol=0.02)


def test_planted_prototypes_are_distinct_and_arguments_checked():
    p = PlantedIntraMode(grid(), 7, collapsed=24)
    assert len(np.unique(p.centres, axis=0)) == 7
    with pytest.raises(ValueError, match="collapsed"):
        PlantedIntraMode(ring(), 2, collapsed=8)
    with pytest.raises(ValueError, match="jitter"):
        PlantedIntraMode(ring(), 2, jitter=1.0)


def test_mccs_of_the_worst_case_finds_the_planted_mode_and_rises():
    spec = ring()
    desc = RandomFourierFeatures(spec.sd / 4, dim=256, seed=1)
    kw = dict(n_anchors=300, n_select=8_000, n_score=8_000, n_boot=300, seed=4)
    healthy = worst_case_mccs(PlantedIntraMode(spec), desc, spec, **kw)
    collapsed = worst_case_mccs(PlantedIntraMode(spec, 1, collapsed=5), desc, spec, **kw)
    assert collapsed.mode == 5
    assert collapsed.mccs_worst.lo > healthy.mccs_worst.hi
    assert healthy.sizes == (300, 8_000, 8_000)
