"""compute_metrics dispatches to each metric unchanged; MCCS(I_w) selected on S and scored on T, by brute force."""

import numpy as np
import pytest

from bbcollapse.distance import similarity
from bbcollapse.metrics import (
    COLLAPSE_DIRECTION,
    METRICS,
    compute_metrics,
    frechet_distance,
    kernel_distance,
    metric_readouts,
    ndb_test,
    prdc_scores,
    vendi_score,
    worst_mode_mccs,
)
from tests.helpers import rand_unit


def _brute_worst_mode(x, theta, r, n_anchors, seed):
    order = np.random.default_rng(seed).permutation(len(x))
    rest = len(x) - n_anchors
    a, s, t = (
        x[order[:n_anchors]],
        x[order[n_anchors : n_anchors + (rest + 1) // 2]],
        x[order[n_anchors + (rest + 1) // 2 :]],
    )
    d = lambda p, q: np.arccos(np.clip(p.astype(float) @ q.astype(float).T, -1, 1)) / np.pi
    counts = (d(a, s) <= r).sum(1)
    w = int(np.flatnonzero(counts == counts.max())[0])
    code = lambda m: 0.0 if m == 0 else 1 / -np.log10(m)
    worst = code(similarity(d(a[w : w + 1], t), theta).mean())
    all_m = [code(m) for m in similarity(d(a, np.vstack([s, t])), theta).mean(1)]
    return worst, int(counts[w]), np.mean(all_m), np.std(all_m, ddof=1)


def test_worst_mode_mccs_matches_brute_force(rng):
    x = rand_unit(rng, 300, 6)
    x[250:] = x[0]  # 50 exact copies of one sample: a collapsed mode
    got = worst_mode_mccs(x, theta=0.3, r=0.2, n_anchors=60, seed=4, device="cpu")
    worst, count, mu, sigma = _brute_worst_mode(x, 0.3, 0.2, 60, 4)
    assert got.mccs_worst == pytest.approx(worst, rel=1e-6) and got.worst_count == count
    assert got.mu == pytest.approx(mu, rel=1e-6) and got.sigma == pytest.approx(sigma, rel=1e-6)
    assert (got.n_anchors, got.n_select, got.n_score) == (60, 120, 120)
    # the planted mode is the worst case, and scoring it on T (not on the S that chose it) still sees it
    clean = worst_mode_mccs(rand_unit(np.random.default_rng(1), 300, 6), theta=0.3, r=0.2, n_anchors=60, seed=4)
    assert got.mccs_worst > clean.mccs_worst


def test_compute_metrics_equals_the_functions(rng):
    ref, smp = rng.standard_normal((200, 5)), rng.standard_normal((150, 5)) + 0.1
    u = smp / np.linalg.norm(smp, axis=1, keepdims=True)
    res = compute_metrics(
        ["frechet", "kid", "prdc", "vendi", "ndb"],
        reference=ref,
        samples=u,
        features="toy",
        seed=3,
        options={"prdc": {"nearest_k": 4}, "ndb": {"bins": 6}},
    )
    assert res["frechet"].value == frechet_distance(reference=ref, samples=u) and res["frechet"].features == "toy"
    assert res["kid"] == kernel_distance(reference=ref, samples=u, features="toy")
    assert res["prdc"] == prdc_scores(reference=ref, samples=u, nearest_k=4, features="toy")
    assert res["vendi"] == vendi_score(u, features="toy")
    assert res["ndb"].n_different == ndb_test(reference=ref, samples=u, bins=6, seed=3).n_different
    out = metric_readouts(res)
    assert set(out) <= set(COLLAPSE_DIRECTION) and all(np.isfinite(v) for v in out.values())
    assert all("toy" in r.as_dict()["name"] for r in res.values())


def test_compute_metrics_errors(rng):
    x = rng.standard_normal((20, 3))
    with pytest.raises(ValueError, match="unknown metric"):
        compute_metrics(["fid"], samples=x)
    with pytest.raises(ValueError, match="reference"):
        compute_metrics(["kid"], samples=x)
    with pytest.raises(ValueError, match="radius"):
        compute_metrics(["birthday"], samples=x)
    with pytest.raises(ValueError, match="theta"):
        compute_metrics(["mccs"], samples=x)
    with pytest.raises(ValueError, match="images"):
        compute_metrics(["ssim"], samples=x)
    with pytest.raises(ValueError, match="classifier"):
        compute_metrics(["inception_score"], probabilities=np.eye(3))
    with pytest.raises(ValueError, match="options for unknown"):
        compute_metrics(["kid"], reference=x, samples=x, options={"kdi": {}})
    assert set(METRICS) >= {"frechet", "kid", "prdc", "vendi", "birthday", "ndb", "mccs", "ssim", "ms_ssim"}
