"""Neighbour curves, the pointwise band and global envelope tests (stats.envelope), against hand-worked
examples, brute force and simulated levels."""

from __future__ import annotations

import numpy as np
import pytest

import bbcollapse as bb
from bbcollapse.subjects.synthetic import PlantedSphere


# ---------------------------------------------------------------------------------
# ERL worked by hand
# ---------------------------------------------------------------------------------
def test_erl_hand_example():
    # Curves (obs first), 3 grid points:
    #   obs [0, 5, 9]   r1 [1, 2, 3]   r2 [1, 3, 4]   r3 [2, 3, 5]
    # Pointwise ranks from below (average ties) / from above = 5 - below; extreme rank = min:
    #   d0 values 0,1,1,2:  below 1,2.5,2.5,4  above 4,2.5,2.5,1  -> obs 1, r1 2.5, r2 2.5, r3 1
    #   d1 values 5,2,3,3:  below 4,1,2.5,2.5  above 1,4,2.5,2.5  -> obs 1, r1 1,   r2 2.5, r3 2.5
    #   d2 values 9,3,4,5:  below 4,1,2,3      above 1,4,3,2      -> obs 1, r1 1,   r2 2,   r3 2
    # Sorted rank vectors: obs (1,1,1), r1 (1,1,2.5), r3 (1,2,2.5), r2 (2,2.5,2.5)
    # Lexicographic order (most extreme first): obs < r1 < r3 < r2, so #{<= obs} = 1, p = 1/4.
    # Central curves (p_i > 0.25): r1, r2, r3 -> envelope lo = [1,2,3], hi = [2,3,5].
    obs = [0, 5, 9]
    ref = [[1, 2, 3], [1, 3, 4], [2, 3, 5]]
    t = bb.global_envelope_test(obs, ref, alpha=0.25, kind="erl", grid=[0.1, 0.2, 0.3])
    assert t.p_value == pytest.approx(0.25)
    assert t.reject
    np.testing.assert_array_equal(t.lo, [1, 2, 3])
    np.testing.assert_array_equal(t.hi, [2, 3, 5])
    np.testing.assert_array_equal(t.outside_radii, [0.1, 0.2, 0.3])
    assert t.statistic == 1.0


def test_erl_ties_are_counted():
    # Same curves plus a copy of obs (N = 5, above = 6 - below):
    #   d0 values 0,1,1,2,0: below 1.5,3.5,3.5,5,1.5 above 4.5,2.5,2.5,1,4.5 -> obs 1.5 r1 2.5 r2 2.5 r3 1 copy 1.5
    #   d1 values 5,2,3,3,5: below 4.5,1,2.5,2.5,4.5 above 1.5,5,3.5,3.5,1.5 -> obs 1.5 r1 1   r2 2.5 r3 2.5 copy 1.5
    #   d2 values 9,3,4,5,9: below 4.5,1,2,3,4.5     above 1.5,5,4,3,1.5     -> obs 1.5 r1 1   r2 2   r3 2   copy 1.5
    # Sorted: obs (1.5,1.5,1.5) = copy, r1 (1,1,2.5), r3 (1,2,2.5), r2 (2,2.5,2.5)
    # Order: r1 < r3 < obs = copy < r2 -> #{<= obs} = 4 (the tie counts), p = 4/5.
    obs = [0, 5, 9]
    ref = [[1, 2, 3], [1, 3, 4], [2, 3, 5], [0, 5, 9]]
    t = bb.global_envelope_test(obs, ref, alpha=0.2, kind="erl")
    assert t.p_value == pytest.approx(0.8)
    assert not t.reject and not t.outside.any()


def test_mad_hand_example():
    # One grid point, values obs 3, refs 0, 1, 2 (no transform): mean 1.5, sd (ddof=1) sqrt(5/3);
    # studentised deviations 1.16, -1.16, -0.39, 0.39.
    # two-sided: |dev| = 1.16, 1.16, 0.39, 0.39 -> #{T >= T_obs} = 2 (the tie with 0 counts), p = 2/4
    # greater:    dev  = 1.16, -1.16, -0.39, 0.39 -> #{T >= T_obs} = 1, p = 1/4
    t = bb.global_envelope_test([3], [[0], [1], [2]], alpha=0.25, kind="mad", transform=None)
    assert t.p_value == pytest.approx(0.5) and not t.reject
    assert t.statistic == pytest.approx(1.5 / np.sqrt(5 / 3))
    t = bb.global_envelope_test([3], [[0], [1], [2]], alpha=0.25, kind="mad", transform=None, alternative="greater")
    assert t.p_value == pytest.approx(0.25) and t.reject
    # critical u = 2nd largest T = 0.39 -> upper envelope 1.5 + 0.5 = 2.0
    np.testing.assert_allclose(t.hi, [2.0])


def test_mad_extreme_curve_has_smallest_p_and_leaves_envelope_iff_rejected():
    rng = np.random.default_rng(1)
    ref = np.cumsum(rng.poisson(3.0, size=(99, 20)), axis=1)
    far = ref.mean(axis=0) * 3
    t = bb.global_envelope_test(far, ref, kind="mad", transform="sqrt")
    assert t.p_value == pytest.approx(1 / 100) and t.reject and t.outside.any()
    for i in range(20):  # envelope and p-value must agree exactly for MAD
        obs = np.cumsum(rng.poisson(3.0 + 0.15 * i, size=20))
        t = bb.global_envelope_test(obs, ref, kind="mad", transform="log")
        inside = (obs >= t.lo - 1e-9) & (obs <= t.hi + 1e-9)
        assert t.reject == bool(t.outside.any())
        assert t.reject == (not inside.all())


