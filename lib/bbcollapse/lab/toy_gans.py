"""The single-generator methods of seed 004's Table 1 and the issue, as small batched torch MLPs.

Each method is a pair ``(setup(run), step(run, t) -> per-seed losses)``; :data:`STEPS` maps a
method name to its pair. Written from the papers' objectives (not from any released code):

* **GAN** (Goodfellow et al., 2014): the non-saturating generator loss.
* **PacGAN** (Lin et al., 2018): the same losses, the discriminator sees ``pack`` samples
  concatenated (all real or all generated).
* **BiGAN** (Donahue et al., 2017): an encoder E(x); the discriminator tells ``(x, E(x))`` from
  ``(G(z), z)``; G and E are trained with the labels flipped.
* **Unrolled GAN** (Metz et al., 2017): the generator's loss is taken against the discriminator
  after ``unroll`` differentiable Adam steps (:func:`bbcollapse.lab.toy_nets.adam_unrolled_step`),
  so G sees how D would react; D itself takes ordinary steps.
* **VEEGAN** (Srivastava et al., 2017): a reconstructor F(x); the discriminator tells
  ``(z, G(z))`` (label 1) from ``(F(x), x)`` (label 0); G and F minimise the mean discriminator
  logit on ``(z, G(z))`` plus ``|z - F(G(z))|^2`` (the noise autoencoder). Our F is
  deterministic (VEEGAN's reference F takes extra noise).
* **InvertGAN** (seed 004, Eqs. 5, 9, 10): an inverse F; G and F minimise the GAN loss plus
  ``L_cons = E|z - F(G(z))|_2 + E|x - G(F(x))|_2`` plus the p-norm Gaussian loss
  ``|mu|_p + |Sigma - I|_p`` of the batch of ``F(x)`` (Sigma the batch covariance, entrywise p-norm).
* **WGAN-GP** (Gulrajani et al., 2017): critic loss ``D(G(z)) - D(x) + lambda (|grad D(x_hat)| - 1)^2``
  on random interpolates, ``n_critic`` critic steps per generator step.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .toy_core import Run
from .toy_nets import BatchedMLP, adam_unrolled_step, seed_means

__all__ = ["STEPS", "gaussian_pnorm_loss"]


def _fake_loss(logits):
    """-log(1 - sigmoid(l)) per element: a generated sample called real costs the discriminator this."""
    return F.softplus(logits)


def _real_loss(logits):
    """-log(sigmoid(l)) per element: the non-saturating generator loss, and D's loss on real data."""
    return F.softplus(-logits)


def _generator(run: Run) -> BatchedMLP:
    c = run.config
    return BatchedMLP(c.hidden(c.z_dim, c.data_dim), run.seeds, net_id=0, out=c.output)


def _two_player(run: Run, d_in: int, extra: dict | None = None) -> None:
    """G and a discriminator with ``d_in`` inputs (plus ``extra`` nets trained with G), with optimisers."""
    c = run.config
    run.nets["G"] = _generator(run)
    run.nets["D"] = BatchedMLP(c.hidden(d_in, 1), run.seeds, net_id=1)
    run.nets.update(extra or {})
    run.optimise("D", run.nets["D"].params)
    run.optimise("G", [p for name, net in run.nets.items() if name != "D" for p in net.params])


def _d_loss(D, real_in, fake_in, params=None) -> torch.Tensor:
    """Per-seed discriminator loss, real and generated inputs in one pass: (S,)."""
    logits = D(torch.cat([real_in, fake_in], dim=1), params)
    n = real_in.shape[1]
    return seed_means(_real_loss(logits[:, :n])) + seed_means(_fake_loss(logits[:, n:]))


def _d_and_g_steps(run: Run, real_in, fake_in, g_extra=None) -> dict:
    """One discriminator step on (real_in, fake_in.detach()), then a non-saturating generator step.

    ``fake_in`` must be built from G's output so the generator step reaches G; ``g_extra`` is a
    callable returning extra per-seed generator losses (S,).
    """
    D = run.nets["D"]
    d_loss = _d_loss(D, real_in, fake_in.detach())
    run.update("D", d_loss.sum())
    g_loss = seed_means(_real_loss(D(fake_in)))
    if g_extra is not None:
        g_loss = g_loss + g_extra()
    run.update("G", g_loss.sum())
    return {"d": d_loss.detach(), "g": g_loss.detach()}


