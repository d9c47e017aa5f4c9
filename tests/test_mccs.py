"""MCCS forms (Eq. 7), population statistics (Eq. 8) and the kernel they rest on, against closed forms."""

import math
import statistics

import numpy as np
import pytest

import bbcollapse as bb


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
