"""The face subject's black boxes: the pretrained face DCGANs of the wheel ``gan-face-generate``.

:class:`FaceDCGAN` is the generator of the PyPI wheel ``gan-face-generate`` (a DCGAN trained on
DigiFace-1M): ``z ~ N(0, I_100)`` -> a 64x64 RGB face.  It is a latent model (``latents``,
``generate``, ``__call__(seed, n) -> Batch(z, images)``): the black-box generator ``G`` that
paper 000 (Sec. 3) diagnoses, here a small one the book can run; images are returned as uint8
arrays (n, 64, 64, 3).  Batch norm runs on its stored running statistics (eval mode), so an image
depends on its own latent only.

Two checkpoints (:data:`CHECKPOINTS`: the installed wheel 1.1.1, and the ``weights.tar`` of the
1.0.1 wheel that ``make setup`` fetches; same architecture, every tensor differs) and the
truncation trick give the book several real generators for its Table 1 analogue (paper 000,
Table 1 compares four GANs).  Truncation with ``psi`` < 1 is a controlled collapse knob: the
StyleGAN form ``z' = z_mean + psi (z - z_mean)`` with ``z_mean = 0`` (``truncation="mean"``; the
paper's StyleGAN runs used psi = 0.7), or BigGAN's normal truncated at ``|z_i| <= psi``
(``truncation="resample"``).
"""

from __future__ import annotations

import os

import numpy as np
import torch
from torch import nn

from ..._validation import check_int, check_option, check_positive
from ...blackbox import Batch
from .models import model_file

__all__ = ["FaceDCGAN", "torch_device", "CHECKPOINTS", "truncated_latents"]

#: Latents per forward pass on CPU: 32 keeps the layers' activations near the core's L2 (measured
#: 0.95-1.16x the old 128 per face under load, the same images bit for bit; bench/bench_faces.py).
CPU_BATCH = 32

#: The face DCGAN checkpoints: the installed wheel's weights and the 1.0.1 wheel's (from ``make setup``).
CHECKPOINTS = ("1.1.1", "1.0.1")