# ---------------------------------------------------------------- GAN and PacGAN
def _setup_plain(run: Run) -> None:
    """G and a discriminator (or critic) of one data point: GAN, Unrolled GAN, WGAN-GP."""
    _two_player(run, run.config.data_dim)


def _step_gan(run: Run, t: int) -> dict:
    B = run.config.batch_size
    return _d_and_g_steps(run, run.real(B), run.nets["G"](run.latent(B)))


def _setup_pacgan(run: Run) -> None:
    _two_player(run, run.config.pack * run.config.data_dim)


def _step_pacgan(run: Run, t: int) -> dict:
    B, m, d = run.config.batch_size, run.config.pack, run.config.data_dim
    real = run.real(B * m).reshape(run.S, B, d * m)
    fake = run.nets["G"](run.latent(B * m)).reshape(run.S, B, d * m)
    return _d_and_g_steps(run, real, fake)


# ---------------------------------------------------------------- BiGAN and VEEGAN
def _setup_with_inverse(run: Run, d_in: int) -> None:
    c = run.config
    _two_player(run, d_in, {"F": BatchedMLP(c.hidden(c.data_dim, c.z_dim), run.seeds, net_id=2)})


def _setup_bigan(run: Run) -> None:
    _setup_with_inverse(run, run.config.data_dim + run.config.z_dim)


def _step_bigan(run: Run, t: int) -> dict:
    B = run.config.batch_size
    G, E, D = run.nets["G"], run.nets["F"], run.nets["D"]
    x, z = run.real(B), run.latent(B)
    data_pair = torch.cat([x, E(x)], dim=2)
    model_pair = torch.cat([G(z), z], dim=2)
    run.update("D", (d_loss := _d_loss(D, data_pair.detach(), model_pair.detach())).sum())
    g_loss = _d_loss(D, model_pair, data_pair)  # the labels flipped
    run.update("G", g_loss.sum())
    return {"d": d_loss.detach(), "g": g_loss.detach()}


def _setup_veegan(run: Run) -> None:
    _setup_with_inverse(run, run.config.z_dim + run.config.data_dim)


def _step_veegan(run: Run, t: int) -> dict:
    B = run.config.batch_size
    G, Fr, D = run.nets["G"], run.nets["F"], run.nets["D"]
    x, z = run.real(B), run.latent(B)
    xg = G(z)
    model_pair = torch.cat([z, xg], dim=2)
    data_pair = torch.cat([Fr(x), x], dim=2).detach()
    d_loss = _d_loss(D, model_pair.detach(), data_pair)
    run.update("D", d_loss.sum())
    g_loss = seed_means(D(model_pair)) + seed_means(((z - Fr(xg)) ** 2).sum(dim=2))
    run.update("G", g_loss.sum())
    return {"d": d_loss.detach(), "g": g_loss.detach()}


# ---------------------------------------------------------------- InvertGAN
def _norm2(v: torch.Tensor) -> torch.Tensor:
    """Euclidean norm over the last axis, smooth at 0 (a zero residual must not give a NaN gradient)."""
    return torch.sqrt((v * v).sum(dim=-1) + 1e-12)


def gaussian_pnorm_loss(z: torch.Tensor, p: float = 2.0) -> torch.Tensor:
    """Seed 004's Eq. 9 per seed: ``|mu|_p + |Sigma - I|_p`` of a batch of latents.

    Parameters
    ----------
    z : (S, n, l) inverses ``F(x)`` of a batch of data, n >= 2
    p : the norm's order (entrywise for the matrix)

    Returns
    -------
    (S,) tensor; 0 exactly when the batch mean is 0 and the batch covariance (n - 1) is I.
    """
    mu = z.mean(dim=1)
    zc = z - mu[:, None, :]
    cov = zc.transpose(1, 2) @ zc / (z.shape[1] - 1)
    eye = torch.eye(z.shape[2], dtype=z.dtype)
    return _pnorm(mu, p, 1) + _pnorm(cov - eye, p, (1, 2))


