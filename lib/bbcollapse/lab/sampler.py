"""A trained lab generator as a black box: a ``bb.LatentModel`` over the N(0, I) latent.

``sampler(seed, n) -> bb.Batch(z, x)`` with

* ``z`` float32 (n, L), standard normal, drawn by ``numpy.random.default_rng(seed)`` (the
  convention of ``bb.GaussianLatentModel``, so the calibrators' latents work unchanged);
* ``x`` float32 (n, 1, 28, 28) in [0, 1]: channel-first, one grey channel, 0 = black, the layout
  of ``LabDataset.as_float()``. A 14 px generator's output is upsampled to 28 px bilinearly
  (``align_corners=False``), so every generator and the real data share one layout.

The generator runs in evaluation mode (batch normalisation uses its running statistics), so each
image is a function of its own latent alone, whatever the batch it is generated in.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..blackbox.protocols import GaussianLatentModel
from .zoo import build_generator, to_unit_images

__all__ = ["LabSampler"]


class LabSampler(GaussianLatentModel):
    """A trained lab generator at one step, as a Sampler and LatentModel.

    Parameters
    ----------
    config : the GanConfig it was trained with.
    weights : the generator's state dict (from its ``G-step*.safetensors`` checkpoint).
    step : the training step of these weights.
    device : where the generator runs ("cpu", "cuda").
    batch : latents per forward pass.
    """

    def __init__(self, config, weights: dict, *, step: int, device: str = "cpu", batch: int = 1024):
        self.config = config
        self.step = int(step)
        self.device = torch.device(device)
        self.batch = int(batch)
        self.native_resolution = config.resolution
        net = build_generator(config)
        net.load_state_dict(weights)
        self.net = net.to(self.device).eval()
        super().__init__(self._images, config.latent_dim, name=f"{config.name} step {self.step}")
        #: the stable identity ``bb.identity_of`` reports: the configuration key and the step.
        self.identity = f"bbcollapse.lab:{config.folder_name}@step{self.step}"

    @torch.no_grad()
    def _images(self, z: np.ndarray) -> np.ndarray:
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"latents must have shape (n, {self.latent_dim}); got {z.shape}")
        out = np.empty((len(z), 1, 28, 28), dtype=np.float32)
        for lo in range(0, len(z), self.batch):
            pre = self.net(torch.from_numpy(np.ascontiguousarray(z[lo : lo + self.batch])).to(self.device))
            x = to_unit_images(pre, self.config.arch)
            if x.shape[-1] != 28:
                x = F.interpolate(x, size=(28, 28), mode="bilinear", align_corners=False).clamp_(0, 1)
            out[lo : lo + len(x)] = x.cpu().numpy()
        return out

    def __repr__(self):
        return f"LabSampler({self.config.name}, step {self.step}, key {self.config.key})"
