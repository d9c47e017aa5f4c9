"""MCCS forms (Eq. 7), the degenerate-anchor rule, population statistics (Eq. 8) and the kernel they rest on,
against closed forms and exact duplicates."""

import math
import statistics

import numpy as np
import pytest

import bbcollapse as bb
from bbcollapse.stats import DEGENERATE_TOL, MCCS_CODE_CAP, degenerate


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
    assert bb.mccs(1.0, form="paper") == 1.0  # Eq. 7's upper extreme, exactly


def test_code_form_is_capped_at_the_degenerate_edge_and_stays_monotone():
    assert MCCS_CODE_CAP == pytest.approx(1 / -math.log10(1 - 2**-8), rel=1e-15)
    assert bb.mccs(1.0, form="code") == MCCS_CODE_CAP  # not inf
    edge = 1 - DEGENERATE_TOL
    below = np.nextafter(edge, 0.0)
    assert bb.mccs(below, form="code") == pytest.approx(MCCS_CODE_CAP, rel=1e-12)  # continuous at the edge
    m = np.linspace(0, 1, 20001)
    for form in ("code", "paper"):
        v = bb.mccs(m, form=form)
        assert np.isfinite(v).all() and (np.diff(v) >= 0).all()
    assert bb.mccs(m, form="paper").max() == 1.0 and bb.mccs(m, form="paper").min() == 0.0
    # the code form leaves [0, 1] as soon as m > 0.1: the paper's "MCCS ranges between 0 and 1" is Eq. 7's
    assert bb.mccs(0.1001, form="code") > 1


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("dim", [2, 12, 128, 512])
@pytest.mark.parametrize("theta", [0.05, 0.1, 0.3, 0.4, 1.0])
def test_exact_duplicates_score_the_same_whatever_the_rounding(dtype, dim, theta):
    """The rule's premise, measured: every anchor whose samples are all copies of it is degenerate,
    so its MCCS is the cap (code) or 1 (paper), never inf or a rounding-dependent 1e15."""
    rng = np.random.default_rng(dim)
    a = bb.unit(rng.standard_normal((64, dim)).astype(dtype))
    stats = [
        bb.neighbor_stats(anchors=a[i : i + 1], samples=np.repeat(a[i : i + 1], 9, 0), theta=theta) for i in range(64)
    ]
    m = np.array([s.mean_similarity[0] for s in stats])
    assert (1 - m).max() < DEGENERATE_TOL  # float rounding stays inside the tolerance
    assert degenerate(m).all()
    assert (bb.mccs(m, form="code") == MCCS_CODE_CAP).all()
    assert (bb.mccs(m, form="paper") == 1.0).all()


def test_degenerate_flags_only_total_collapse():
    m = np.array([0.0, 0.5, 0.99, 1 - 2 * DEGENERATE_TOL, 1 - DEGENERATE_TOL, 1.0])
    np.testing.assert_array_equal(degenerate(m), [False, False, False, False, True, True])


def test_mccs_zero_mean_is_zero_not_nan():
    with np.errstate(all="raise"):
        out = bb.mccs(np.array([0.0, 0.5, 0.0, 1.0]))
    assert out[0] == 0.0 and out[2] == 0.0 and out[1] == pytest.approx(1 / math.log10(2))
    assert out[3] == MCCS_CODE_CAP


def test_mccs_rejects_bad_form_and_values():
    with pytest.raises(ValueError, match="form"):
        bb.mccs(0.5, form="log")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        bb.mccs(-0.1)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        bb.mccs(np.nan)


def test_population_matches_stdlib():
    v = [0.3, 0.5, 0.45, 0.9, 0.1]
    p = bb.population(v)
    assert p.mu == pytest.approx(statistics.mean(v)) and p.sigma == pytest.approx(statistics.stdev(v))
    mu, sigma = p
    assert (mu, sigma) == (p.mu, p.sigma)
    with pytest.raises(ValueError, match="at least 2"):
        bb.population([0.4])


def test_population_of_a_totally_collapsed_model_is_the_cap_with_zero_spread():
    p = bb.population(bb.mccs(np.ones(50)))
    assert p.mu == pytest.approx(MCCS_CODE_CAP, rel=1e-12) and p.sigma == pytest.approx(0.0, abs=1e-9)
