"""diagnose(): against a float64 brute force and the planted sphere's closed-form truth.

C is split into S (its first half: selection) and T (the rest: scoring) by default, so every
reference below is computed on the part the report says it used.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import bbcollapse as bb
from bbcollapse.blackbox import identity_descriptor, shard_seed
from bbcollapse.diagnosis import DiagnoseConfig, Report, diagnose, diagnose_embeddings
from bbcollapse.neighbors import PAPER_GRID
from bbcollapse.store import shard_sizes
from bbcollapse.subjects.synthetic import PlantedSphere
from helpers import crashing_sampler

PS = PlantedSphere(dim=16, masses=(0.08, 0.03), spread=0.1, centres_seed=3)
M, N, SEED, SHARD = 200, 3000, 11, 700
THETA, R = 0.3, 0.25
NS = N // 2  # |S|: the first half of C selects, the rest (T) scores


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


def code_mccs(mean_s):
    """The authors' code form 1 / (-log10 m), 0 where m = 0."""
    return np.where(mean_s > 0, 1 / -np.log10(np.where(mean_s > 0, mean_s, 1)), 0.0)


@pytest.fixture(scope="module")
def run():
    report = diagnose(
        PS,
        identity_descriptor,
        n_anchors=M,
        n_samples=N,
        seed=SEED,
        theta=THETA,
        r=R,
        top=3,
        shard_size=SHARD,
        k=5,
        progress=False,
    )
    a, c = draw(0, M), draw(1, N)
    ref = brute_force(a, c, theta=THETA, r=R, grid=PAPER_GRID)
    ref["S"] = brute_force(a, c[:NS], theta=THETA, r=R, grid=PAPER_GRID)
    ref["T"] = brute_force(a, c[NS:], theta=THETA, r=R, grid=PAPER_GRID)
    return report, a, c, ref


def test_matches_float64_brute_force(run):
    report, a, c, ref = run
    S, T = ref["S"], ref["T"]
    assert (report.n_select, report.n_score) == (NS, N - NS)
    np.testing.assert_array_equal(report.counts, S["counts"])  # the selection counts are on S
    code = code_mccs(ref["mean_s"])
    np.testing.assert_allclose(report.mccs, code, rtol=1e-9, atol=0)  # per-anchor MCCS on all of C
    worst = int(np.argmax(S["counts"]))  # argmax takes the lowest index on ties
    assert report.worst == worst == report.modes[0]
    score = code_mccs(T["mean_s"])
    assert report.worst_mccs == pytest.approx(score[worst], rel=1e-9)  # scored on T
    np.testing.assert_allclose(report.mode_mccs, score[report.modes], rtol=1e-9)
    np.testing.assert_allclose(report.random_mccs, score[report.random_anchors], rtol=1e-9)
    np.testing.assert_array_equal(report.mode_counts, T["counts"][report.modes])
    np.testing.assert_array_equal(report.worst_curve, T["curve"][worst])
    np.testing.assert_array_equal(report.random_curves, T["curve"][report.random_anchors])
    np.testing.assert_array_equal(report.mode_curves, T["curve"][report.modes])
    nearest = np.lexsort((np.arange(N - NS), T["d"][worst]))[:5]
    np.testing.assert_array_equal(report.nearest_index, NS + nearest)  # global indices in C
    np.testing.assert_allclose(report.nearest_dist, T["d"][worst][nearest], atol=1e-9)
    assert report.mu == pytest.approx(code.mean(), rel=1e-9)
    assert report.sigma == pytest.approx(code.std(ddof=1), rel=1e-9)
    assert report.n_degenerate == 0


def test_mode_intervals_are_the_bootstrap_over_t(run):
    report, a, c, ref = run
    lo, hi = report.worst_ci
    assert lo <= report.worst_mccs <= hi
    ci = bb.bootstrap_mccs(a[report.worst], c[NS:], theta=THETA, n_boot=2000, seed=SEED)
    assert (lo, hi) == pytest.approx((ci.lo, ci.hi), rel=1e-9)  # the same resampling, seed for seed
    assert report.mode_ci.shape == (len(report.modes), 2) and report.random_ci.shape == (len(report.random_anchors), 2)
    assert (report.mode_ci[:, 0] <= report.mode_mccs).all() and (report.mode_mccs <= report.mode_ci[:, 1]).all()


