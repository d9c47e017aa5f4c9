"""diagnose(): against a float64 brute force and the planted sphere's closed-form truth."""
from __future__ import annotations

import json

import numpy as np
import pytest

from bbcollapse.blackbox import identity_descriptor, shard_seed
from bbcollapse.diagnosis import Report, diagnose
from bbcollapse.neighbors import PAPER_GRID
from bbcollapse.store import shard_sizes
from bbcollapse.subjects.synthetic import PlantedSphere

PS = PlantedSphere(dim=16, masses=(0.08, 0.03), spread=0.1, centres_seed=3)
M, N, SEED, SHARD = 200, 3000, 11, 700
THETA, R = 0.3, 0.25


def draw(stream, n):
    """The set of a stream, drawn directly from the documented seed protocol."""
    return np.concatenate([PS(shard_seed(SEED, stream, j), n_j).x for j, n_j in enumerate(shard_sizes(n, SHARD))])


def brute_force(a, c, *, theta, r, grid):
    """Float64 reference, written from the paper's definitions (not the engine)."""
    cos = a.astype(np.float64) @ c.astype(np.float64).T
    d = np.arccos(np.clip(cos, -1, 1)) / np.pi
    s = np.expm1(np.maximum(0.0, theta - d)) / np.expm1(theta)
    mean_s = s.mean(axis=1)
    counts = (cos >= np.cos(np.pi * r)).sum(axis=1)
    curve = np.stack([(cos >= np.cos(np.pi * g)).sum(axis=1) for g in grid], axis=1)
    return dict(d=d, s=s, mean_s=mean_s, counts=counts, curve=curve)


@pytest.fixture(scope="module")
def run():
    report = diagnose(PS, identity_descriptor, n_anchors=M, n_samples=N, seed=SEED, theta=THETA, r=R, top=3, shard_size=SHARD, k=5, progress=False)
    a, c = draw(0, M), draw(1, N)
    return report, a, c, brute_force(a, c, theta=THETA, r=R, grid=PAPER_GRID)


def test_matches_float64_brute_force(run):
    report, a, c, ref = run
    np.testing.assert_array_equal(report.counts, ref["counts"])
    code = np.where(ref["mean_s"] > 0, 1 / -np.log10(np.where(ref["mean_s"] > 0, ref["mean_s"], 1)), 0.0)
    np.testing.assert_allclose(report.mccs, code, rtol=1e-9, atol=0)
    worst = int(np.argmax(ref["counts"]))  # argmax takes the lowest index on ties
    assert report.worst == worst == report.modes[0]
    assert report.worst_mccs == pytest.approx(code[worst], rel=1e-9)
    np.testing.assert_array_equal(report.worst_curve, ref["curve"][worst])
    np.testing.assert_array_equal(report.random_curves, ref["curve"][report.random_anchors])
    np.testing.assert_array_equal(report.mode_curves, ref["curve"][report.modes])
    nearest = np.lexsort((np.arange(N), ref["d"][worst]))[:5]
    np.testing.assert_array_equal(report.nearest_index, nearest)
    np.testing.assert_allclose(report.nearest_dist, ref["d"][worst][nearest], atol=1e-9)
    assert report.mu == pytest.approx(code.mean(), rel=1e-9)
    assert report.sigma == pytest.approx(code.std(ddof=1), rel=1e-9)


def test_anchor_and_sample_sets_are_disjoint(run):
    _, a, c, _ = run
    assert not (a[:, None, :] == c[None, :, :]).all(axis=2).any()


def test_worst_and_distinct_modes_are_the_planted_identities(run):
    report, a, _, ref = run
    to_centres = np.arccos(np.clip(a.astype(np.float64) @ PS.centres.T, -1, 1)) / np.pi
    # I_w sits in the heavier planted identity, the second mode in the other one
    assert to_centres[report.worst, 0] <= PS.spread + 1e-6
    assert to_centres[report.modes[1], 1] <= PS.spread + 1e-6
    # closed-form truth of the planted law: neighbour probability and mean similarity of I_w
    p = PS.neighbor_prob(a[report.worst], R)
    assert abs(report.worst_count - N * p) <= 5 * np.sqrt(N * p * (1 - p))
    m_true = PS.mean_similarity(a[report.worst], THETA)
    se = ref["s"][report.worst].std(ddof=1) / np.sqrt(N)
    m_hat = 10 ** (-1 / report.worst_mccs)
    assert abs(m_hat - m_true) <= 5 * se
    assert report.worst_mccs > report.mu + 2 * report.sigma  # the planted collapse stands out


