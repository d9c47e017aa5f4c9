"""KID's unbiased MMD^2 against a direct double loop; its jackknife error against brute force and Monte Carlo."""

import numpy as np
import pytest

from bbcollapse.metrics import kernel_distance


def _direct(x, y, degree=3):
    # a plain double loop over pairs, float64: the U-statistic as written in the module docstring
    d = x.shape[1]
    k = lambda a, b: (float(np.dot(a, b)) / d + 1.0) ** degree
    m, n = len(x), len(y)
    sxx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j)
    syy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j)
    sxy = sum(k(x[i], y[j]) for i in range(m) for j in range(n))
    return sxx / (m * (m - 1)) + syy / (n * (n - 1)) - 2 * sxy / (m * n)


def test_value_matches_a_direct_double_loop(rng):
    x, y = rng.standard_normal((13, 4)), rng.standard_normal((9, 4)) + 0.3
    for degree in (1, 3):
        got = kernel_distance(reference=x, samples=y, degree=degree)
        assert got.value == pytest.approx(_direct(x, y, degree), rel=1e-12, abs=1e-13)
    # the linear kernel's MMD^2_u has a closed form: ||mean x - mean y||^2 / d minus the diagonal terms
    x, y = rng.standard_normal((30, 2)), rng.standard_normal((20, 2))
    lin = kernel_distance(reference=x, samples=y, degree=1).value
    d = 2
    closed = (
        (x.sum(0) @ x.sum(0) - (x * x).sum()) / (30 * 29 * d)
        + (y.sum(0) @ y.sum(0) - (y * y).sum()) / (20 * 19 * d)
        - 2 * (x.sum(0) @ y.sum(0)) / (30 * 20 * d)
    )
    assert lin == pytest.approx(closed, rel=1e-10, abs=1e-14)


def test_blocks_do_not_change_the_value(rng, monkeypatch):
    from bbcollapse.metrics import kernel

    x, y = rng.standard_normal((50, 3)), rng.standard_normal((40, 3))
    whole = kernel_distance(reference=x, samples=y)
    real = kernel._kernel_sums
    monkeypatch.setattr(kernel, "_kernel_sums", lambda a, b, deg, **kw: real(a, b, deg, **dict(kw, block=7)))
    blocked = kernel_distance(reference=x, samples=y)
    assert blocked.value == pytest.approx(whole.value, rel=1e-12) and blocked.se == pytest.approx(whole.se, rel=1e-10)


def test_jackknife_error_equals_brute_force_leave_one_out(rng):
    x, y = rng.standard_normal((10, 3)), rng.standard_normal((8, 3)) + 0.5
    got = kernel_distance(reference=x, samples=y)
    lx = np.array([_direct(np.delete(x, i, 0), y) for i in range(len(x))])
    ly = np.array([_direct(x, np.delete(y, j, 0)) for j in range(len(y))])
    m, n = len(x), len(y)
    var = (m - 1) / m * ((lx - lx.mean()) ** 2).sum() + (n - 1) / n * ((ly - ly.mean()) ** 2).sum()
    assert got.se == pytest.approx(np.sqrt(var), rel=1e-9)


@pytest.mark.parametrize("shift, low, high", [(0.0, 1.0, 1.7), (0.3, 0.9, 1.3)])
def test_standard_error_against_monte_carlo_replicates(shift, low, high):
    # the spread of the estimate over independent replicates is the truth the error must track;
    # Efron-Stein: the jackknife is conservative (>= the truth on average), most so under the null
    rng = np.random.default_rng(7)
    vals, ses = [], []
    for _ in range(200):
        r = kernel_distance(reference=rng.standard_normal((150, 8)), samples=rng.standard_normal((100, 8)) + shift)
        vals.append(r.value)
        ses.append(r.se)
    ratio = np.mean(ses) / np.std(vals, ddof=1)
    assert low < ratio < high, ratio
    if shift == 0.0:  # unbiased: the mean over replicates is 0 within its Monte Carlo error
        assert abs(np.mean(vals)) < 3 * np.std(vals, ddof=1) / np.sqrt(len(vals))


def test_result_names_its_features_and_bad_input(rng):
    r = kernel_distance(reference=rng.standard_normal((5, 2)), samples=rng.standard_normal((5, 2)), features="toy")
    assert "toy" in r.name and "KID" in r.name and r.as_dict()["features"] == "toy"
    with pytest.raises(ValueError, match="features"):
        kernel_distance(reference=np.zeros((5, 2)), samples=np.zeros((5, 3)))
    with pytest.raises(ValueError, match="at least 3"):
        kernel_distance(reference=np.zeros((2, 2)), samples=np.zeros((5, 2)))
    with pytest.raises(ValueError, match="NaN"):
        kernel_distance(reference=np.full((5, 2), np.nan), samples=np.zeros((5, 2)))
