"""The report's decision on I_w and its sample-size plan (issue 18, must-deliver 1).

References independent of the code under test: a float64 brute force of every anchor's MCCS on T
(``similarity_contributions``, no engine) with the delta method and scipy's normal written out
here; the level measured on spheres where every anchor is equally dense; the power on a planted
collapse; the plan checked by redrawing T at the planned size and measuring the spread.
"""

import json
import math

import numpy as np
import pytest
from scipy import stats

import bbcollapse as bb
from bbcollapse.stats import similarity_contributions
from bbcollapse.subjects.synthetic import PlantedSphere, uniform_sphere


def brute_mccs_code(mean):
    """1 / (-log10 m), the code form of Eq. 7, written out."""
    return 1.0 / (-math.log10(mean)) if 0 < mean < 1 else 0.0


def test_p_value_matches_a_brute_force_of_the_test():
    world = PlantedSphere(dim=16, masses=(0.05,))
    A, C = world(1, 200).x, world(2, 3000).x
    rep = bb.diagnose_embeddings(A, C, theta=0.3, r=0.25, progress=False, seed=4)
    T = np.asarray(C[rep.n_select :], dtype=np.float64)
    contrib = np.array([similarity_contributions(a, T, 0.3) for a in np.asarray(A, dtype=np.float64)])
    scored = np.array([brute_mccs_code(c.mean()) for c in contrib])
    w = rep.worst
    np.testing.assert_allclose(scored[w], rep.decision["worst_mccs"], rtol=1e-6)
    median = np.median(np.delete(scored, w))
    s = contrib[w]
    m, sd = s.mean(), s.std(ddof=1)
    se = math.log(10) / (m * math.log(m) ** 2) * sd / math.sqrt(s.size)  # of MCCS: d MCCS / dm, code form
    m_median = np.median(np.delete(contrib.mean(axis=1), w))  # the test runs on the mean-similarity scale
    z = (m - m_median) / (sd / math.sqrt(s.size))
    p = stats.norm.sf(z)
    d = rep.decision
    np.testing.assert_allclose([d["median_mccs"], d["se"]], [median, se], rtol=1e-5)
    assert d["z"] == pytest.approx(z, rel=1e-6) and d["p_value"] == pytest.approx(p, rel=1e-4, abs=1e-300)
    assert d["rank"] == 1 + int(np.sum(np.delete(scored, w) >= scored[w] - 1e-12))
    assert d["reject"] and d["excess_ci"][0] > 0  # the planted mode: 5% of the mass
    # the plan's |T| is the delta method on I_w's dense contributions
    assert rep.plan["n_score_needed"] == bb.stats.samples_needed(s, half_width=0.01).n_samples


def test_level_on_spheres_where_every_anchor_is_equally_dense():
    """No collapse: the test rejects at about alpha (the rank of a max on S would not)."""
    ps, reps = [], 60
    for rep in range(reps):
        rng = np.random.default_rng(500 + rep)
        A, C = uniform_sphere(rng, 60, 4), uniform_sphere(rng, 1200, 4)
        r = bb.diagnose_embeddings(A, C, theta=0.3, r=0.24, n_random=0, progress=False, seed=rep)
        ps.append(r.decision["p_value"])
        assert r.counts[r.worst] == r.counts.max()  # I_w is the maximum on S, as always
    ps = np.array(ps)
    # at alpha = 0.2 a level-keeping test rejects 12 of 60 on average; 22 or more has probability < 0.5%
    assert np.mean(ps <= 0.2) <= 21 / 60, np.sort(ps)[:25]
    assert np.mean(ps >= 0.5) >= 0.3  # and the p-values are not all small: about half exceed 0.5


def test_power_on_planted_collapse_and_scoring_same_has_no_decision():
    world = PlantedSphere(dim=16, masses=(0.02,))
    rep = bb.diagnose(world, bb.identity_descriptor, n_anchors=300, n_samples=4000, theta=0.3, r=0.25, progress=False)
    assert rep.decision["p_value"] < 1e-6 and rep.decision["reject"]
    assert "denser than the median anchor at 5%" in rep.summary()
    same = bb.diagnose(world, bb.identity_descriptor, n_anchors=100, n_samples=1000, scoring="same", progress=False)
    assert same.decision is None and same.plan is None
    assert "decision    none" in same.summary()


def test_plan_gives_the_requested_precision():
    """Redraw T at the planned size: 1.96 x the spread of MCCS(I_w) is the requested half-width."""
    world = PlantedSphere(dim=16, masses=(0.05,))
    A, C = world(1, 200).x, world(2, 2000).x
    rep = bb.diagnose_embeddings(A, C, theta=0.3, r=0.25, precision=0.02, progress=False)
    n = rep.plan["n_score_needed"]
    assert rep.plan["n_samples_needed"] == 2 * n and rep.plan["precision"] == 0.02
    iw = np.asarray(A, dtype=np.float64)[rep.worst]
    values = [brute_mccs_code(similarity_contributions(iw, world(900 + i, n).x, 0.3).mean()) for i in range(40)]
    half = 1.96 * np.std(values, ddof=1)
    assert 0.7 * 0.02 < half < 1.3 * 0.02, (n, half)


def test_report_round_trip_cli_options_and_bad_values(tmp_path):
    world = PlantedSphere(dim=16, masses=(0.05,))
    rep = bb.diagnose(world, bb.identity_descriptor, n_anchors=100, n_samples=1000, alpha=0.01, progress=False)
    assert rep.decision["alpha"] == 0.01 and rep.config["alpha"] == 0.01
    rep.save(tmp_path / "r")
    back = bb.Report.load(tmp_path / "r")
    assert back.decision == json.loads(json.dumps(rep.decision)) and back.plan == rep.plan
    html = (tmp_path / "r" / "report.html").read_text()
    assert "Decision on I_w" in html and "Sample-size plan" in html
    for bad in (dict(alpha=0), dict(alpha=1.5), dict(precision=-0.1)):
        with pytest.raises(ValueError, match=next(iter(bad))):
            bb.DiagnoseConfig(**bad)


def test_too_few_samples_give_no_test_and_strict_json():
    """|T| = 1: no standard error, so no test, and the report stays strict JSON; total collapse onto I_w rejects."""
    rng = np.random.default_rng(0)
    A = uniform_sphere(rng, 3, 8)
    rep = bb.diagnose_embeddings(A, uniform_sphere(rng, 2, 8), theta=0.3, r=0.25, progress=False)  # |T| = 1
    d = rep.decision
    assert d["reject"] is False and d["se"] is None and d["p_value"] in (1.0, None)
    json.dumps(rep.to_dict(), allow_nan=False)
    assert "n/a" in rep.summary() or "p = 1" in rep.summary()
    collapsed = bb.diagnose_embeddings(A, np.repeat(A[:1], 6, axis=0), theta=0.3, r=0.25, progress=False)
    assert collapsed.decision["reject"] and collapsed.n_degenerate == 1  # every sample of T is I_w itself
    json.dumps(collapsed.to_dict(), allow_nan=False)
