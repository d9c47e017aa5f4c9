"""The 2-D world's training-time remedies (seeds 002 and 004): networks, losses, determinism, the cache."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from bbcollapse.lab.data import fashion_mnist_dir
from bbcollapse.lab.ring2d import assign_modes, ring
from bbcollapse.lab.toy_core import METHODS, Run, ToyConfig
from bbcollapse.lab.toy_gans import gaussian_pnorm_loss
from bbcollapse.lab.toy_nets import BatchedMLP, ResidualPartitioner, adam_unrolled_step
from bbcollapse.lab.toy_pgm import kmeans, train_partitioner
from bbcollapse.lab.toy_stacked import combination_ids, label_stacked, stack_images, stacked_scores, stacked_triples
from bbcollapse.lab.toy_study import score_model
from bbcollapse.lab.toy_train import cache_path, load_toy, train_many, train_toy


def tiny(method: str, **kw) -> ToyConfig:
    kw = {"steps": 6, "width": 16, "partition_steps": 5, "batch_size": 32, **kw}
    return ToyConfig(method=method, **kw)


# --------------------------------------------------------------------------- configuration
def test_config_validates_and_its_key_covers_every_field_and_the_seed():
    with pytest.raises(ValueError, match="method"):
        ToyConfig(method="vae")
    with pytest.raises(ValueError, match="steps"):
        ToyConfig(method="gan", steps=0)
    with pytest.raises(ValueError, match="betas"):
        ToyConfig(method="gan", beta1=1.0)
    base = ToyConfig(method="gan")
    assert base.key(0) != base.key(1)
    assert base.key(0) != ToyConfig(method="gan", lr=2e-3).key(0)
    assert base.key(0) != ToyConfig(method="gan", variant="literature").key(0)
    assert ToyConfig.from_json(base.to_json()) == base
    assert ToyConfig(method="pgmgan", benchmark="grid").n_partitions == 25


# --------------------------------------------------------------------------- networks and losses
def test_batched_mlp_copies_are_independent_of_their_batch_mates():
    alone = BatchedMLP((2, 8, 3), seeds=(7,))
    together = BatchedMLP((2, 8, 3), seeds=(5, 7, 9))
    for a, b in zip(alone.params, together.params):
        torch.testing.assert_close(a[0], b[1], rtol=0, atol=0)
    x = torch.randn(3, 4, 2)
    torch.testing.assert_close(together(x)[1], alone(x[1:2])[0])


def test_adam_unrolled_step_matches_torch_adam():
    torch.manual_seed(0)
    p = torch.randn(5, requires_grad=True)
    q = p.detach().clone().requires_grad_(True)
    opt = torch.optim.Adam([q], lr=0.1, betas=(0.5, 0.999))
    for _ in range(3):  # a few steps, so that the moments are not zero
        (q**3).sum().backward()
        opt.step()
        opt.zero_grad()
    s = opt.state[q]
    state = [(s["exp_avg"].clone(), s["exp_avg_sq"].clone(), float(s["step"]))]
    (g,) = torch.autograd.grad((q**3).sum(), q)
    (new,), _ = adam_unrolled_step([q.detach()], [g], state, lr=0.1, betas=(0.5, 0.999))
    (q**3).sum().backward()
    opt.step()
    torch.testing.assert_close(new, q.detach(), rtol=1e-6, atol=1e-7)


def test_gaussian_pnorm_loss_is_zero_on_a_whitened_batch_and_the_norm_of_the_mean_otherwise():
    z = torch.randn(200, 3, dtype=torch.float64)
    z = z - z.mean(0)
    white = z @ torch.linalg.inv(torch.linalg.cholesky(z.T @ z / 199)).T
    assert float(gaussian_pnorm_loss(white[None])[0]) == pytest.approx(0.0, abs=1e-5)
    shifted = white + torch.tensor([3.0, 4.0, 0.0], dtype=torch.float64)
    assert float(gaussian_pnorm_loss(shifted[None])[0]) == pytest.approx(5.0, abs=1e-5)
    scaled = white * math.sqrt(2.0)  # Sigma = 2 I: |Sigma - I|_2 = sqrt(3)
    assert float(gaussian_pnorm_loss(scaled[None])[0]) == pytest.approx(math.sqrt(3.0), abs=1e-5)


def test_partitioner_is_bi_lipschitz_and_its_guide_vanishes_exactly_on_its_partition():
    part = ResidualPartitioner(2, 5, seeds=(0,), lipschitz=0.9, blocks=4)
    with torch.no_grad():  # make psi as steep as allowed: every weight hits the spectral bound
        for p in part.params[:-2]:
            p.mul_(50.0)
    x, y = torch.randn(1, 2000, 2) * 3, torch.randn(1, 2000, 2) * 3
    x = torch.cat([x, y + 1e-3 * torch.randn_like(y)], dim=1)
    y = torch.cat([y, y], dim=1)
    with torch.no_grad():
        ratio = (part.features(x) - part.features(y)).norm(dim=2) / (x - y).norm(dim=2)
    # Theorem 3's bound for T blocks B(x) = x + psi(x), Lip(psi) <= 0.9^2: (1 - 0.81)^T <= ratio <= (1.81)^T
    assert (1 - 0.81) ** 4 - 1e-6 <= float(ratio.min()) and float(ratio.max()) <= 1.81**4 + 1e-6
    best = part.logits(x).argmax(dim=2)
    for i in range(5):
        r = part.guide(x, torch.full_like(best, i))
        assert bool(((r == 0) == (best == i)).all())


def test_kmeans_recovers_well_separated_clusters():
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 10, (6, 5))
    x = torch.from_numpy(np.repeat(centres, 50, axis=0) + rng.normal(0, 0.1, (300, 5)))
    got = kmeans(x, 6, seed=1).numpy()
    d = np.linalg.norm(got[:, None] - centres[None], axis=2)
    assert sorted(d.argmin(axis=1)) == list(range(6)) and d.min(axis=1).max() < 0.1
    torch.testing.assert_close(kmeans(x, 6, seed=1), kmeans(x, 6, seed=1), rtol=0, atol=0)


def test_partitioner_gives_each_ring_mode_its_own_partition():
    run = Run(ToyConfig(method="pgmgan", variant="literature", partition_steps=400), seeds=(0,))
    part = train_partitioner(run)
    x, labels = ring("literature").sample(1, 4000)
    with torch.no_grad():
        got = part.logits(torch.from_numpy(x).float()[None]).argmax(dim=2)[0].numpy()
    pairs = {(int(a), int(b)) for a, b in zip(labels, got)}
    assert len(pairs) == 8 and len({b for _, b in pairs}) == 8  # a bijection between modes and partitions


# --------------------------------------------------------------------------- training
@pytest.mark.parametrize("method", METHODS)
def test_every_method_trains_and_samples(method, tmp_path):
    cfg = tiny(method, benchmark="grid")
    (model,) = train_toy(cfg, (3,), cache_dir=tmp_path, progress=False)
    assert not model.diverged
    batch = model.sampler()(11, 200)
    assert np.asarray(batch.x).shape == (200, 2) and np.isfinite(batch.x).all()
    assert len(model.log) == cfg.steps
    if method == "pgmgan":  # seed 002's acceptance: each sample lies in its generator's partition
        which = batch.z[:, 0].astype(int)
        part = ResidualPartitioner(2, 25, (3,), params=model.params("P"))
        with torch.no_grad():
            best = part.logits(torch.from_numpy(np.asarray(batch.x, dtype=np.float32))[None]).argmax(dim=2)[0]
        np.testing.assert_array_equal(best.numpy(), which)
        assert model.tensors["priors"].shape == (1, 25) and batch.z.shape == (200, 1 + cfg.z_dim)


def test_training_is_deterministic_for_a_group_of_seeds(tmp_path):
    cfg = tiny("unrolled")
    first = train_toy(cfg, (0, 1), cache_dir=tmp_path / "a", progress=False)
    again = train_toy(cfg, (0, 1), cache_dir=tmp_path / "b", progress=False)
    for a, b in zip(first, again):
        for name, t in a.tensors.items():
            torch.testing.assert_close(t, b.tensors[name], rtol=0, atol=0, msg=name)
    (alone,) = train_toy(cfg, (1,), cache_dir=tmp_path / "a", progress=False)
    assert alone.path != first[1].path  # the group is part of the identity (see ToyConfig.key)


def test_train_many_in_worker_processes_matches_training_here(tmp_path):
    """The process pool (the book's default-scale path; its smoke build trains in-process) trains the same models."""
    jobs = [(tiny("gan"), (0,)), (tiny("pacgan"), (0, 1))]
    pooled = train_many(jobs, workers=2, cache_dir=tmp_path / "pool", progress=False)
    for (cfg, seeds), models in zip(jobs, pooled):
        here = train_toy(cfg, seeds, cache_dir=tmp_path / "here", progress=False)
        assert [m.seed for m in models] == list(seeds)
        for a, b in zip(models, here):
            assert a.path.parent == tmp_path / "pool" and a.path.name == b.path.name
            for name, t in a.tensors.items():
                torch.testing.assert_close(t, b.tensors[name], rtol=0, atol=0, msg=name)


def test_cached_models_are_loaded_not_retrained(tmp_path, monkeypatch):
    cfg = tiny("gan")
    (first,) = train_toy(cfg, (2,), cache_dir=tmp_path, progress=False)
    path = cache_path(cfg, 2, tmp_path, (2,))
    assert path == first.path and path.exists() and not list(tmp_path.rglob(".tmp-*"))
    import bbcollapse.lab.toy_train as tt

    monkeypatch.setattr(tt, "_train_and_save", lambda *a, **k: pytest.fail("retrained a cached model"))
    (again,) = train_toy(cfg, (2,), cache_dir=tmp_path, progress=False)
    assert again.config == cfg and again.seed == 2
    x = np.zeros((1, cfg.z_dim), dtype=np.float32)
    np.testing.assert_array_equal(first.sampler().generate(x), load_toy(path).sampler().generate(x))


def test_a_short_gan_run_learns_something_on_the_literature_ring(tmp_path):
    cfg = ToyConfig(method="gan", variant="literature", steps=400)
    (model,) = train_toy(cfg, (0,), cache_dir=tmp_path, progress=False)
    before = assign_modes(np.zeros((1, 2)), cfg.spec)  # the untrained scale: nowhere near a mode
    assert not before[1][0]
    scores = score_model(model, n=5000)
    assert scores.modes >= 2 and scores.quality > 0.02


# --------------------------------------------------------------------------- Stacked Fashion-MNIST
def test_stacked_scores_of_constructed_label_sets():
    every = stacked_scores(np.arange(1000))
    assert (every.modes, every.reverse_kl) == (1000, pytest.approx(0.0, abs=1e-12))
    one = stacked_scores(np.full(50, 421))
    assert (one.modes, one.reverse_kl) == (1, pytest.approx(math.log(1000)))
    half = stacked_scores(np.repeat(np.arange(0, 1000, 2), 3))
    assert (half.modes, half.reverse_kl) == (500, pytest.approx(math.log(2)))
    with pytest.raises(ValueError, match="0..999"):
        stacked_scores(np.array([1000]))


def test_combination_ids_and_stacking():
    np.testing.assert_array_equal(combination_ids([[1, 2, 3], [9, 0, 9]]), [123, 909])
    with pytest.raises(ValueError, match="0..9"):
        combination_ids([[1, 2, 10]])
    items = np.arange(4 * 28 * 28, dtype=np.int64).reshape(4, 28, 28) % 256
    triples = stacked_triples(5, seed=1, n_items=4)
    x = stack_images(items.astype(np.uint8), triples)
    assert x.shape == (5, 3, 28, 28) and x.dtype == np.float32
    np.testing.assert_allclose(x[2, 1], items[triples[2, 1]] / 255.0)
    bright = lambda imgs: (imgs.reshape(len(imgs), -1).mean(axis=1) > 0.5).astype(int)  # noqa: E731
    ids = label_stacked(x, bright)
    np.testing.assert_array_equal(ids, combination_ids(bright(x.reshape(-1, 1, 28, 28)).reshape(-1, 3)))


def test_real_stacked_data_labelled_by_its_true_classes_covers_every_combination():
    labels = np.random.default_rng(0).integers(0, 10, 60_000)  # stands for Fashion-MNIST's labels
    triples = stacked_triples(26_000, seed=3, n_items=60_000)
    s = stacked_scores(combination_ids(labels[triples]))
    assert s.modes == 1000  # each combination has probability 1/1000: 26 expected per combination
    assert 0 < s.reverse_kl < 0.05  # multinomial noise only: about (1000 - 1) / (2 * 26000) = 0.019


@pytest.mark.skipif(not fashion_mnist_dir().exists(), reason="Fashion-MNIST is not installed")
@pytest.mark.parametrize("method", ["pacgan", "pgmgan"])
def test_stacked_methods_train_and_generate_images(method, tmp_path):
    cfg = ToyConfig(
        method=method, benchmark="stacked-fmnist", variant="seed002", steps=3, batch_size=8, z_dim=8, width=32,
        layers=3, partition_steps=2, partitions=6,
    )  # fmt: skip
    (model,) = train_toy(cfg, (1,), cache_dir=tmp_path, progress=False)
    x = np.asarray(model.sampler()(4, 5).x)
    assert x.shape == (5, 3, 28, 28) and 0 <= x.min() and x.max() <= 1
    with pytest.raises(ValueError, match="not a 2-D mixture"):
        _ = cfg.spec
    with pytest.raises(ValueError, match="variant"):
        ToyConfig(method="gan", benchmark="stacked-fmnist")