def torch_device(device=None) -> torch.device:
    """``device`` as a ``torch.device``; None means cuda when available, else cpu."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _weights_path() -> str:
    import importlib.util

    spec = importlib.util.find_spec("gan_face_generate")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("gan-face-generate is not installed: pip install --no-deps gan-face-generate")
    for root in spec.submodule_search_locations:
        path = os.path.join(root, "weights.tar")
        if os.path.exists(path):
            return path
    raise FileNotFoundError("weights.tar not found in the gan-face-generate package")


def _checkpoint_path(checkpoint: str) -> str:
    check_option(checkpoint, CHECKPOINTS, "checkpoint")
    return _weights_path() if checkpoint == "1.1.1" else str(model_file("gan-face-generate-1.0.1-weights.tar"))


def truncated_latents(rng, n: int, dim: int, psi: float = 1.0, truncation: str = "mean") -> np.ndarray:
    """Latents (n, dim) float32 of N(0, I) under the truncation trick.

    Parameters
    ----------
    rng : numpy Generator
    psi : truncation in (0, 1]; 1 leaves ``truncation="mean"`` untouched
    truncation : "mean" (``psi * z``: StyleGAN's pull towards the mean latent, here 0) or
        "resample" (BigGAN: each coordinate redrawn until ``|z_i| <= psi``)
    """
    check_option(truncation, ("mean", "resample"), "truncation")
    z = rng.standard_normal((int(n), int(dim)))
    if truncation == "mean":
        return (psi * z).astype(np.float32)
    out = z.ravel()
    bad = np.abs(out) > psi
    while bad.any():
        out[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(out) > psi
    return out.reshape(z.shape).astype(np.float32)


def _dcgan_generator(nz: int = 100, ngf: int = 64, nc: int = 3) -> nn.Sequential:
    """The DCGAN generator of the PyTorch tutorial (the wheel's ``models.Generator.main``).

    Re-declared here (same layer indices, so the wheel's state dict loads) to avoid
    importing the wheel, whose other modules need torchvision.
    """
    layers = []
    chans = [nz, ngf * 8, ngf * 4, ngf * 2, ngf]
    for i in range(4):
        layers += [
            nn.ConvTranspose2d(chans[i], chans[i + 1], 4, 1 if i == 0 else 2, 0 if i == 0 else 1, bias=False),
            nn.BatchNorm2d(chans[i + 1]),
            nn.ReLU(True),
        ]
    layers += [nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh()]
    return nn.Sequential(*layers)


class FaceDCGAN:
    """The pretrained face DCGAN of ``gan-face-generate`` as a latent model.

    Parameters
    ----------
    device : torch device (default: cuda when available, else cpu)
    batch_size : images per forward pass (default: :data:`CPU_BATCH` on CPU, bit-identical to 128
        and up to 1.16x faster there; 128 elsewhere); images do not depend on it
    checkpoint : "1.1.1" (the installed wheel) or "1.0.1" (fetched by ``make setup``)
    psi : truncation in (0, 1] (1: none)
    truncation : "mean" or "resample" (see :func:`truncated_latents`)

    Notes
    -----
    ``generate(z)`` maps latents (n, 100) to uint8 RGB images (n, 64, 64, 3);
    ``generate(z, raw=True)`` returns the generator's float output (n, 3, 64, 64) in [-1, 1].
    """

    latent_dim = 100
    image_size = 64

    def __init__(
        self,
        device=None,
        batch_size: int | None = None,
        *,
        checkpoint: str = "1.1.1",
        psi: float = 1.0,
        truncation="mean",
    ):
        self.device = torch_device(device)
        if batch_size is None:
            batch_size = CPU_BATCH if self.device.type == "cpu" else 128
        self.batch_size = check_int(batch_size, "batch_size", minimum=1)
        self.checkpoint = checkpoint
        self._weights = _checkpoint_path(checkpoint)
        self.psi = check_positive(psi, "psi")
        if self.psi > 1:
            raise ValueError(f"psi must be in (0, 1]; got {psi!r}")
        self.truncation = check_option(truncation, ("mean", "resample"), "truncation")
        state = torch.load(self._weights, map_location="cpu", weights_only=True)["netG_state_dict"]
        main = _dcgan_generator()
        main.load_state_dict({k.removeprefix("main."): v for k, v in state.items()})
        self.net = main.to(self.device).eval()

    @property
    def identity(self) -> str:
        """Stable identity for embedding stores: the weights file's SHA-256 (not the device)."""
        from ...blackbox.protocols import file_sha256

        if not hasattr(self, "_sha"):
            self._sha = file_sha256(self._weights)[:16]
        trunc = "" if self.psi == 1 and self.truncation == "mean" else f", psi={self.psi:g} ({self.truncation})"
        return f"FaceDCGAN(gan-face-generate weights sha256:{self._sha}{trunc})"

    def latents(self, seed: int, n: int) -> np.ndarray:
        """z ~ N(0, I_100) under the truncation (``psi``), float32 (n, 100), from ``numpy.random.default_rng(seed)``."""
        if int(n) < 0:
            raise ValueError(f"n must be >= 0; got {n}")
        rng = np.random.default_rng(seed)
        return truncated_latents(rng, n, self.latent_dim, self.psi, self.truncation)

    @torch.inference_mode()
    def generate(self, z, raw: bool = False):
        """Images of latents ``z`` (n, 100): uint8 (n, 64, 64, 3), or float (n, 3, 64, 64) if ``raw``."""
        z = np.asarray(z, dtype=np.float32)
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"z must have shape (n, {self.latent_dim}); got {z.shape}")
        outs = []
        for s in range(0, len(z), self.batch_size):
            x = self.net(torch.from_numpy(z[s : s + self.batch_size]).to(self.device)[:, :, None, None])
            if raw:
                outs.append(x.float().cpu().numpy())
            else:
                outs.append(((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy())
        if not outs:
            return np.zeros((0, 3, 64, 64), np.float32) if raw else np.zeros((0, 64, 64, 3), np.uint8)
        return np.concatenate(outs)

    def __call__(self, seed: int, n: int) -> Batch:
        z = self.latents(seed, n)
        return Batch(z, self.generate(z))

    def __repr__(self):
        return (
            f"FaceDCGAN(gan-face-generate {self.checkpoint} DigiFace-1M DCGAN, latent_dim=100, 64x64, "
            f"psi={self.psi:g}, device={self.device})"
        )
