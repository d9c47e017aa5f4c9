"""Fréchet distance against the Gaussian closed form; PRDC on cases with known answers."""

import numpy as np
import pytest

from bbcollapse.metrics import (
    EfficientNetLite0Features,
    frechet_distance,
    frechet_distance_from_moments,
    prdc_scores,
)


def _closed_form(mu1, s1, mu2, s2):
    # Tr((S1 S2)^{1/2}) from the eigenvalues of S1^{1/2} S2 S1^{1/2} (symmetric PSD): an
    # independent route from the sqrtm of the non-symmetric product used by the code.
    w, v = np.linalg.eigh(s1)
    r1 = v @ np.diag(np.sqrt(np.clip(w, 0, None))) @ v.T
    ev = np.linalg.eigvalsh(r1 @ s2 @ r1)
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.sum(np.sqrt(np.clip(ev, 0, None))))


def _random_spd(rng, d):
    a = rng.standard_normal((d, d))
    return a @ a.T / d + 0.1 * np.eye(d)


def test_frechet_moments_match_closed_form(rng):
    for d in (1, 3, 16):
        mu1, mu2 = rng.standard_normal(d), rng.standard_normal(d)
        s1, s2 = _random_spd(rng, d), _random_spd(rng, d)
        assert frechet_distance_from_moments(mu1, s1, mu2, s2) == pytest.approx(
            _closed_form(mu1, s1, mu2, s2), rel=1e-8, abs=1e-10
        )


def test_frechet_diagonal_case_by_hand():
    # N(0, I) vs N(1, 4 I) in d = 5: ||mu||^2 = 5, Tr(I + 4I - 2*2I) = 5  ->  10
    d = 5
    assert frechet_distance_from_moments(np.zeros(d), np.eye(d), np.ones(d), 4 * np.eye(d)) == pytest.approx(
        10.0, abs=1e-10
    )


def test_frechet_on_samples_converges_to_closed_form(rng):
    d = 4
    mu1, mu2 = np.zeros(d), np.full(d, 0.5)
    s1, s2 = _random_spd(rng, d), _random_spd(rng, d)
    a = rng.multivariate_normal(mu1, s1, size=200_000)
    b = rng.multivariate_normal(mu2, s2, size=200_000)
    assert frechet_distance(reference=a, samples=b) == pytest.approx(_closed_form(mu1, s1, mu2, s2), rel=0.02)
    assert frechet_distance(reference=a, samples=a) == pytest.approx(0.0, abs=1e-8)


def test_frechet_svd_route_matches_closed_form_and_sqrtm(rng):
    # full rank: both routes agree with each other and with the eigen closed form on the sample moments
    a = rng.standard_normal((400, 6)) @ rng.standard_normal((6, 6))
    b = rng.standard_normal((300, 6)) * 1.5 + 0.3
    ref = _closed_form(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))
    assert frechet_distance(reference=a, samples=b, method="svd") == pytest.approx(ref, rel=1e-9)
    assert frechet_distance(reference=a, samples=b, method="sqrtm") == pytest.approx(ref, rel=1e-7)
    # rank-deficient (n < d): the svd route is exact where sqrtm is ill-conditioned
    a, b = rng.standard_normal((20, 50)), rng.standard_normal((15, 50)) + 0.2
    ref = _closed_form(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))
    assert frechet_distance(reference=a, samples=b) == pytest.approx(ref, rel=1e-6)


def test_frechet_singular_covariance_is_finite(rng):
    # rank-deficient features (n < d): sqrtm of a singular product, handled with eps
    a = rng.standard_normal((10, 30))
    b = rng.standard_normal((10, 30)) + 0.1
    v = frechet_distance(reference=a, samples=b, method="sqrtm")
    assert np.isfinite(v) and v > 0


def test_frechet_bad_input():
    with pytest.raises(ValueError, match="reference"):
        frechet_distance(reference=np.zeros(5), samples=np.zeros((5, 2)))
    with pytest.raises(ValueError, match="features"):
        frechet_distance(reference=np.zeros((5, 3)), samples=np.zeros((5, 2)))


