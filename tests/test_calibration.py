"""Calibrators on the planted-collapse black box, whose mode mass is known exactly.

``PlantedSphere(dim=6, masses=(0.2,))``: a latent z lies in the planted identity iff
``z_0 < Phi^{-1}(0.2)`` (``component(z) == 0``), and every such output lies within
``spread = 0.15 < r0 = 0.2`` of the identity's centre, which we use as the mode I_m.
So the targets below come from the subject's ground truth (``neighbor_prob``,
``component``, the normal CDF) and from brute-force cell assignment, never from the
calibrator's own bookkeeping.
"""

import numpy as np
import pytest
from scipy import stats

from bbcollapse.blackbox import identity_descriptor
from bbcollapse.calibration import (
    CalibrationReport,
    acceptance_probability,
    cluster_weights,
    gmm_calibrator,
    hull_residual,
    importance_weights,
    rejection_calibrator,
    voronoi_calibrator,
    white_box_latents,
    white_box_rejection_calibrator,
)
from bbcollapse.subjects.synthetic import PlantedSphere

R0 = 0.2
W0 = 0.2
K = 24


def _binom_tol(p, n, z=4.5):
    return z * np.sqrt(max(p * (1 - p), 1e-4) / n)


@pytest.fixture(scope="module")
def ps():
    return PlantedSphere(dim=6, masses=(W0,), spread=0.15, centres_seed=0)


@pytest.fixture(scope="module")
def fit(ps):
    z = ps.latents(1, 8000)
    return z, ps.generate(z)


@pytest.fixture(scope="module")
def mode(ps):
    return ps.centres[0]


@pytest.fixture(scope="module")
def gmm(ps, fit, mode):
    return gmm_calibrator(ps, modes=mode, r0=R0, n_clusters=K, fit_latents=fit[0], fit_embeddings=fit[1], seed=3)


@pytest.fixture(scope="module")
def voronoi(ps, fit, mode):
    return voronoi_calibrator(ps, modes=mode, r0=R0, n_clusters=K, fit_latents=fit[0], fit_embeddings=fit[1], seed=3)


@pytest.fixture(scope="module")
def prior_cells(ps, voronoi):
    """A large fresh prior sample and its Voronoi cells by brute-force float64 nearest centroid."""
    z = ps.latents(777, 100_000).astype(np.float64)
    c = voronoi.weights.centroids
    cells = np.concatenate([((zc[:, None, :] - c[None, :, :]) ** 2).sum(-1).argmin(1) for zc in np.array_split(z, 10)])
    return z, cells


def test_planted_mode_is_the_latent_slab(ps):
    z = ps.latents(5, 50_000)
    cut = stats.norm.ppf(W0)
    np.testing.assert_array_equal(ps.component(z) == 0, z[:, 0] < cut)


# ------------------------------------------------------------------------ Algorithm 1
def test_cluster_weights_follow_the_paper(ps, fit, mode, voronoi):
    cw = voronoi.weights
    z, e = fit
    cell = cw.assign(z)
    near = np.arccos(np.clip(e.astype(np.float64) @ mode, -1, 1)) / np.pi <= R0  # float64 brute force
    counts = np.bincount(cell[near], minlength=K)
    np.testing.assert_array_equal(cw.counts, counts)
    w = 1.0 / np.maximum(counts, 1)
    np.testing.assert_allclose(cw.weights, w / w.sum(), rtol=1e-12)
    np.testing.assert_allclose(cw.pi, np.bincount(cell, minlength=K) / len(z), rtol=1e-12)


def test_gmm_brings_mode_mass_to_its_closed_form(ps, gmm):
    # mass of the slab z_0 < c under sum_k w_k N(mu_k, Sigma): sum_k w_k Phi((c - mu_k0) / sqrt(Sigma_00))
    cw = gmm.weights
    cut = stats.norm.ppf(W0)
    target = float(np.sum(cw.weights * stats.norm.cdf((cut - cw.centroids[:, 0]) / np.sqrt(gmm.covariance[0, 0]))))
    n = 40_000
    b = gmm(11, n)
    mass = np.mean(ps.component(b.z) == 0)
    assert abs(mass - target) < _binom_tol(target, n)
    assert target < W0 / 2  # the paper's reweighting does lower the mode in low dimension
    rep = gmm.report()
    assert rep.acceptance_rate == 1.0 and rep.accepted == n and rep.generator_calls == n