def _pnorm(t: torch.Tensor, p: float, dims) -> torch.Tensor:
    """Entrywise p-norm over ``dims``, smooth at 0."""
    return ((t.abs() ** p).sum(dim=dims) + 1e-12) ** (1 / p)


def _setup_invertgan(run: Run) -> None:
    _setup_with_inverse(run, run.config.data_dim)


def _step_invertgan(run: Run, t: int) -> dict:
    c = run.config
    G, Fi = run.nets["G"], run.nets["F"]
    x, z = run.real(c.batch_size), run.latent(c.batch_size)
    xg = G(z)

    def inverse_losses():
        zx = Fi(x)
        cons = seed_means(_norm2(z - Fi(xg))) + seed_means(_norm2(x - G(zx)))
        return cons + gaussian_pnorm_loss(zx, c.p_norm)

    return _d_and_g_steps(run, x, xg, inverse_losses)


# ---------------------------------------------------------------- Unrolled GAN
def _step_unrolled(run: Run, t: int) -> dict:
    c = run.config
    G, D = run.nets["G"], run.nets["D"]
    x, z = run.real(c.batch_size), run.latent(c.batch_size)
    fake = G(z)
    d_loss = _d_loss(D, x, fake.detach())
    run.update("D", d_loss.sum())
    params, opt = run.optims["D"]
    state = []
    for p in params:
        s = opt.state[p]
        state.append((s["exp_avg"].detach(), s["exp_avg_sq"].detach(), float(s["step"])))
    unrolled = list(params)
    for _ in range(c.unroll):
        loss = _d_loss(D, x, fake, unrolled).sum()
        grads = torch.autograd.grad(loss, unrolled, create_graph=True)
        unrolled, state = adam_unrolled_step(unrolled, grads, state, lr=c.lr, betas=(c.beta1, c.beta2))
    g_loss = seed_means(_real_loss(D(fake, unrolled)))
    run.update("G", g_loss.sum())
    return {"d": d_loss.detach(), "g": g_loss.detach()}


# ---------------------------------------------------------------- WGAN-GP
def _step_wgan_gp(run: Run, t: int) -> dict:
    c = run.config
    G, D = run.nets["G"], run.nets["D"]
    for _ in range(c.n_critic):
        x = run.real(c.batch_size)
        fake = G(run.latent(c.batch_size)).detach()
        eps = run.uniform((c.batch_size, 1))
        x_hat = (eps * x + (1 - eps) * fake).requires_grad_(True)
        out = D(torch.cat([x, fake, x_hat], dim=1))  # one pass; the gradient is taken at x_hat only
        B = c.batch_size
        (grad,) = torch.autograd.grad(out[:, 2 * B :].sum(), x_hat, create_graph=True)
        penalty = (_norm2(grad) - 1.0) ** 2
        d_loss = seed_means(out[:, B : 2 * B]) - seed_means(out[:, :B]) + c.gp_weight * seed_means(penalty)
        run.update("D", d_loss.sum())
    g_loss = -seed_means(D(G(run.latent(c.batch_size))))
    run.update("G", g_loss.sum())
    return {"d": d_loss.detach(), "g": g_loss.detach()}


#: method -> (setup(run), step(run, t) -> {"d": (S,), "g": (S,)} per-seed losses)
STEPS = {
    "gan": (_setup_plain, _step_gan),
    "pacgan": (_setup_pacgan, _step_pacgan),
    "bigan": (_setup_bigan, _step_bigan),
    "unrolled": (_setup_plain, _step_unrolled),
    "veegan": (_setup_veegan, _step_veegan),
    "invertgan": (_setup_invertgan, _step_invertgan),
    "wgan-gp": (_setup_plain, _step_wgan_gp),
}
