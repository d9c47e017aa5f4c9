"""The diagnose pipeline's engine plan: the report equals the one computed with every statistic for every anchor.

With ``scoring="split"`` the rows of S are reduced without curves and top-k, and the rows of T with
curves and counts for the watched anchors and the top-k of I_w only (:mod:`bbcollapse.diagnosis.scoring`).
``plan=False`` is the path before the plan.  Every field of the Report and of report.json must be
the same: integers exactly, floats to 1e-12; and a spy on the engine checks the plan is really in use.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from bbcollapse.blackbox import identity_descriptor
from bbcollapse.diagnosis import diagnose, diagnose_embeddings, scoring
from bbcollapse.subjects.synthetic import PlantedSphere
from helpers import crashing_sampler

PS = PlantedSphere(dim=16, masses=(0.08, 0.03), spread=0.1, centres_seed=3)
M, N, SEED, SHARD = 160, 2400, 11, 500
KW = dict(n_anchors=M, n_samples=N, seed=SEED, theta=0.3, r=0.25, top=3, k=5, shard_size=SHARD, progress=False)


@pytest.fixture
def spy(monkeypatch):
    """The scopes of every engine run of the pipeline, in call order."""
    calls = []
    engine = scoring.neighbor_stats

    def recording(*args, **kwargs):
        stats = engine(*args, **kwargs)
        calls.append(stats.scope)
        return stats

    monkeypatch.setattr(scoring, "neighbor_stats", recording)
    return calls


def assert_same(planned: dict, full: dict, path: str = "report") -> None:
    """Two to_dict() documents: the same keys and shapes, integers exact, floats to 1e-12 (relative)."""
    if isinstance(full, dict):
        assert isinstance(planned, dict) and planned.keys() == full.keys(), path
        for key in full:
            if key != "seconds":
                assert_same(planned[key], full[key], f"{path}.{key}")
    elif isinstance(full, list):
        assert isinstance(planned, list) and len(planned) == len(full), path
        for i, (p, f) in enumerate(zip(planned, full)):
            assert_same(p, f, f"{path}[{i}]")
    elif isinstance(full, float):
        assert isinstance(planned, float) and planned == pytest.approx(full, rel=1e-12, abs=0), path
    else:  # int, bool, str, None: exactly
        assert type(planned) is type(full) and planned == full, path


def watched(report) -> int:
    """Distinct anchors of the report with a curve: the modes and the random anchors (which may overlap)."""
    return len(set(report.modes.tolist()) | set(report.random_anchors.tolist()))


def check_planned_runs(calls, *, n_watch: int, before: int = 0) -> None:
    """Engine runs on S computed no curve and no top-k; those on T curves and counts of n_watch anchors, one top-k."""
    runs = calls[before:]
    assert runs and all(s is not None for s in runs)
    scores = [s for s in runs if s.curve.any()]
    selects = [s for s in runs if not s.curve.any()]
    assert scores and selects
    for s in selects:
        assert s.counts.all() and s.ssum.all() and not s.topk.any()
    for s in scores:
        assert s.ssum.all() and s.curve.sum() == s.counts.sum() == n_watch and s.topk.sum() == 1


@pytest.fixture(scope="module")
def data():
    return PS(1, M).x, PS(2, N).x


@pytest.mark.parametrize(
    "options",
    [
        {},
        dict(r=0.35, theta=0.2),  # r > theta: on T the counts of unwatched anchors are no longer needed
        dict(select_by="mccs", n_random=7, form="paper"),
        dict(k=0, grid=()),
        dict(backend="torch"),  # the portable reducer (as on CUDA): everything computed, then restricted
    ],
)
def test_report_with_the_plan_equals_every_statistic_for_every_anchor(data, spy, options):
    a, c = data
    kw = {**dict(theta=0.3, r=0.25, top=3, k=5, shard_size=SHARD, seed=SEED), **options}
    planned = diagnose_embeddings(a, c, **kw)
    check_planned_runs(spy, n_watch=watched(planned))
    n_runs = len(spy)
    full = diagnose_embeddings(a, c, plan=False, **kw)
    assert all(s is None for s in spy[n_runs:])  # the old path: every statistic for every anchor
    assert planned.worst == full.worst
    for name in ("counts", "modes", "mode_curves", "random_anchors", "random_curves", "nearest_index", "mode_counts"):
        np.testing.assert_array_equal(getattr(planned, name), getattr(full, name), err_msg=name)
    for name in ("mccs", "mode_mccs", "random_mccs", "mode_ci", "random_ci", "nearest_dist"):
        np.testing.assert_allclose(getattr(planned, name), getattr(full, name), rtol=1e-12, atol=0, err_msg=name)
    assert planned.mu == pytest.approx(full.mu, rel=1e-12) and planned.sigma == pytest.approx(full.sigma, rel=1e-12)
    assert_same(planned.to_dict(), full.to_dict())
    if options.get("k", 5):
        assert len(planned.nearest_index) == 5 and (planned.nearest_index >= N // 2).all()  # found on T
    if options.get("grid", 1):
        assert planned.mode_curves.shape == (3, 41) and planned.mode_curves[0, -1] > 0


def test_report_json_keeps_every_field(data, tmp_path):
    """No field of report.json empties or turns NaN because a statistic was left out of the plan."""
    a, c = data
    kw = dict(theta=0.3, r=0.25, top=3, k=5, shard_size=SHARD, seed=SEED)
    docs = {}
    for plan in (True, False):
        path = diagnose_embeddings(a, c, plan=plan, **kw).save(tmp_path / str(plan), figures=False)
        text = path.read_text()
        assert "NaN" not in text and "Infinity" not in text
        docs[plan] = json.loads(text)
    assert_same(docs[True], docs[False])
    for key, value in docs[True].items():
        if isinstance(value, list):
            assert len(value) > 0, key
        if isinstance(value, float):
            assert math.isfinite(value), key


def test_same_scoring_computes_every_statistic(data, spy):
    """scoring="same" selects on all of C at the end: the engine is asked for everything."""
    a, c = data
    rep = diagnose_embeddings(a, c, theta=0.3, r=0.25, top=3, k=5, shard_size=SHARD, scoring="same")
    assert spy and all(s is None for s in spy)
    full = diagnose_embeddings(a, c, theta=0.3, r=0.25, top=3, k=5, shard_size=SHARD, scoring="same", plan=False)
    assert_same(rep.to_dict(), full.to_dict())


def test_store_and_resume_with_the_plan_equal_the_full_run(tmp_path, spy):
    flaky, state = crashing_sampler(PS, M + 2 * SHARD, "flaky planted sphere")
    with pytest.raises(KeyboardInterrupt):
        diagnose(flaky, identity_descriptor, store=tmp_path / "st", **KW)
    state.update(samples=0, fail_after=10**9)
    before = len(spy)
    resumed = diagnose(flaky, identity_descriptor, store=tmp_path / "st", **KW)
    assert state["samples"] == N - 2 * SHARD  # resumed from the store
    check_planned_runs(spy, n_watch=watched(resumed), before=before)
    full = diagnose(flaky, identity_descriptor, plan=False, **KW)
    assert_same(resumed.to_dict(), full.to_dict())


def test_dask_with_the_plan_equals_the_full_run(spy):
    distributed = pytest.importorskip("dask.distributed")
    from bbcollapse.diagnosis.distributed import diagnose_distributed

    kw = {k: v for k, v in KW.items() if k != "progress"}
    full = diagnose(PS, identity_descriptor, plan=False, progress=False, **kw)
    before = len(spy)
    with distributed.LocalCluster(
        n_workers=2, processes=False, threads_per_worker=1, dashboard_address=None, worker_dashboard_address=None
    ) as cluster:
        with distributed.Client(cluster) as client:
            remote = diagnose_distributed(PS, identity_descriptor, client=client, max_in_flight=3, **kw)
    check_planned_runs(spy, n_watch=watched(remote), before=before)
    assert_same(remote.to_dict(), full.to_dict())


def test_summarize_refuses_statistics_the_plan_left_out(data):
    """A plan that leaves out what the report reads raises instead of reporting empty curves."""
    a, c = data
    cfg = dict(r=0.25, grid=np.round(np.arange(10, 51) / 100, 2), theta=0.3, k=5)
    s = scoring.reduce_shard(a, c[:1200], offset=0, **cfg, **scoring.select_plan())
    t = scoring.reduce_shard(a, c[1200:], offset=1200, **cfg, **scoring.select_plan())  # no curves on T
    from bbcollapse.diagnosis.config import DiagnoseConfig

    config = DiagnoseConfig(n_anchors=M, n_samples=N, top=3)
    modes = scoring.select_modes(a, s, config)
    with pytest.raises(ValueError, match="needs the curve of anchors"):
        scoring.summarize(anchors=a, select=s, score=t, contributions=None, modes=modes, random=[0], config=config)


def test_plan_must_be_a_bool(data):
    a, c = data
    with pytest.raises(ValueError, match="plan must be True or False"):
        diagnose_embeddings(a, c, plan="no")