def test_voronoi_brings_mode_mass_to_target_and_acceptance_matches(ps, voronoi, prior_cells):
    z, cell = prior_cells
    a = voronoi.weights.voronoi_acceptance
    pi = np.bincount(cell, minlength=K) / len(z)  # true cell masses, independent MC
    q = np.bincount(cell[ps.component(z) == 0], minlength=K) / np.maximum(np.bincount(cell, minlength=K), 1)
    acc = float(np.sum(pi * a))
    target = float(np.sum(pi * a * q) / acc)
    n = 20_000
    zc = voronoi.latents(12, n)
    mass = np.mean(ps.component(zc) == 0)
    assert abs(mass - target) < _binom_tol(target, n) + 0.004  # + MC error of the target
    assert target < W0 / 2
    rep = voronoi.report()
    assert abs(rep.acceptance_rate - acc) < _binom_tol(acc, rep.proposed) + 0.003
    assert rep.accepted == n


def test_voronoi_keeps_the_law_inside_cells_and_gmm_does_not(ps, voronoi, gmm, prior_cells):
    """Two-sample KS on projections of z inside one cell: exact variant passes, GMM (negative control) fails."""
    z0, c0 = prior_cells
    zv, zg = voronoi.latents(21, 15_000), gmm.latents(21, 15_000)
    cv, cg = voronoi.weights.assign(zv), voronoi.weights.assign(zg)
    u = np.random.default_rng(0).standard_normal(z0.shape[1])
    u /= np.linalg.norm(u)
    # the cell the calibrated sampler visits most, and one the paper's weights leave untouched (count 0)
    cells = [int(np.bincount(cv, minlength=K).argmax())]
    untouched = np.flatnonzero(voronoi.weights.counts == 0)
    if len(untouched):
        cells.append(int(untouched[0]))
    for k in cells:
        ref = z0[c0 == k]
        for zz, cc, exact in ((zv, cv, True), (zg, cg, False)):
            s = zz[cc == k]
            assert len(s) > 150
            p_norm = stats.ks_2samp(np.linalg.norm(s, axis=1), np.linalg.norm(ref, axis=1)).pvalue
            p_proj = stats.ks_2samp(s @ u, ref @ u).pvalue
            if exact:
                assert min(p_norm, p_proj) > 1e-3, (k, p_norm, p_proj)
            else:
                assert min(p_norm, p_proj) < 1e-6, (k, p_norm, p_proj)


# ------------------------------------------------------------------------ Algorithm 2
@pytest.mark.parametrize("p", [0.25, None])
def test_output_rejection_reaches_target_and_acceptance(ps, fit, mode, p):
    cal = rejection_calibrator(
        ps,
        identity_descriptor,
        modes=mode,
        r0=R0,
        region="output",
        accept_prob=p,
        fit_latents=fit[0],
        fit_embeddings=fit[1],
        seed=4,
    )
    p = float(cal.p[0])
    assert 0 < p < 1
    pd = ps.neighbor_prob(mode, R0)  # exact P(d(X, I_m) <= r0); the whole identity lies inside
    target = p * W0 / (1 - (1 - p) * pd)
    n = 30_000
    b = cal(13, n)
    mass = np.mean(ps.component(b.z) == 0)
    assert abs(mass - target) < _binom_tol(target, n)
    np.testing.assert_array_equal(b.x, ps.generate(b.z))  # outputs belong to the latents returned
    rep = cal.report()
    acc = 1 - (1 - p) * pd
    assert abs(rep.acceptance_rate - acc) < _binom_tol(acc, rep.proposed)
    assert rep.descriptor_calls >= rep.proposed  # the exact test embeds every proposal


def test_reference_count_gives_the_papers_p(ps, fit, mode):
    z, e = fit
    ref = e[:50]
    cal = rejection_calibrator(
        ps, identity_descriptor, modes=mode, r0=R0, references=ref, fit_latents=z, fit_embeddings=e
    )
    dots = e.astype(np.float64) @ np.vstack([mode, ref]).T
    cnt = (np.arccos(np.clip(dots, -1, 1)) / np.pi <= R0).sum(0)
    assert cal.p[0] == pytest.approx(cnt[1:].mean() / cnt[0], rel=1e-12)


