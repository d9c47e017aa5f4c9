"""The Inception-Score analogue on class probabilities: closed forms and a direct computation."""

import numpy as np
import pytest

from bbcollapse.metrics import inception_score_analogue


def test_closed_forms():
    k = 10
    one_hot = np.eye(k)[np.arange(200) % k]  # confident and every class equally used -> K
    assert inception_score_analogue(one_hot, classifier="toy").value == pytest.approx(k, rel=1e-12)
    same = np.tile(np.random.default_rng(0).dirichlet(np.ones(k)), (50, 1))  # one distribution for all -> 1
    assert inception_score_analogue(same, classifier="toy").value == pytest.approx(1.0, rel=1e-12)
    half = np.eye(k)[np.arange(200) % 2]  # two classes used, confidently -> 2
    assert inception_score_analogue(half, classifier="toy").value == pytest.approx(2.0, rel=1e-12)


def test_direct_computation_and_splits(rng):
    p = rng.dirichlet(np.full(5, 0.3), size=120)
    got = inception_score_analogue(p, classifier="the toy classifier", splits=4)
    py = p.mean(0)
    direct = np.exp(np.mean([sum(pi[c] * np.log(pi[c] / py[c]) for c in range(5) if pi[c] > 0) for pi in p]))
    assert got.value == pytest.approx(direct, rel=1e-10)
    parts = [inception_score_analogue(q, classifier="x").value for q in np.array_split(p, 4)]
    assert got.split_mean == pytest.approx(np.mean(parts)) and got.split_std == pytest.approx(np.std(parts, ddof=1))
    assert "the toy classifier" in got.name and got.n_classes == 5


def test_bad_input():
    with pytest.raises(ValueError, match="sum to 1"):
        inception_score_analogue(np.full((4, 3), 0.5), classifier="x")
    with pytest.raises(ValueError, match="non-negative"):
        inception_score_analogue(np.array([[1.5, -0.5], [0.5, 0.5]]), classifier="x")
    with pytest.raises(ValueError, match="splits"):
        inception_score_analogue(np.eye(3)[[0, 1, 2, 0]], classifier="x", splits=3)
