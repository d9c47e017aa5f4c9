"""The 2-D world's training-time remedies (seeds 002 and 004): networks, losses, determinism, the cache."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from bbcollapse.lab.ring2d import assign_modes, ring
from bbcollapse.lab.toy_core import METHODS, Run, ToyConfig
from bbcollapse.lab.toy_gans import gaussian_pnorm_loss
from bbcollapse.lab.toy_nets import BatchedMLP, ResidualPartitioner, adam_unrolled_step
from bbcollapse.lab.toy_pgm import train_partitioner
from bbcollapse.lab.toy_study import score_model
from bbcollapse.lab.toy_train import cache_path, load_toy, train_toy


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


def test_cached_models_are_loaded_not_retrained(tmp_path, monkeypatch):
    cfg = tiny("gan")
    (first,) = train_toy(cfg, (2,), cache_dir=tmp_path, progress=False)
    path = cache_path(cfg, 2, tmp_path, (2,))
    assert path == first.path and path.exists() and not list(tmp_path.glob(".*.tmp"))
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