def test_authors_latent_ball_does_nothing(ps, fit, mode):
    """Finding: the authors' ball (centre = mean of H, radius = min distance to H) holds ~no prior mass."""
    cal = rejection_calibrator(
        ps, modes=mode, r0=R0, region="ball", accept_prob=0.0, fit_latents=fit[0], fit_embeddings=fit[1]
    )
    z = ps.latents(99, 50_000)
    frac = cal.in_region(z).mean()
    assert frac < 0.002  # measured ~1e-4 here (p = 0: every latent in the ball is rejected)
    n = 20_000
    mass = np.mean(ps.component(cal.latents(5, n)) == 0)
    assert abs(mass - W0) < _binom_tol(W0, n) + frac  # the mode is not calibrated
    # a ball reaching the farthest point of H (radius "max") does cut the mode, but also much else
    big = rejection_calibrator(
        ps,
        modes=mode,
        r0=R0,
        region="ball",
        ball_radius="max",
        accept_prob=0.0,
        fit_latents=fit[0],
        fit_embeddings=fit[1],
    )
    inside = big.in_region(z)[:, 0]
    assert inside.mean() > 2 * W0 and (ps.component(z[inside]) == 0).mean() < 0.5


def test_hull_in_high_dimension_contains_no_fresh_latent():
    """Finding (why the authors abandoned it): conv of the top 100 H latents in 66-D holds no fresh z."""
    ps64 = PlantedSphere(dim=64, masses=(W0,), spread=0.15, centres_seed=0)
    z = ps64.latents(1, 3000)
    cal = rejection_calibrator(
        ps64,
        identity_descriptor,
        modes=ps64.centres[0],
        r0=R0,
        region="hull",
        top_h=100,
        accept_prob=0.0,
        hull_tol=0.05,
        fit_latents=z,
        fit_embeddings=ps64.generate(z),
    )
    fresh = ps64.latents(2, 200)
    mode_fresh = fresh[ps64.component(fresh) == 0]
    res = hull_residual(mode_fresh, cal.H[0])
    assert len(mode_fresh) > 20
    assert res.min() > 0.05  # even the fresh latents *of the mode* lie far outside the hull (measured ~0.5)
    assert not cal.in_region(fresh).any()
    # while the hull's own vertices are inside (the test can succeed)
    assert (hull_residual(cal.H[0][:5], cal.H[0]) < 1e-6).all()


def test_hull_in_low_dimension_covers_part_of_the_mode(ps, fit, mode):
    """Finding in 8-D: the top-h hull is clean but small; the hull of all of H is large but contaminated."""
    z = ps.latents(3, 400)
    comp = ps.component(z) == 0
    top = rejection_calibrator(
        ps,
        modes=mode,
        r0=R0,
        region="hull",
        top_h=400,
        accept_prob=0.0,
        hull_tol=1e-9,
        fit_latents=fit[0],
        fit_embeddings=fit[1],
    )
    inside = top.in_region(z)[:, 0]
    # the 400 nearest images come from one corner of the (convex) mode slab: all caught latents are
    # the mode's, but only a few percent of it (measured 8%)
    assert comp[inside].all()
    assert 0.01 < (inside & comp).sum() / comp.sum() < 0.3
    full = rejection_calibrator(
        ps,
        modes=mode,
        r0=R0,
        region="hull",
        top_h=None,
        accept_prob=0.0,
        hull_tol=1e-9,
        fit_latents=fit[0],
        fit_embeddings=fit[1],
    )
    inside = full.in_region(z)[:, 0]
    # H also holds diffuse latents whose images fall within r0 of I_m: their hull covers most of
    # the mode (measured 64%) but as much non-mode latent space (purity measured 47%)
    assert (inside & comp).sum() / comp.sum() > 0.4
    assert comp[inside].mean() < 0.8


# ------------------------------------------------------------------------ white-box baseline
def test_white_box_latents_recover_the_target_and_feed_rejection():
    import torch

    torch.manual_seed(0)
    L, D = 4, 5
    W = torch.randn(D, L)

    def gen(z):  # a smooth toy generator on the sphere
        x = z @ W.T + 0.5
        return x / x.norm(dim=-1, keepdim=True)

    z_star = torch.randn(1, L)
    target = gen(z_star)[0]
    wb = white_box_latents(
        gen,
        target_image=target.numpy(),
        latent_dim=L,
        descriptor=lambda x: x,
        n_restarts=16,
        steps=100,
        lr=0.1,
        alpha=1e-4,
        seed=1,
    )
    assert wb.z.shape == (16, L)
    assert np.median(wb.distance) < 0.03  # most restarts land near the target's identity
    with torch.no_grad():  # ... where random latents do not
        rand = gen(torch.randn(200, L)) @ target
    assert np.median(np.arccos(np.clip(rand.numpy(), -1, 1)) / np.pi) > 0.1

    class Toy:
        latent_dim = L

        def latents(self, seed, n):
            return np.random.default_rng(seed).standard_normal((n, L)).astype(np.float32)

        def generate(self, z):
            with torch.no_grad():
                return gen(torch.as_tensor(z, dtype=torch.float32)).numpy()

    toy = Toy()
    fz = toy.latents(0, 4000)
    cal = white_box_rejection_calibrator(
        toy,
        modes=target.numpy(),
        r0=0.05,
        white_box=wb,
        region="ball",
        ball_radius="max",
        accept_prob=0.5,
        fit_latents=fz,
        fit_embeddings=toy.generate(fz),
    )
    assert cal.method.startswith("white-box")
    out = cal(0, 500)
    assert out.z.shape == (500, L) and cal.report().accepted == 500


