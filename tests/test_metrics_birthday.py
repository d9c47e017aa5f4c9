"""The birthday-paradox test on a planted uniform support of known size; pair counts against brute force."""

import math

import numpy as np
import pytest

from bbcollapse.metrics import birthday_test, collision_probability


def test_collision_probability_closed_forms():
    assert collision_probability(365, 23) == pytest.approx(0.507297, abs=1e-6)  # the birthday problem
    assert collision_probability(10, 11) == 1.0  # more draws than points
    direct = 1 - math.prod(1 - i / 50 for i in range(1, 8))
    assert collision_probability(50, 8) == pytest.approx(direct, rel=1e-12)


def test_planted_uniform_support_is_recovered():
    # N well-separated points (random directions in 64-D: no two within the radius), drawn uniformly
    rng = np.random.default_rng(3)
    n_support, s, batches = 300, 20, 3000
    pts = rng.standard_normal((n_support, 64))
    pts /= np.linalg.norm(pts, axis=1, keepdims=True)
    assert (pts @ pts.T - 2 * np.eye(n_support)).max() < np.cos(np.pi * 0.1)  # distinct points are > 0.1 apart
    draws = pts[rng.integers(0, n_support, s * batches)]
    got = birthday_test(draws, batch_size=s, radius=0.1, seed=0)
    assert got.n_batches == batches
    # E[pairs per batch] = C(s, 2) / N exactly; the estimate is within 4 Monte Carlo errors of N
    assert got.support == pytest.approx(n_support, rel=0.06)
    p = collision_probability(n_support, s)
    assert abs(got.duplicate_rate - p) < 4 * np.sqrt(p * (1 - p) / batches)


def test_pair_counts_match_brute_force(rng):
    x = rng.standard_normal((60, 3))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    got = birthday_test(x, batch_size=12, radius=0.2, seed=5)
    order = np.random.default_rng(5).permutation(60).reshape(5, 12)
    d = lambda a, b: np.arccos(np.clip(a @ b, -1, 1)) / np.pi
    pairs = [sum(d(x[b[i]], x[b[j]]) <= 0.2 for i in range(12) for j in range(i + 1, 12)) for b in order]
    assert got.pairs_per_batch == pytest.approx(np.mean(pairs))
    assert got.duplicate_rate == pytest.approx(np.mean(np.array(pairs) > 0))
    assert got.value == got.pairs_per_batch


def test_no_collision_gives_infinite_support_and_json_none(rng):
    q, _ = np.linalg.qr(rng.standard_normal((20, 20)))
    got = birthday_test(q, batch_size=10, radius=0.1)
    assert got.pairs_per_batch == 0 and np.isinf(got.support) and got.as_dict()["support"] is None
    with pytest.raises(ValueError, match="batch_size"):
        birthday_test(q, batch_size=21, radius=0.1)
    with pytest.raises(ValueError, match="radius"):
        birthday_test(q, batch_size=5, radius=1.5)