def test_same_scoring_is_the_papers_way(run):
    _, a, c, ref = run
    rep = diagnose_embeddings(a, c, theta=THETA, r=R, top=3, k=5, scoring="same", seed=SEED)
    worst = int(np.argmax(ref["counts"]))
    assert rep.worst == worst and rep.n_select == rep.n_score == N
    code = code_mccs(ref["mean_s"])
    assert rep.worst_mccs == pytest.approx(code[worst], rel=1e-9) and rep.mode_ci is None and rep.worst_ci is None
    np.testing.assert_array_equal(rep.mode_curves, ref["curve"][rep.modes])


def test_selection_by_mccs_ranks_by_mccs_on_s(run):
    _, a, c, ref = run
    rep = diagnose_embeddings(a, c, theta=THETA, r=R, top=3, select_by="mccs", seed=SEED)
    assert rep.worst == int(np.argmax(ref["S"]["mean_s"])) and rep.config["select_by"] == "mccs"


def test_fresh_scoring_removes_the_selection_bias_that_same_scoring_has():
    """A collapse-free sphere: every anchor has the same true MCCS (closed form).  The maximum of the
    counts, scored on the sample that chose it, overestimates it; scored on T it does not."""
    world = PlantedSphere(dim=8, masses=(), spread=0.1, centres_seed=0)
    truth = bb.mccs(
        world.mean_similarity(world.centres[0] if len(world.centres) else bb.unit(np.ones((1, 8)))[0], THETA)
    )
    same, split = [], []
    for i in range(24):
        a, c = world(10 + i, 150).x, world(1000 + i, 1200).x
        kw = dict(theta=THETA, r=0.2, top=1, k=0, grid=(), seed=i)
        same.append(diagnose_embeddings(a, c, scoring="same", **kw).worst_mccs - truth)
        split.append(diagnose_embeddings(a, c, **kw).worst_mccs - truth)
    same, split = np.array(same), np.array(split)
    assert same.mean() > 4 * same.std(ddof=1) / np.sqrt(len(same))  # biased upward, clearly
    assert abs(split.mean()) < 3 * split.std(ddof=1) / np.sqrt(len(split))  # unbiased within its noise


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
    assert abs(report.worst_count - NS * p) <= 5 * np.sqrt(NS * p * (1 - p))  # counted on S
    m_true = PS.mean_similarity(a[report.worst], THETA)
    se = ref["T"]["s"][report.worst].std(ddof=1) / np.sqrt(N - NS)  # scored on T
    m_hat = 10 ** (-1 / report.worst_mccs)
    assert abs(m_hat - m_true) <= 5 * se
    assert report.worst_mccs > report.mu + 2 * report.sigma  # the planted collapse stands out


def test_paper_form(run):
    _, a, c, ref = run
    rep = diagnose(
        PS,
        identity_descriptor,
        n_anchors=M,
        n_samples=N,
        seed=SEED,
        theta=THETA,
        r=R,
        top=2,
        shard_size=SHARD,
        form="paper",
        progress=False,
    )
    m = ref["mean_s"]
    expect = np.where(m > 0, 1 / (1 - np.log(np.where(m > 0, m, 1))), 0.0)
    np.testing.assert_allclose(rep.mccs, expect, rtol=1e-9)
    t = ref["T"]["mean_s"][rep.worst]
    assert rep.worst_mccs == pytest.approx(1 / (1 - np.log(t)), rel=1e-9)


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


def test_bootstrap_interval_of_mu_has_the_normal_width(run):
    report = run[0]
    ci = report.bootstrap["mu"]
    assert ci["lo"] <= report.mu <= ci["hi"]
    # closed form: a 95% interval of a mean of M values is about 2 * 1.96 * sigma / sqrt(M) wide
    width = 2 * 1.96 * report.sigma / np.sqrt(M)
    assert 0.75 * width <= ci["hi"] - ci["lo"] <= 1.25 * width


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
    flaky, state = crashing_sampler(PS, M + 2 * SHARD, "flaky planted sphere")
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