def test_prdc_identical_and_disjoint(rng):
    a = rng.standard_normal((500, 8))
    same = prdc_scores(reference=a, samples=a.copy(), nearest_k=5)
    assert same.precision == 1.0 and same.recall == 1.0 and same.coverage == 1.0
    far = prdc_scores(reference=a, samples=a + 100.0, nearest_k=5)
    assert far.precision == 0.0 and far.recall == 0.0 and far.coverage == 0.0 and far.density == 0.0


def test_prdc_subset_has_full_precision_low_recall(rng):
    # samples = half of the reference clustered in one corner: precision ~1, coverage ~ mass covered
    a = rng.standard_normal((2000, 2))
    corner = a[a[:, 0] > 0]
    s = prdc_scores(reference=a, samples=corner, nearest_k=5)
    assert s.precision == 1.0
    assert 0.35 < s.coverage < 0.65  # about half the reference balls contain a sample
    assert s.recall < 0.7
    with pytest.raises(ValueError, match="nearest_k"):
        prdc_scores(reference=a[:4], samples=a[:4], nearest_k=5)


def test_prdc_matches_a_direct_small_computation(rng):
    # Naeem et al. 2020 by hand: k-NN radii (the k-th other point), strict "<" as in the package
    real, fake, k = rng.standard_normal((25, 3)), rng.standard_normal((20, 3)) + 0.4, 3
    dist = lambda a, b: float(np.sqrt(((a - b) ** 2).sum()))
    rr = [sorted(dist(a, b) for b in real)[k] for a in real]  # index 0 is the point itself
    rf = [sorted(dist(a, b) for b in fake)[k] for a in fake]
    inside = np.array([[dist(real[i], fake[j]) < rr[i] for j in range(20)] for i in range(25)])
    precision = inside.any(axis=0).mean()
    recall = np.mean([any(dist(real[i], fake[j]) < rf[j] for j in range(20)) for i in range(25)])
    density = inside.sum(axis=0).mean() / k
    coverage = np.mean([min(dist(real[i], f) for f in fake) < rr[i] for i in range(25)])
    got = prdc_scores(reference=real, samples=fake, nearest_k=k, features="toy")
    assert (got.precision, got.recall, got.coverage) == pytest.approx((precision, recall, coverage), abs=1e-12)
    assert got.density == pytest.approx(density, rel=1e-12)
    assert "toy" in got.name


def test_prdc_exact_duplicates_have_empty_balls(rng):
    # samples that are k+1 copies of one point: every k-NN radius is 0, and "<" puts no real point inside
    real = rng.standard_normal((50, 2))
    got = prdc_scores(reference=real, samples=np.repeat(real[:3], 6, axis=0), nearest_k=5)
    assert got.recall == 0.0 and got.precision == 1.0


@pytest.fixture(scope="module")
def effnet():
    import torch

    torch.set_num_threads(2)
    return EfficientNetLite0Features(image_size=64, batch_size=16)


def test_effnet_features_load_offline_and_are_deterministic(effnet, rng):
    imgs = rng.integers(0, 256, size=(6, 32, 32, 3), dtype=np.uint8)
    f1, f2 = effnet(imgs), effnet(imgs[::-1].copy())[::-1]
    assert f1.shape == (6, 1280) and np.isfinite(f1).all()
    np.testing.assert_allclose(f1, f2, rtol=1e-4, atol=1e-5)  # per-image, batch-order independent
    # channel-first float input in [0, 1] gives the same features as uint8 HWC
    f3 = effnet(np.transpose(imgs, (0, 3, 1, 2)).astype(np.float32) / 255.0)
    np.testing.assert_allclose(f1, f3, rtol=1e-4, atol=1e-4)


def test_effnet_features_separate_image_families(effnet, rng):
    # pretrained features must tell smooth colour gradients from noise far better than chance
    n = 12
    noise = rng.integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)
    t = np.linspace(0, 1, 32)
    smooth = np.stack(
        [np.stack([np.outer(t * c, t)[:, :] * 255 for c in col], -1) for col in rng.random((n, 3))]
    ).astype(np.uint8)
    fa, fb = effnet(noise), effnet(smooth)
    within = np.mean([np.linalg.norm(fa[i] - fa[j]) for i in range(n) for j in range(i)])
    between = np.mean([np.linalg.norm(fa[i] - fb[j]) for i in range(n) for j in range(n)])
    assert between > 1.5 * within
