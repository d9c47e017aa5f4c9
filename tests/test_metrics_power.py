"""Monte Carlo tests: p-values against direct counting, the level under the null, power against a closed form."""

import numpy as np
import pytest
from scipy import stats

from bbcollapse.metrics import (
    detection_power,
    effect_per_unit,
    monte_carlo_p_values,
    power_table,
    replicate_values,
    standardized_effect,
)


def test_p_values_match_direct_counting_with_ties():
    null = np.array([1.0, 2.0, 2.0, 3.0, 5.0])
    v = np.array([0.5, 2.0, 4.0, 6.0])
    up = [(1 + sum(n >= x for n in null)) / 6 for x in v]
    down = [(1 + sum(n <= x for n in null)) / 6 for x in v]
    assert np.allclose(monte_carlo_p_values(null, v, direction=1), up)
    assert np.allclose(monte_carlo_p_values(null, v, direction=-1), down)
    assert np.allclose(monte_carlo_p_values(null, v, direction=0), np.minimum(1, 2 * np.minimum(up, down)))


@pytest.mark.parametrize("direction", [1, -1, 0])
def test_level_is_alpha_for_continuous_and_at_most_alpha_for_discrete_nulls(direction):
    # R0 = 59 null replicates and one more draw of the same law: one-sided, p <= 0.05 when the draw ranks among
    # the 3 most extreme of 60 (probability 0.05 exactly); two-sided, p = 2 min(up, down) <= 0.05 only at the
    # two extreme ranks (2/60).  With ties (Poisson counts) the rate is at most that.
    rng = np.random.default_rng(direction + 5)
    trials, mc = 4000, 3 * np.sqrt(0.05 * 0.95 / 4000)
    cont = [
        monte_carlo_p_values(rng.standard_normal(59), rng.standard_normal(1), direction=direction)[0]
        for _ in range(trials)
    ]
    level = 2 / 60 if direction == 0 else 3 / 60
    assert abs(np.mean(np.array(cont) <= 0.05) - level) < mc
    disc = [
        monte_carlo_p_values(rng.poisson(2.0, 59), rng.poisson(2.0, 1), direction=direction)[0] for _ in range(trials)
    ]
    assert np.mean(np.array(disc) <= 0.05) < level + mc
    # the leave-one-out false-alarm rate inside detection_power is the same rule
    fa = [detection_power(rng.standard_normal(60), [0.0], direction=direction).false_alarm for _ in range(500)]
    assert abs(np.mean(fa) - level) < 0.015


def test_power_of_a_normal_shift_matches_the_closed_form():
    # null N(0, 1) with many replicates: the test is the one-sided z test at 5%, power 1 - Phi(1.645 - delta)
    rng = np.random.default_rng(1)
    null = rng.standard_normal(4000)
    for delta in (1.0, 2.5):
        got = detection_power(null, rng.standard_normal(2000) + delta, direction=1)
        truth = 1 - stats.norm.cdf(stats.norm.ppf(0.95) - delta)
        assert got.power == pytest.approx(truth, abs=0.035)
        assert got.effect == pytest.approx(delta, abs=0.1)
        assert got.power_ci95[0] <= got.power <= got.power_ci95[1]
        assert got.false_alarm == pytest.approx(0.05, abs=0.012)
    # the wrong declared direction has no power
    assert detection_power(null, rng.standard_normal(500) + 2.5, direction=-1).power == 0.0


def test_effects_and_slope():
    null = np.array([0.0, 1.0, 2.0])  # sd 1
    assert standardized_effect(null, [3.0, 5.0], direction=1) == pytest.approx(3.0)
    assert standardized_effect(null, [3.0, 5.0], direction=-1) == pytest.approx(-3.0)
    assert standardized_effect([1.0, 1.0], [2.0], direction=1) == np.inf
    assert standardized_effect([1.0, 1.0], [1.0], direction=1) == 0.0
    assert effect_per_unit([0.05, 0.1, 0.2], [0.5, 1.0, 2.0]) == pytest.approx(10.0)
    assert effect_per_unit([0.1, 0.2], [1.0, np.inf]) == np.inf
    with pytest.raises(ValueError, match="direction"):
        monte_carlo_p_values([1.0, 2.0], [1.0], direction=2)
    with pytest.raises(ValueError, match="finite"):
        detection_power([1.0, np.nan], [1.0], direction=1)


def test_replicate_values_and_power_table():
    # draw: a normal sample with mean mu; evaluate: its mean -> the replicates are independent N(mu, 1/n)
    draw = lambda mu: lambda s: np.random.default_rng(s).standard_normal(100) + mu
    evaluate = lambda x, s: {"mean": float(x.mean()), "seed": float(s)}
    null = replicate_values(draw(0.0), evaluate, reps=200, seed=1, stream=0)
    shifted = replicate_values(draw(0.3), evaluate, reps=100, seed=1, stream=1)
    assert len(set(null["seed"]) | set(shifted["seed"])) == 300  # distinct seeds across streams
    assert null["mean"].std(ddof=1) == pytest.approx(0.1, rel=0.15)
    again = replicate_values(draw(0.0), evaluate, reps=200, seed=1, stream=0)
    assert np.array_equal(again["mean"], null["mean"])  # a function of (seed, stream)
    table = power_table(
        {"mean": null["mean"]}, {"shift": {"mean": shifted["mean"]}}, directions={"mean": 1}, alpha=0.05
    )
    truth = 1 - stats.norm.cdf(stats.norm.ppf(0.95) - 3.0)  # effect 0.3 / 0.1 = 3 sd
    assert table["shift"]["mean"].power == pytest.approx(truth, abs=0.12)
    with pytest.raises(ValueError, match="direction"):
        power_table({"mean": null["mean"]}, {}, directions={})
    bad = iter([{"a": 1.0}, {"b": 1.0}])
    with pytest.raises(ValueError, match="different read-outs"):
        replicate_values(lambda s: None, lambda x, s: next(bad), reps=2, seed=0, stream=0)