# -- diagnose_embeddings: the same pipeline on plain arrays -----------------------------
def test_embeddings_match_float64_brute_force_and_diagnose(run):
    report, a, c, ref = run
    rep = diagnose_embeddings(anchors=a, samples=c, seed=SEED, theta=THETA, r=R, top=3, shard_size=SHARD, k=5)
    np.testing.assert_array_equal(rep.counts, ref["S"]["counts"])
    code = code_mccs(ref["mean_s"])
    np.testing.assert_allclose(rep.mccs, code, rtol=1e-9, atol=0)
    assert rep.worst == int(np.argmax(ref["S"]["counts"]))
    np.testing.assert_array_equal(rep.mode_curves, ref["T"]["curve"][rep.modes])
    # the same shards in the same order: bit for bit the sampler's report, config included
    assert rep.sampler == rep.descriptor == "embeddings"
    mine, theirs = rep.to_dict(), report.to_dict()
    for key in ("sampler", "descriptor", "seconds"):
        del mine[key], theirs[key]
    assert json.dumps(mine) == json.dumps(theirs)


def test_embeddings_from_an_iterable_of_shards(run):
    _, a, c, ref = run
    cuts = [0, 1, 900, 2000, N]  # uneven shards, one of a single sample, one straddling S and T
    shards = (c[lo:hi] for lo, hi in zip(cuts[:-1], cuts[1:]))
    rep = diagnose_embeddings(a, shards, config=DiagnoseConfig(theta=THETA, r=R, k=5, top=3, n_samples=N))
    np.testing.assert_array_equal(rep.counts, ref["S"]["counts"])
    np.testing.assert_allclose(rep.mccs, code_mccs(ref["mean_s"]), rtol=1e-9, atol=0)
    nearest = NS + np.lexsort((np.arange(N - NS), ref["T"]["d"][rep.worst]))[:5]  # global indices across the shards
    np.testing.assert_array_equal(rep.nearest_index, nearest)
    assert (rep.config["n_anchors"], rep.config["n_samples"]) == (M, N)
    with pytest.raises(ValueError, match="give n_samples"):
        diagnose_embeddings(a, iter([c[:10], c[10:20]]))


def test_embeddings_reject_bad_input(run):
    _, a, c, _ = run
    with pytest.raises(ValueError, match="n_samples=10 in the config, but 3000 were given"):
        diagnose_embeddings(a, c, n_samples=10)
    with pytest.raises(ValueError, match="anchors must be unit vectors"):
        diagnose_embeddings(2 * a, c)
    with pytest.raises(ValueError, match="samples is empty"):
        diagnose_embeddings(a, [], scoring="same")


# -- DiagnoseConfig: the one table of defaults ----------------------------------------
def test_config_defaults_and_json_schema():
    cfg = DiagnoseConfig(n_anchors=10, n_samples=20)
    # the report.json "config" of earlier releases (same keys, order and defaults), then scoring and select_by
    assert cfg.to_json() == {
        "n_anchors": 10,
        "n_samples": 20,
        "seed": 0,
        "theta": 0.3,
        "r": 0.25,
        "top": 10,
        "form": "code",
        "grid": [round(0.1 + 0.01 * i, 2) for i in range(41)],
        "k": 8,
        "shard_size": 4096,
        "n_random": 5,
        "scoring": "split",
        "select_by": "count",
        "alpha": 0.05,
        "precision": 0.01,
    }
    assert list(cfg.to_json()) == [
        "n_anchors",
        "n_samples",
        "seed",
        "theta",
        "r",
        "top",
        "form",
        "grid",
        "k",
        "shard_size",
        "n_random",
        "scoring",
        "select_by",
        "alpha",
        "precision",
    ]
    assert DiagnoseConfig.from_json(cfg.to_json()) == cfg
    with pytest.raises(AttributeError):
        cfg.theta = 0.4  # frozen: one config is shared, never edited in place


@pytest.mark.parametrize(
    "kw, message",
    [
        (dict(n_anchors=1), "n_anchors must be an integer >= 2"),
        (dict(n_samples=0), "n_samples must be an integer >= 1"),
        (dict(seed=-1), "seed must be an integer >= 0"),
        (dict(top=2.5), "top must be an integer >= 1"),
        (dict(k=True), "k must be an integer >= 0"),
        (dict(theta=0.0), r"theta must be a float in \(0, 1\]"),
        (dict(r=1.5), r"r must lie in \[0, 1\]"),
        (dict(grid=[0.1, -0.2]), r"grid must lie in \[0, 1\]"),
        (dict(form="log"), "form must be one of 'code', 'paper'"),
        (dict(shard_size=0), "shard_size must be an integer >= 1"),
        (dict(scoring="fresh"), "scoring must be one of 'split', 'same'"),
        (dict(select_by="size"), "select_by must be one of 'count', 'mccs'"),
        (dict(n_samples=1), "n_samples must be an integer >= 2 with scoring='split'"),
    ],
)
def test_config_validation(kw, message):
    with pytest.raises(ValueError, match=message):
        DiagnoseConfig(**kw)