# ---------------------------------------------------------------------------------
# level by simulation: exchangeable curves
# ---------------------------------------------------------------------------------
def _gp_curves(rng, n, chol):
    """Monotone curves from a smooth Gaussian process: cumsum of exp(GP)."""
    g = rng.standard_normal((n, chol.shape[0])) @ chol.T
    return np.cumsum(np.exp(0.5 * g), axis=1)


def test_global_envelope_holds_level_and_pointwise_does_not():
    rng = np.random.default_rng(2021)
    x = np.linspace(0, 1, 41)
    chol = np.linalg.cholesky(np.exp(-((x[:, None] - x[None]) ** 2) / (2 * 0.1**2)) + 1e-8 * np.eye(41))
    reps, s = 300, 99
    rej = {"pointwise": 0, "erl": 0, "mad": 0}
    for _ in range(reps):
        c = _gp_curves(rng, s + 1, chol)
        obs, ref = c[0], c[1:]
        rej["pointwise"] += bb.pointwise_band(ref).rejects(obs)
        rej["erl"] += bb.global_envelope_test(obs, ref, kind="erl").reject
        rej["mad"] += bb.global_envelope_test(obs, ref, kind="mad").reject
    rate = {k: v / reps for k, v in rej.items()}
    mc = 3 * np.sqrt(0.05 * 0.95 / reps)  # 3 Monte Carlo standard errors
    assert rate["erl"] <= 0.05 + mc and rate["mad"] <= 0.05 + mc, rate
    assert rate["erl"] >= 0.05 - mc and rate["mad"] >= 0.05 - mc, rate  # not vacuous either
    assert rate["pointwise"] >= 0.12, rate


def test_pointwise_band_uses_alpha_over_two_percentiles():
    # 41 reference curves; at each d the values are a permutation of 0..40 (shifted by 100 d
    # to keep curves monotone); percentiles 2.5 and 97.5 of 0..40 are exactly 1 and 39.
    rng = np.random.default_rng(0)
    vals = np.stack([rng.permutation(41) for _ in range(5)], axis=1).astype(float)
    ref = vals + 100 * np.arange(5)
    band = bb.pointwise_band(ref, alpha=0.05)
    np.testing.assert_allclose(band.lo, 1 + 100 * np.arange(5))
    np.testing.assert_allclose(band.hi, 39 + 100 * np.arange(5))  # the authors' 47.5 typo would give 20
    assert not band.rejects(band.lo) and band.rejects(band.hi + 0.5)


# ---------------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------------
def test_bad_input_is_named():
    ref = np.cumsum(np.ones((50, 5)), axis=1)
    with pytest.raises(ValueError, match="obs_curve has 4"):
        bb.global_envelope_test(np.arange(4), ref)
    with pytest.raises(ValueError, match="grid has 3 points"):
        bb.global_envelope_test(np.arange(5), ref, grid=[0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="needs at least 19"):
        bb.global_envelope_test(np.arange(5), ref[:10], alpha=0.05)
    with pytest.raises(ValueError, match="needs at least 99"):
        bb.global_envelope_test(np.arange(5), ref, alpha=0.01)
    with pytest.raises(ValueError, match="needs at least 40"):
        bb.pointwise_band(ref[:30], alpha=0.05)
    with pytest.raises(ValueError, match="obs_curve must be non-decreasing"):
        bb.global_envelope_test([0, 2, 1, 3, 4], ref)
    bad = ref.copy()
    bad[7, 3] = 0
    with pytest.raises(ValueError, match="ref_curves must be non-decreasing.*row 7"):
        bb.pointwise_band(bad)
    with pytest.raises(ValueError, match="kind must be"):
        bb.global_envelope_test(np.arange(5), ref, kind="rank")
    with pytest.raises(ValueError, match=r"alpha must lie in \(0, 1\)"):
        bb.global_envelope_test(np.arange(5), ref, alpha=1.5)
    with pytest.raises(ValueError, match="non-negative"):
        bb.global_envelope_test(np.arange(5) - 10.0, ref - 10.0, kind="mad", transform="log")
    assert bb.min_reference_curves(0.05) == 19
    # non-monotone curves are allowed when asked for
    bb.global_envelope_test([0, 2, 1, 3, 4], ref, monotone=False)


def test_neighbor_curves_match_brute_force():
    world = PlantedSphere(dim=8, masses=(0.2,), spread=0.1, centres_seed=3)
    a = world(1, 20).x
    c = world(2, 500).x
    grid = np.round(np.arange(10, 51, 5) / 100, 2)
    d = bb.angular_distance(a, c)
    brute = (d[:, :, None] <= grid[None, None, :] + 0).sum(axis=1)
    # float64 distances can sit within 1 ulp of a grid point; the engine's definition is on cosines
    cos = a.astype(np.float64) @ c.astype(np.float64).T
    exact = (cos[:, :, None] >= bb.cos_threshold(grid)[None, None, :]).sum(axis=1)
    got = bb.neighbor_curves(a, c, grid=grid)
    np.testing.assert_array_equal(got, exact)
    assert np.abs(got - brute).max() <= 1
    with pytest.raises(ValueError, match="grid must be strictly increasing"):
        bb.neighbor_curves(a, c, grid=[0.2, 0.1])