# ------------------------------------------------------------------------ validation and reports
def test_bad_parameters_raise_clear_errors(ps, fit, mode):
    z, e = fit
    with pytest.raises(ValueError, match="n_clusters"):
        cluster_weights(latents=z[:10], embeddings=e[:10], modes=mode, r0=R0, n_clusters=11)
    for bad in (0.0, -0.1, 1.5, float("nan"), "x"):
        with pytest.raises(ValueError, match="r0"):
            gmm_calibrator(ps, modes=mode, r0=bad, n_clusters=4, fit_latents=z, fit_embeddings=e)
        with pytest.raises(ValueError, match="r0"):
            rejection_calibrator(ps, modes=mode, r0=bad, region="ball", fit_latents=z, fit_embeddings=e)
    far = -mode  # the antipode of the identity: no sample within 0.01
    with pytest.raises(ValueError, match="zero neighbours"):
        voronoi_calibrator(ps, modes=far, r0=0.01, n_clusters=4, fit_latents=z, fit_embeddings=e)
    with pytest.raises(ValueError, match="zero neighbours"):
        rejection_calibrator(ps, identity_descriptor, modes=far, r0=0.01, fit_latents=z, fit_embeddings=e)
    # the reference (the identity centre) is denser than the "mode" (a diffuse sample): p > 1
    diffuse = e[np.flatnonzero(ps.component(z) == -1)[0]]
    with pytest.raises(ValueError, match="impossible"):
        rejection_calibrator(
            ps, identity_descriptor, modes=diffuse, r0=0.3, references=mode, fit_latents=z, fit_embeddings=e
        )
    with pytest.raises(ValueError, match="impossible"):
        acceptance_probability(mode_count=3, reference_count=4)
    with pytest.raises(ValueError, match="region"):
        rejection_calibrator(ps, modes=mode, r0=R0, region="cube", fit_latents=z, fit_embeddings=e)
    with pytest.raises(TypeError, match="latent model"):
        gmm_calibrator(lambda seed, n: None, modes=mode, r0=R0)
    with pytest.raises(ValueError, match="unit"):
        gmm_calibrator(ps, modes=2 * mode, r0=R0, n_clusters=4, fit_latents=z, fit_embeddings=e)


def test_report_arithmetic():
    r = CalibrationReport(
        method="x",
        proposed=400,
        accepted=100,
        generator_calls=400,
        descriptor_calls=400,
        seconds=2.0,
        fit_seconds=1.0,
        fit_generator_calls=10,
        expected_acceptance=0.25,
    )
    assert r.acceptance_rate == 0.25 and r.generator_calls_per_sample == 4.0 and r.seconds_per_sample == 0.02
    assert "acceptance=0.2500" in repr(r) and r.as_dict()["acceptance_rate"] == 0.25


def test_calibrated_sampler_is_reproducible_and_a_latent_model(ps, voronoi):
    a, b = voronoi(5, 100), voronoi(5, 100)
    np.testing.assert_array_equal(a.z, b.z)
    np.testing.assert_array_equal(voronoi.generate(a.z), a.x)
    assert voronoi.latents(5, 100).shape == (100, ps.latent_dim)


def test_accept_mask_thins_a_pool_like_the_sampler(ps, voronoi, fit, mode):
    # the sampler's first round draws its proposals from the same stream: same decisions
    from bbcollapse.blackbox import shard_seed

    s = shard_seed(8, 7, 0)
    z = ps.latents(s, 500)
    keep = voronoi.accept_mask(z, seed=s)
    np.testing.assert_array_equal(voronoi.latents(8, int(keep.sum())), z[keep])
    rej = rejection_calibrator(
        ps, identity_descriptor, modes=mode, r0=R0, accept_prob=0.0, fit_latents=fit[0], fit_embeddings=fit[1]
    )
    e = ps.generate(z)
    keep = rej.accept_mask(z, e, seed=1)
    assert not (ps.component(z[keep]) == 0).any() and keep.sum() > 0.7 * len(z)