def test_diagnose_takes_a_config_or_keywords(run):
    report = run[0]
    cfg = DiagnoseConfig(n_anchors=M, n_samples=N, seed=SEED, theta=THETA, r=R, top=3, shard_size=SHARD, k=5)
    rep = diagnose(PS, identity_descriptor, config=cfg, progress=False)
    np.testing.assert_array_equal(rep.mccs, report.mccs)
    assert rep.config == report.config == cfg.to_json()
    with pytest.raises(ValueError, match="n_samples must be given"):
        diagnose(PS, identity_descriptor, n_anchors=M, progress=False)


# -- compare_models: a model before and after, on fresh pools of equal size --------------
def test_compare_models_finds_a_halved_mode_and_no_change_between_two_pools_of_one_model():
    from bbcollapse.diagnosis import compare_models, evaluate_calibration
    from bbcollapse.metrics import frechet_distance

    heavy = PlantedSphere(dim=12, masses=(0.08,), spread=0.12, centres_seed=1)
    light = PlantedSphere(dim=12, masses=(0.04,), spread=0.12, centres_seed=1)
    worst = heavy.centres[0]
    ref = heavy(5, 3000).x
    kw = dict(worst=worst, theta=THETA, r=R, n_boot=1000, n_boot_quality=60)
    pools = {
        name: (w(1 + 10 * i, 200).x, w(2 + 10 * i, 3000).x) for i, (name, w) in enumerate([("h", heavy), ("l", light)])
    }
    drop = compare_models(pools["h"], pools["l"], quality={"descriptor": (ref, pools["h"][1], pools["l"][1])}, **kw)
    # the truth of the planted law: MCCS of the identity's centre under each model
    t0, t1 = (bb.mccs(w.mean_similarity(worst, THETA)) for w in (heavy, light))
    assert drop.old_worst.before.covers(t0) and drop.old_worst.after.covers(t1)
    assert drop.old_worst.hi < 0 and drop.old_worst.p_value < 0.01
    q = drop.quality["descriptor"]
    assert q.before.estimate == pytest.approx(frechet_distance(reference=ref, samples=pools["h"][1]), rel=1e-6)
    # two pools of one model: "significant" at 5% in about 5% of pairs (P(>= 4 of 12) = 0.002 at the level)
    alarms = {"old_worst": 0, "mu": 0, "sigma": 0}
    for i in range(12):
        p0 = (heavy(100 + i, 100).x, heavy(200 + i, 1500).x)
        p1 = (heavy(300 + i, 100).x, heavy(400 + i, 1500).x)
        same = compare_models(p0, p1, **{**kw, "n_boot": 300})
        for name in alarms:
            alarms[name] += getattr(same, name).p_value < 0.05
    assert max(alarms.values()) <= 3, alarms
    doc = drop.to_dict()
    assert set(doc["old_worst"]) >= {"before", "after", "difference_ci", "p_value"}
    with pytest.raises(ValueError, match="equal size"):
        compare_models(pools["h"], (pools["l"][0], pools["l"][1][:100]), **kw)
    ev = evaluate_calibration(heavy, light, identity_descriptor, n_anchors=150, n_samples=2000, seed=3, **kw)
    assert ev.old_worst.hi < 0 and ev.n_samples == 2000


def test_shard_plan_matches_cumulative_sizes_and_iterates_lazily():
    from itertools import islice

    from bbcollapse.diagnosis.core import iter_shard_plan, shard_plan

    for n, size in [(0, 5), (11, 5), (10, 5), (3000, 700), (1, 1)]:
        sizes = shard_sizes(n, size)
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int).tolist() if sizes else []
        assert shard_plan(n, size) == list(zip(range(len(sizes)), offsets, sizes))
    huge = iter_shard_plan(10**15, 4096)  # 2.4e11 shards: a list would need terabytes
    assert list(islice(huge, 3)) == [(0, 0, 4096), (1, 4096, 4096), (2, 8192, 4096)]
    with pytest.raises(ValueError, match="shard_size"):
        next(iter_shard_plan(10, 0))
