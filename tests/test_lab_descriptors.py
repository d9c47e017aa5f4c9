"""The lab's descriptors and the real-data baseline, against independent references.

* views: the identity view reproduces the image, a certain flip mirrors it, views are a function of the seed;
* NT-Xent against a float64 loop over the 2B views;
* the encoder and the classifier train bit-for-bit repeatably, cache by config hash in safetensors, and
  learn (a classifier on planted bars; an encoder whose loss falls and whose view AUC beats chance);
* the baseline: the data's A and C are disjoint random subsets, and MCCS(I_w) (selected on S, scored on
  T) equals a float64 brute force on T; the classifier metrics equal their parts.
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from bbcollapse.lab.baseline import classifier_metrics, diagnose_images, disjoint_indices, report_numbers
from bbcollapse.lab.classifier import ClassifierConfig, lab_classifier
from bbcollapse.lab.encoder import EncoderConfig, instance_encoder, nt_xent, view_invariance
from bbcollapse.lab.views import ViewConfig, item_views
from bbcollapse.metrics import frechet_distance, inception_score_analogue
from tests.helpers import rand_unit

TINY_ENCODER = EncoderConfig(steps=30, batch_size=32, width=4, dim=16, lr=3e-3)
TINY_CLASSIFIER = ClassifierConfig(steps=60, batch_size=32, width=4, features=16, lr=3e-3)


@pytest.fixture(autouse=True)
def one_thread():
    """Networks this small train far faster single-threaded on a shared CPU (a 2-thread pool waits for both)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def blobs(n: int, seed: int) -> np.ndarray:
    """uint8 (n, 28, 28) images of a few random bright rectangles: distinct items."""
    rng = np.random.default_rng(seed)
    out = np.zeros((n, 28, 28), np.uint8)
    for i in range(n):
        for _ in range(3):
            y0, x0 = rng.integers(2, 20, size=2)
            h, w = rng.integers(3, 9, size=2)
            out[i, y0 : y0 + h, x0 : x0 + w] = rng.integers(80, 256)
    return out


