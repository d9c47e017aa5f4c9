"""One training step of each objective: the non-saturating GAN, WGAN-GP and the VAE.

* **GAN** (DCGAN and SN-DCGAN; Goodfellow et al. 2014, §3, the non-saturating generator loss):
  ``L_D = softplus(-D(x)) + softplus(D(G(z)))``, ``L_G = softplus(-D(G(z)))``, means over packs.
* **WGAN-GP** (Gulrajani et al. 2017, Algorithm 1): ``L_D = D(G(z)) - D(x) + lambda (|grad D(x_hat)| - 1)^2``
  with ``x_hat`` uniform on the segment between a real and a generated pack, ``L_G = -D(G(z))``;
  ``n_critic`` critic steps per generator step.
* **VAE** (Kingma and Welling 2014, Eq. 10): the negative ELBO with a Bernoulli decoder,
  ``BCE(x, sigmoid(G(z))) + KL(N(mu, sigma^2) || N(0, I))`` summed over pixels and latents,
  averaged over the batch.

PacGAN (Lin et al. 2018, §3): ``pack(x, m)`` stacks m consecutive images as the m channels of one
discriminator input, so a batch of B images is B / m packs.

Every random draw of step t comes from the ``torch.Generator`` the caller seeds for that step,
so a step is a pure function of the weights, the optimiser state and ``(seed, t)``: that is what
makes training deterministic and a resumed run identical to an uninterrupted one.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["STEPS", "gan_step", "pack", "vae_step", "wgan_gp_step"]


def pack(x: torch.Tensor, m: int) -> torch.Tensor:
    """(B, 1, R, R) -> (B / m, m, R, R): m consecutive images as the channels of one pack."""
    return x.reshape(len(x) // m, m, *x.shape[2:])


def _real_batch(data: torch.Tensor, batch_size: int, gen: torch.Generator) -> torch.Tensor:
    """``batch_size`` training images drawn uniformly with replacement (indices from ``gen``)."""
    idx = torch.randint(len(data), (batch_size,), generator=gen)
    return data[idx.to(data.device)]


def _latents(batch_size: int, latent_dim: int, gen: torch.Generator, device) -> torch.Tensor:
    # Drawn on the CPU and moved, so a step draws the same numbers on every device.
    return torch.randn(batch_size, latent_dim, generator=gen).to(device)


def _update(optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> None:
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def _fake(nets, config, gen, device) -> torch.Tensor:
    return torch.tanh(nets["G"](_latents(config.batch_size, config.latent_dim, gen, device)))


def gan_step(nets, opts, data, config, gen) -> dict[str, float]:
    """One non-saturating GAN step (``n_critic`` discriminator updates, then one generator update)."""
    d, m, device = nets["D"], config.pack, data.device
    for _ in range(config.optim["n_critic"]):
        real = _real_batch(data, config.batch_size, gen)
        fake = _fake(nets, config, gen, device).detach()
        loss_d = F.softplus(-d(pack(real, m))).mean() + F.softplus(d(pack(fake, m))).mean()
        _update(opts["D"], loss_d)
    loss_g = F.softplus(-d(pack(_fake(nets, config, gen, device), m))).mean()
    _update(opts["G"], loss_g)
    return {"loss_d": loss_d.item(), "loss_g": loss_g.item()}


def _gradient_penalty(d, real: torch.Tensor, fake: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    eps = torch.rand(len(real), 1, 1, 1, generator=gen).to(real.device)
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(d(x_hat).sum(), x_hat, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


def wgan_gp_step(nets, opts, data, config, gen) -> dict[str, float]:
    """One WGAN-GP step: ``n_critic`` critic updates with the gradient penalty, one generator update."""
    d, m, device = nets["D"], config.pack, data.device
    for _ in range(config.optim["n_critic"]):
        real = pack(_real_batch(data, config.batch_size, gen), m)
        fake = pack(_fake(nets, config, gen, device).detach(), m)
        w_distance = d(real).mean() - d(fake).mean()
        loss_d = -w_distance + config.gp_weight * _gradient_penalty(d, real, fake, gen)
        _update(opts["D"], loss_d)
    loss_g = -d(pack(_fake(nets, config, gen, device), m)).mean()
    _update(opts["G"], loss_g)
    return {"loss_d": loss_d.item(), "loss_g": loss_g.item(), "w_dist": w_distance.item()}


def vae_step(nets, opts, data, config, gen) -> dict[str, float]:
    """One VAE step on a batch: the negative ELBO (reconstruction + KL), per image."""
    x = _real_batch(data, config.batch_size, gen)
    mu, logvar = nets["E"](x).chunk(2, dim=1)
    z = mu + torch.exp(0.5 * logvar) * _latents(len(x), config.latent_dim, gen, data.device)
    recon = F.binary_cross_entropy_with_logits(nets["G"](z), x, reduction="sum") / len(x)
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / len(x)
    _update(opts["G"], recon + kl)
    return {"loss": (recon + kl).item(), "recon": recon.item(), "kl": kl.item()}


#: arch -> its step function
STEPS = {"dcgan": gan_step, "sn-dcgan": gan_step, "wgan-gp": wgan_gp_step, "vae": vae_step}
