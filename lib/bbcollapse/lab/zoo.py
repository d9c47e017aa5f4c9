"""The lab's networks: a DCGAN generator and discriminator, small enough to train on a CPU.

Architectures (Radford et al. 2016, scaled down; ``w`` = ``GanConfig.width``)::

    Generator (28 px):  z (L) -> Linear -> 4w x 7 x 7 -> BN, ReLU
                        -> ConvT 4x4/2 -> 2w x 14 x 14 -> BN, ReLU -> ConvT 4x4/2 -> 1 x 28 x 28
    Generator (14 px):  the same with a Conv 3x3 (2w -> 1) in place of the last ConvT: 1 x 14 x 14
    Critic (28 px):     m x 28 x 28 -> Conv 4x4/2 -> 2w x 14 x 14 -> LReLU(0.2)
                        -> Conv 4x4/2 -> 4w x 7 x 7 -> [norm] -> LReLU(0.2) -> Linear -> out
    Critic (14 px):     m x 14 x 14 -> Conv 3x3/1 -> 2w x 14 x 14 -> LReLU(0.2) -> the same tail.

The two generators cost the same; the critic is twice the generator's width (its
convolutions then cost about as much as the generator's, and the generator gets a useful
signal from it within the CPU budget).
The critic's ``norm``: batch normalisation (DCGAN), spectral normalisation of every layer and no
batch normalisation (SN-DCGAN, Miyato et al. 2018, §4), or none (WGAN-GP, Gulrajani et al. 2017:
batch normalisation would break the per-sample gradient penalty). ``m`` input channels are
PacGAN's packed samples (Lin et al. 2018). The VAE's encoder is the critic with ``2 L`` outputs
(mean and log-variance) and its decoder is the generator.

The generator returns pre-activations: the GANs apply ``tanh`` (images in [-1, 1]), the VAE a
sigmoid (Bernoulli means in [0, 1]); :func:`to_unit_images` maps either to [0, 1].
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

__all__ = ["Critic", "Generator", "build_generator", "build_networks", "init_dcgan_", "to_unit_images"]


class Generator(nn.Module):
    """z (n, L) -> pre-activations (n, 1, R, R), R = ``resolution`` (28 or 14)."""

    def __init__(self, latent_dim: int, width: int, resolution: int):
        super().__init__()
        w = width
        self.fc = nn.Linear(latent_dim, 4 * w * 7 * 7)
        self.w = w
        last = nn.ConvTranspose2d(2 * w, 1, 4, 2, 1) if resolution == 28 else nn.Conv2d(2 * w, 1, 3, 1, 1)
        self.body = nn.Sequential(
            nn.BatchNorm2d(4 * w),
            nn.ReLU(True),
            nn.ConvTranspose2d(4 * w, 2 * w, 4, 2, 1),
            nn.BatchNorm2d(2 * w),
            nn.ReLU(True),
            last,
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.body(self.fc(z).view(len(z), 4 * self.w, 7, 7))


class Critic(nn.Module):
    """(n, in_channels, R, R) -> (n, out_features): the discriminator, the WGAN critic, or the VAE encoder.

    ``width`` is the generator's ``w``; the critic's layers have 2w and 4w channels.
    """

    def __init__(self, width: int, resolution: int, *, in_channels: int = 1, norm: str = "bn", out_features: int = 1):
        super().__init__()
        c = 2 * width
        sn = spectral_norm if norm == "sn" else (lambda m: m)
        first = nn.Conv2d(in_channels, c, 4, 2, 1) if resolution == 28 else nn.Conv2d(in_channels, c, 3, 1, 1)
        layers = [sn(first), nn.LeakyReLU(0.2, True), sn(nn.Conv2d(c, 2 * c, 4, 2, 1))]
        if norm == "bn":
            layers.append(nn.BatchNorm2d(2 * c))
        layers += [nn.LeakyReLU(0.2, True), nn.Flatten(), sn(nn.Linear(2 * c * 7 * 7, out_features))]
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def init_dcgan_(module: nn.Module, generator: torch.Generator) -> None:
    """DCGAN's initialisation (Radford et al. 2016, §4): weights N(0, 0.02), BN scales N(1, 0.02), biases 0.

    Draws from ``generator``, so the initial weights depend on the seed alone. Spectrally
    normalised layers are initialised through their original weight.
    """
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            weight = m.parametrizations.weight.original if hasattr(m, "parametrizations") else m.weight
            with torch.no_grad():
                weight.normal_(0.0, 0.02, generator=generator)
                if m.bias is not None:
                    m.bias.zero_()
        elif isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.weight.normal_(1.0, 0.02, generator=generator)
                m.bias.zero_()


_NORM = {"dcgan": "bn", "sn-dcgan": "sn", "wgan-gp": "none", "vae": "bn"}


def build_generator(config) -> Generator:
    """The (uninitialised) generator of ``config``, a GanConfig: what a checkpoint's weights load into."""
    return Generator(config.latent_dim, config.width, config.resolution)


def build_networks(config, seed: int) -> dict[str, nn.Module]:
    """The networks of ``config`` (a GanConfig), initialised from ``seed`` alone.

    Spectral normalisation draws its power-iteration vectors from torch's global generator when a
    layer is built, so the networks are built inside ``fork_rng`` seeded with ``seed``: the caller's
    global state is left as it was.

    Returns
    -------
    dict: ``{"G": Generator, "D": Critic}`` for the GANs, ``{"G": decoder, "E": encoder}`` for the VAE.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        g = build_generator(config)
        if config.arch == "vae":
            other = {"E": Critic(config.width, config.resolution, norm="bn", out_features=2 * config.latent_dim)}
        else:
            norm = _NORM[config.arch]
            other = {"D": Critic(config.width, config.resolution, in_channels=config.pack, norm=norm)}
    nets = {"G": g, **other}
    init = torch.Generator().manual_seed(seed)
    for net in nets.values():
        init_dcgan_(net, init)
    return nets


def to_unit_images(pre: torch.Tensor, arch: str) -> torch.Tensor:
    """Generator pre-activations -> images in [0, 1]: ``(tanh + 1) / 2`` for the GANs, a sigmoid for the VAE."""
    return torch.sigmoid(pre) if arch == "vae" else (torch.tanh(pre) + 1) / 2