def test_importance_weights_reproduce_the_calibrated_mode_mass(ps, gmm, voronoi, prior_cells):
    """Prior samples reweighted by exp(log q/p) estimate the calibrated mode mass (closed form for the GMM)."""
    z, _ = prior_cells
    comp = ps.component(z) == 0
    cw = gmm.weights
    cut = stats.norm.ppf(W0)
    target = float(np.sum(cw.weights * stats.norm.cdf((cut - cw.centroids[:, 0]) / np.sqrt(gmm.covariance[0, 0]))))
    w, ess = importance_weights(gmm.log_density_ratio(z))
    assert ess > 1000 and abs(np.sum(w * comp) - target) < 0.01
    # E_p[q/p] = 1 (the mixture is a density); checked on the raw ratios
    assert abs(np.mean(np.exp(gmm.log_density_ratio(z))) - 1) < 0.05
    w, ess = importance_weights(voronoi.log_density_ratio(z))
    zc = voronoi.latents(31, 10_000)
    assert abs(np.sum(w * comp) - np.mean(ps.component(zc) == 0)) < 0.01
    with pytest.raises(ValueError, match="-inf"):
        importance_weights(np.array([-np.inf, -np.inf]))


@pytest.mark.parametrize("ratios", [[1.0, 0.0, 1.0], [1.0, 3.0, 0.0, 0.5], [2.0], [1e-3, 1.0, 1.0, 1.0, 7.0]])
def test_importance_weights_and_ess_match_the_closed_form(ratios):
    """Weights r_i / sum r and Kish's ESS (sum r)^2 / sum r^2, from the raw ratios r = q/p (0 -> log -inf)."""
    r = np.array(ratios)
    with np.errstate(divide="ignore"):
        w, ess = importance_weights(np.log(r))
    np.testing.assert_allclose(w, r / r.sum(), rtol=1e-12, atol=0)
    assert ess == pytest.approx(r.sum() ** 2 / np.sum(r**2), rel=1e-12)
    # large log ratios (exp overflows) give the same weights: computed in log space
    w_big, ess_big = importance_weights(np.log(r[r > 0]) + 800.0)
    np.testing.assert_allclose(w_big, r[r > 0] / r.sum(), rtol=1e-12)
    assert ess_big == pytest.approx(ess, rel=1e-12)


def test_non_mode_weighting_removes_the_modes_share(ps, fit, mode, prior_cells):
    z_fit, e_fit = fit
    v = voronoi_calibrator(
        ps, modes=mode, r0=R0, n_clusters=K, weighting="non-mode", fit_latents=z_fit, fit_embeddings=e_fit, seed=3
    )
    cw = v.weights
    np.testing.assert_allclose(cw.weights, (cw.pi * cw.n_fit - cw.counts) / (cw.n_fit - cw.counts.sum()), rtol=1e-12)
    z, _ = prior_cells
    cell = cw.assign(z)
    pi = np.bincount(cell, minlength=K) / len(z)
    q = np.bincount(cell[ps.component(z) == 0], minlength=K) / np.maximum(np.bincount(cell, minlength=K), 1)
    a = cw.voronoi_acceptance
    target = float(np.sum(pi * a * q) / np.sum(pi * a))
    n = 20_000
    mass = np.mean(ps.component(v.latents(14, n)) == 0)
    assert abs(mass - target) < _binom_tol(target, n) + 0.004
    # size-aware weights lower the mode less than the paper's here (measured 0.15 vs 0.03) but never raise it
    assert target < 0.9 * W0
    with pytest.raises(ValueError, match="weighting"):
        voronoi_calibrator(
            ps, modes=mode, r0=R0, n_clusters=K, weighting="inverse", fit_latents=z_fit, fit_embeddings=e_fit
        )


