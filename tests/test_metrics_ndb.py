"""NDB: bins and two-proportion z tests against a direct computation; its level on equal laws; a planted bin."""

import math

import numpy as np
import pytest

from bbcollapse.metrics import assign_bins, ndb_bins, ndb_test, two_proportion_z


def test_z_test_matches_direct_computation():
    k1, n1, k2, n2 = [30, 0, 55, 12], 400, [10, 0, 90, 12], 300
    z, p = two_proportion_z(k1, n1, k2, n2)
    for i in range(4):
        pool = (k1[i] + k2[i]) / (n1 + n2)
        se = math.sqrt(pool * (1 - pool) * (1 / n1 + 1 / n2))
        zi = 0.0 if se == 0 else (k2[i] / n2 - k1[i] / n1) / se
        assert z[i] == pytest.approx(zi, abs=1e-12)
        assert p[i] == pytest.approx(math.erfc(abs(zi) / math.sqrt(2)), abs=1e-12)


def test_bins_assignment_and_counts_match_brute_force(rng):
    ref, smp = rng.standard_normal((300, 4)), rng.standard_normal((200, 4)) + 0.2
    centres = ndb_bins(ref, 8, seed=1)
    brute = np.array([np.argmin([np.sum((x - c) ** 2) for c in centres]) for x in smp])
    assert (assign_bins(smp, centres) == brute).all()
    got = ndb_test(reference=ref, samples=smp, bins=centres)
    share = np.bincount(brute, minlength=8) / len(smp)
    assert np.allclose(got.sample_share, share)
    assert got.n_different == int((got.p_value < 0.05).sum())
    # the same bins from the number of bins and the seed
    assert ndb_test(reference=ref, samples=smp, bins=8, seed=1).n_different == got.n_different


def test_level_on_equal_laws_and_power_on_a_planted_bin():
    rng = np.random.default_rng(11)
    ref = rng.standard_normal((4000, 2))
    centres = ndb_bins(ref, 20, seed=0)
    fractions = [ndb_test(reference=ref, samples=rng.standard_normal((2000, 2)), bins=centres).value for _ in range(60)]
    assert 0.02 < np.mean(fractions) < 0.08  # about alpha of the bins differ by chance
    # plant: 20% of the samples are copies of one point -> its bin is flagged
    smp = rng.standard_normal((2000, 2))
    smp[:400] = smp[0]
    got = ndb_test(reference=ref, samples=smp, bins=centres)
    b = assign_bins(smp[:1], centres)[0]
    assert got.p_value[b] < 1e-6 and got.z[b] > 0 and got.js_divergence > 0.01


def test_bad_input(rng):
    with pytest.raises(ValueError, match="n_bins"):
        ndb_bins(rng.standard_normal((5, 2)), 10)
    with pytest.raises(ValueError, match="features"):
        ndb_test(reference=rng.standard_normal((50, 2)), samples=rng.standard_normal((50, 3)))
    with pytest.raises(ValueError, match="alpha"):
        ndb_test(reference=rng.standard_normal((50, 2)), samples=rng.standard_normal((50, 2)), bins=3, alpha=1.5)