def bars(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """uint8 (n, 28, 28) images with a horizontal bar in row band ``2 + 2 k`` for class k, plus noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, size=n)
    x = rng.integers(0, 40, size=(n, 28, 28)).astype(np.uint8)
    for i, k in enumerate(y):
        x[i, 3 + 2 * k : 5 + 2 * k, 4:24] = 255
    return x, y.astype(np.int64)


# -- views ------------------------------------------------------------------------------
def test_identity_view_is_the_image_and_a_sure_flip_mirrors_it():
    x = blobs(5, 0)
    still = dict(scale=(1.0, 1.0), ratio=(1.0, 1.0), max_shift=0.0, contrast=0.0)
    same = item_views(x, seed=1, n_views=2, config=ViewConfig(flip=0.0, **still))
    np.testing.assert_allclose(same[:, 0, 0], x / 255.0, atol=1e-6)
    mirrored = item_views(x, seed=1, n_views=1, config=ViewConfig(flip=1.0, **still))
    np.testing.assert_allclose(mirrored[:, 0, 0], x[:, :, ::-1] / 255.0, atol=1e-6)


def test_views_are_a_function_of_the_seed_and_stay_in_range():
    x = blobs(6, 1)
    a, b, c = (item_views(x, seed=s, n_views=3) for s in (7, 7, 8))
    assert a.shape == (6, 3, 1, 28, 28) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.min() >= 0 and a.max() <= 1


def test_bad_images_and_view_configs_are_refused():
    with pytest.raises(ValueError, match="28, 28"):
        item_views(np.zeros((2, 32, 32), np.uint8), seed=0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        item_views(np.full((2, 28, 28), 3.0, np.float32), seed=0)
    with pytest.raises(ValueError, match="scale"):
        ViewConfig(scale=(0.5, 1.5))


# -- NT-Xent ---------------------------------------------------------------------------
def test_nt_xent_matches_a_float64_loop():
    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(5, 7, generator=g), torch.randn(5, 7, generator=g)
    tau = 0.3
    z = torch.cat([z1, z2]).double()
    z = (z / z.norm(dim=1, keepdim=True)).numpy()
    b, total = 5, 0.0
    for i in range(2 * b):
        pos = (i + b) % (2 * b)
        sims = [z[i] @ z[j] / tau for j in range(2 * b) if j != i]
        total += -(z[i] @ z[pos] / tau - np.log(np.sum(np.exp(sims))))
    assert nt_xent(z1, z2, tau).item() == pytest.approx(total / (2 * b), rel=1e-5)


# -- the encoder ------------------------------------------------------------------------
def _weights(directory):
    from safetensors.torch import load_file

    (d,) = [p for p in directory.iterdir() if p.is_dir()]
    return load_file(str(d / "weights.safetensors")), json.loads((d / "record.json").read_text())


def test_encoder_trains_repeatably_and_caches_in_safetensors(tmp_path):
    x = blobs(64, 2)
    d1 = instance_encoder(TINY_ENCODER, images=x, cache_dir=tmp_path / "a", progress=False)
    d2 = instance_encoder(TINY_ENCODER, images=x, cache_dir=tmp_path / "b", progress=False)
    w1, rec1 = _weights(tmp_path / "a")
    w2, _ = _weights(tmp_path / "b")
    assert w1.keys() == w2.keys() and all(torch.equal(w1[k], w2[k]) for k in w1)  # bit for bit
    assert rec1["config"] == TINY_ENCODER.to_json() and len(rec1["log"]) >= 1
    e = d1(x[:10])
    assert e.shape == (10, 16) and e.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(e.astype(np.float64), axis=1), 1.0, atol=1e-6)
    np.testing.assert_array_equal(e, d2(x[:10].astype(np.float32)[:, None] / 255.0))
    again = instance_encoder(TINY_ENCODER, images=x, cache_dir=tmp_path / "a", progress=False)
    assert again.record == d1.record  # read back, not retrained
    np.testing.assert_array_equal(again(x[:10]), e)
    other = instance_encoder(replace(TINY_ENCODER, seed=1), images=x, cache_dir=tmp_path / "a", progress=False)
    assert other.identity != d1.identity and len(list((tmp_path / "a").iterdir())) == 2


def test_training_threads_are_restored(tmp_path):
    torch.set_num_threads(2)
    cfg = replace(TINY_ENCODER, steps=2)
    d = instance_encoder(cfg, images=blobs(16, 0), cache_dir=tmp_path, progress=False, threads=1)
    assert d.record["threads"] == 1 and torch.get_num_threads() == 2


def test_encoder_learns_view_invariance(tmp_path):
    x = blobs(256, 3)
    cfg = EncoderConfig(steps=80, batch_size=64, width=8, dim=32, lr=3e-3)
    d = instance_encoder(cfg, images=x, cache_dir=tmp_path, progress=False)
    log = d.record["log"]
    assert log[-1]["loss"] < 0.8 * log[0]["loss"]
    vi = view_invariance(d, blobs(60, 4), seed=5, n_views=3)
    assert vi.same.shape == (180,) and vi.diff.shape == (60 * 59 // 2,)
    assert vi.auc > 0.9
    assert vi.theta_r.r == pytest.approx(np.quantile(vi.same, 0.95))
    assert vi.theta_r.theta == pytest.approx(max(vi.theta_r.r, np.quantile(vi.diff, 0.05)))


def test_view_invariance_distances_match_a_brute_force():
    proj = np.random.default_rng(0).standard_normal((784, 12))

    def descriptor(images):
        e = np.asarray(images, np.float64).reshape(len(images), -1) @ proj
        return e / np.linalg.norm(e, axis=1, keepdims=True)

    x = blobs(8, 6)
    vi = view_invariance(descriptor, x, seed=9, n_views=2)
    v = item_views(x, seed=9, n_views=2)
    e = descriptor(x / 255.0)
    same = [np.arccos(np.clip(e[i] @ descriptor(v[i, j][None])[0], -1, 1)) / np.pi for i in range(8) for j in range(2)]
    np.testing.assert_allclose(vi.same, same, atol=1e-9)
    diff = [np.arccos(np.clip(e[i] @ e[j], -1, 1)) / np.pi for i in range(8) for j in range(i + 1, 8)]
    np.testing.assert_allclose(vi.diff, diff, atol=1e-9)


# -- the classifier ---------------------------------------------------------------------
def test_classifier_learns_planted_bars_and_is_repeatable(tmp_path):
    x, y = bars(600, 0)
    xt, yt = bars(200, 1)
    clf = lab_classifier(TINY_CLASSIFIER, images=x, labels=y, cache_dir=tmp_path / "a", progress=False)
    assert clf.accuracy(xt, yt) >= 0.9
    lab_classifier(TINY_CLASSIFIER, images=x, labels=y, cache_dir=tmp_path / "b", progress=False)
    w1, _ = _weights(tmp_path / "a")
    w2, _ = _weights(tmp_path / "b")
    assert all(torch.equal(w1[k], w2[k]) for k in w1)
    p = clf.probs(xt)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-5)
    assert clf.features(xt).shape == (200, 16)
    hist = clf.class_histogram(xt)
    np.testing.assert_array_equal(hist, np.bincount(clf.predict(xt), minlength=10))
    with pytest.raises(ValueError, match="labels"):
        lab_classifier(TINY_CLASSIFIER, images=x, labels=y[:-1] + 20, cache_dir=tmp_path, progress=False)
    with pytest.raises(ValueError, match="both"):
        lab_classifier(TINY_CLASSIFIER, images=x, cache_dir=tmp_path, progress=False)


def test_classifier_metrics_agree_with_their_parts(tmp_path):
    x, y = bars(300, 2)
    clf = lab_classifier(TINY_CLASSIFIER, images=x, labels=y, cache_dir=tmp_path, progress=False)
    ref, gen = bars(120, 3)[0], bars(120, 4)[0]
    m = classifier_metrics(clf, gen, reference_features=clf.features(ref), splits=2)
    assert m.histogram.sum() == 120
    np.testing.assert_array_equal(m.histogram, clf.class_histogram(gen))
    score = inception_score_analogue(clf.probs(gen), classifier="the lab classifier", splits=2)
    assert (m.fashion_is, m.fashion_is_sd) == (score.value, score.split_std)
    assert m.frechet == frechet_distance(reference=clf.features(ref), samples=clf.features(gen))


# -- the baseline -----------------------------------------------------------------------
def test_disjoint_indices():
    a, s, t = disjoint_indices(100, (10, 30, 40), seed=0)
    assert (len(a), len(s), len(t)) == (10, 30, 40)
    assert len(np.unique(np.concatenate([a, s, t]))) == 80
    np.testing.assert_array_equal(disjoint_indices(100, (10, 30, 40), seed=0)[1], s)
    with pytest.raises(ValueError, match="more than"):
        disjoint_indices(50, (10, 30, 40), seed=0)


def _mccs_brute(anchor, samples, theta):
    d = np.arccos(np.clip(samples.astype(np.float64) @ anchor.astype(np.float64), -1, 1)) / np.pi
    s = (np.exp(np.maximum(0, theta - d)) - 1) / (np.exp(theta) - 1)
    return 1.0 / -np.log10(s.mean())


def test_diagnose_images_selects_on_s_and_scores_on_t():
    # a planted "data set": 15% of the items are near-copies of one item
    rng = np.random.default_rng(0)
    x = rand_unit(rng, 1200, 8).astype(np.float64)
    centre = x[0]
    dup = rng.random(1200) < 0.15
    x[dup] = centre + 0.05 * rng.standard_normal((dup.sum(), 8))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    report, idx = diagnose_images(lambda e: e, x, n_anchors=100, n_samples=800, seed=3, theta=0.3, r=0.2)
    ia, ic = idx["anchors"], idx["samples"]
    assert len(np.unique(np.concatenate([ia, ic]))) == 900
    assert dup[ia[report.worst]]  # I_w is one of the planted copies
    s, t = ic[:400], ic[400:]
    counts = (np.arccos(np.clip(x[ia] @ x[s].T, -1, 1)) / np.pi <= 0.2).sum(axis=1)
    assert counts.max() == counts[report.worst] == report.worst_count
    assert report.worst_mccs == pytest.approx(_mccs_brute(x[ia[report.worst]], x[t], 0.3), rel=1e-6)
    nums = report_numbers(report)
    assert (nums["n_select"], nums["n_score"], nums["n_anchors"]) == (400, 400, 100)
    assert nums["mccs_worst_ci95"][0] <= nums["mccs_worst"] <= nums["mccs_worst_ci95"][1]
    assert nums["mu_ci95"][0] <= nums["mu"] <= nums["mu_ci95"][1]
    assert nums["mccs_worst"] > nums["mccs_median_anchor"]