# ------------------------------------------------------------------------ engine counts, stores, frozen state
def test_near_modes_counts_ties_and_matches_float64(ps, fit):
    """Membership through the engine equals a float64 brute force, with the tie d == r0 counted."""
    from bbcollapse.calibration.fitting import near_modes

    _, e = fit
    modes = e[[3, 50, 700]].astype(np.float64)
    brute = e.astype(np.float64) @ modes.T >= np.cos(np.pi * R0)
    np.testing.assert_array_equal(near_modes(e, modes, R0), brute)
    # an exact tie: <e, mode> = cos(pi r0) exactly in float64 (the mode is the first axis)
    c = np.cos(np.pi * R0)
    mode = np.eye(3)[:1]
    tie = np.array([[c, np.sqrt(1 - c * c), 0.0], [np.nextafter(c, -2.0), np.sqrt(1 - c * c), 0.0]])
    np.testing.assert_array_equal(near_modes(tie, mode, R0)[:, 0], [True, False])


@pytest.fixture()
def store(tmp_path, ps):
    from bbcollapse.store import EmbeddingStore

    with EmbeddingStore(tmp_path / "fit", sampler=ps, descriptor=identity_descriptor, seed=9, shard_size=1000) as s:
        yield s


def test_calibrators_fit_from_an_embedding_store(ps, mode, store):
    """A store's first n_fit pairs are the fitting set: shard j is ps(shard_seed(seed, 1, j), n_j), by contract."""
    from bbcollapse.blackbox import shard_seed

    n_fit = 3500
    batches = [ps(shard_seed(9, 1, j), nj) for j, nj in enumerate([1000, 1000, 1000, 500])]
    z = np.concatenate([b.z for b in batches])
    e = identity_descriptor(np.concatenate([b.x for b in batches]))
    kw = dict(modes=mode, r0=R0, seed=3)
    v_store = voronoi_calibrator(ps, n_clusters=K, store=store, n_fit=n_fit, **kw)
    v_arr = voronoi_calibrator(ps, n_clusters=K, fit_latents=z, fit_embeddings=e, **kw)
    assert v_store.report().fit_generator_calls == n_fit  # the store computed its shards once
    np.testing.assert_array_equal(v_store.weights.centroids, v_arr.weights.centroids)
    near = e.astype(np.float64) @ mode >= np.cos(np.pi * R0)
    np.testing.assert_array_equal(v_store.weights.counts, np.bincount(v_store.weights.assign(z)[near], minlength=K))
    g = gmm_calibrator(ps, n_clusters=K, store=store, n_fit=n_fit, **kw)
    assert g.report().fit_generator_calls == 0  # ... and later calibrators read them
    np.testing.assert_array_equal(g.weights.weights, v_arr.weights.weights)
    rej = rejection_calibrator(ps, identity_descriptor, store=store, n_fit=n_fit, references=e[:40], **kw)
    cnt = (e.astype(np.float64) @ np.vstack([mode, e[:40]]).T >= np.cos(np.pi * R0)).sum(0)
    assert rej.p[0] == pytest.approx(cnt[1:].mean() / cnt[0], rel=1e-12)
    np.testing.assert_array_equal(rej.H[0], z[near].astype(np.float64))
    with pytest.raises(ValueError, match="once"):
        voronoi_calibrator(ps, n_clusters=K, store=store, fit_latents=z, fit_embeddings=e, **kw)


def test_fitted_state_is_frozen_and_white_box_is_a_relabelled_copy(ps, fit, mode, voronoi):
    import dataclasses

    with pytest.raises(dataclasses.FrozenInstanceError):
        voronoi.weights = None
    rej = rejection_calibrator(
        ps, modes=mode, r0=R0, region="ball", accept_prob=0.5, fit_latents=fit[0], fit_embeddings=fit[1]
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        rej.p = np.zeros(1)
    wb = white_box_rejection_calibrator(
        ps,
        modes=mode,
        r0=R0,
        white_box=[rej.H[0]],
        region="ball",
        accept_prob=0.5,
        fit_latents=fit[0],
        fit_embeddings=fit[1],
    )
    assert rej.method == "rejection-ball" and wb.method == "white-box-rejection-ball"
    np.testing.assert_array_equal(wb.region.radii, rej.region.radii)  # same H: same ball
    wb(1, 10)
    assert wb.report().accepted == 10 and rej.report().accepted == 0  # costs are not shared


def test_progress_bars_show_when_asked(ps, fit, mode, capsys):
    v = voronoi_calibrator(
        ps, modes=mode, r0=R0, n_clusters=4, n_fit=500, descriptor=identity_descriptor, progress=True
    )
    v.latents(0, 100)
    err = capsys.readouterr().err
    assert "embed fitting set" in err and "voronoi" in err