def test_paper_form(run):
    _, a, c, ref = run
    rep = diagnose(PS, identity_descriptor, n_anchors=M, n_samples=N, seed=SEED, theta=THETA, r=R, top=2, shard_size=SHARD, form="paper", progress=False)
    m = ref["mean_s"]
    expect = np.where(m > 0, 1 / (1 - np.log(np.where(m > 0, m, 1))), 0.0)
    np.testing.assert_allclose(rep.mccs, expect, rtol=1e-9)


def test_store_gives_the_same_report_and_resumes(run, tmp_path):
    report = run[0]
    calls = {"n": 0}

    def counting(seed, n):
        calls["n"] += n
        return PS(seed, n)

    counting.identity = "counted planted sphere"
    kw = dict(n_anchors=M, n_samples=N, seed=SEED, theta=THETA, r=R, top=3, shard_size=SHARD, k=5, progress=False)
    first = diagnose(counting, identity_descriptor, store=tmp_path / "st", **kw)
    assert calls["n"] == M + N
    second = diagnose(counting, identity_descriptor, store=tmp_path / "st", **kw)
    assert calls["n"] == M + N  # nothing sampled again
    for rep in (first, second):
        for name in ("mccs", "counts", "modes", "mode_curves", "random_anchors", "random_curves", "nearest_index"):
            np.testing.assert_array_equal(getattr(rep, name), getattr(report, name))
        assert (rep.mu, rep.sigma, rep.worst) == (report.mu, report.sigma, report.worst)


def test_report_saves_json_and_figures(run, tmp_path):
    report = run[0]
    path = report.save(tmp_path / "out")
    doc = json.loads(path.read_text())
    assert doc["worst_mccs"] == report.worst_mccs and doc["config"]["n_samples"] == N
    assert doc["sampler"].startswith("PlantedSphere(dim=16")
    for fig in ("curves.png", "mccs_hist.png"):
        assert (tmp_path / "out" / fig).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    back = Report.load(tmp_path / "out")
    np.testing.assert_array_equal(back.mccs, report.mccs)
    np.testing.assert_array_equal(back.mode_curves, report.mode_curves)
    assert back.worst == report.worst and back.mu == report.mu
    assert "MCCS(I_w)" in repr(report) and "mu, sigma" in report.summary()


def test_bootstrap_intervals_when_available(run):
    report = run[0]
    hyp = pytest.importorskip("bbcollapse.stats")
    if not hasattr(hyp, "bootstrap_population"):
        pytest.skip("bootstrap_population not written yet")
    ci = report.bootstrap["mu"]
    assert ci["lo"] <= report.mu <= ci["hi"]


def test_bad_arguments():
    kw = dict(n_anchors=10, n_samples=10, progress=False)
    with pytest.raises(ValueError, match="n_anchors must be an integer >= 2"):
        diagnose(PS, identity_descriptor, **{**kw, "n_anchors": 1})
    with pytest.raises(ValueError, match="theta must be a float in"):
        diagnose(PS, identity_descriptor, theta=1.5, **kw)
    with pytest.raises(ValueError, match="form must be one of"):
        diagnose(PS, identity_descriptor, form="log", **kw)
    with pytest.raises(ValueError, match="must be unit vectors"):
        diagnose(PS, lambda x: 2 * np.asarray(x), **kw)


def test_interrupted_diagnosis_resumes_from_the_store(run, tmp_path):
    report = run[0]
    state = {"samples": 0, "fail_after": M + 2 * SHARD}

    def flaky(seed, n):
        if state["samples"] + n > state["fail_after"]:
            raise KeyboardInterrupt("simulated crash in the middle of C")
        state["samples"] += n
        return PS(seed, n)

    flaky.identity = "flaky planted sphere"
    kw = dict(n_anchors=M, n_samples=N, seed=SEED, theta=THETA, r=R, top=3, shard_size=SHARD, k=5, progress=False)
    with pytest.raises(KeyboardInterrupt):
        diagnose(flaky, identity_descriptor, store=tmp_path / "st", **kw)
    assert state["samples"] == M + 2 * SHARD  # anchors and two shards of C were stored
    state.update(samples=0, fail_after=10**9)
    resumed = diagnose(flaky, identity_descriptor, store=tmp_path / "st", **kw)
    assert state["samples"] == N - 2 * SHARD  # only the missing shards were sampled
    np.testing.assert_array_equal(resumed.mccs, report.mccs)
    np.testing.assert_array_equal(resumed.mode_curves, report.mode_curves)
    np.testing.assert_array_equal(resumed.nearest_index, report.nearest_index)
