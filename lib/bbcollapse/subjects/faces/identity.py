"""How far apart one face identity lies under the descriptor, and the theta and r read off it.

The paper's two distances (paper 000, Sec. 3) need values for this descriptor: ``theta``, the
width of the similarity kernel ``s(d)`` (Eq. 3), and ``r``, the radius of the neighbour count
``N(I0, S, r)`` (Eq. 5).  Both are read off two samples of normalised angular distances:

* :func:`face_views` makes identity-preserving views of an image (flip, jitter, crops), and
  :func:`identity_distances` measures same-identity (image, view) and different-sample distances;
* :func:`separation` scores how well they separate (d', AUC, equal error rate) and
  :func:`choose_theta_r` is the documented, data-driven rule for ``theta`` and ``r``: both are
  the generic ones of :mod:`bbcollapse.stats.thresholds`, re-exported here for the face chapters;
* :func:`dlib_threshold_distance` converts dlib's own 0.6 threshold, to compare with r.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ...distance import distance_from_cos
from ...stats.thresholds import ThetaR, choose_theta_r, separation
from .pipeline import as_uint8_images

__all__ = [
    "face_views",
    "unit_descriptors",
    "identity_distances",
    "separation",
    "dlib_threshold_distance",
    "ThetaR",
    "choose_theta_r",
    "DLIB_THRESHOLD",
]

#: dlib's published same-person threshold: Euclidean distance 0.6 between descriptors.
DLIB_THRESHOLD = 0.6


def face_views(images, seed: int, n_views: int = 4, max_shift: int = 3, crop: tuple = (0.85, 0.95)) -> np.ndarray:
    """Identity-preserving views of each image: horizontal flip, jitter, small crops.

    View 0 is the horizontal flip; later views alternate a translation of up to
    ``max_shift`` pixels (edge-replicated) and a centred-jittered crop of a fraction
    ``crop`` of the side resized back (bilinear), each also flipped at random.

    Parameters
    ----------
    images : uint8 (n, H, W, 3)
    seed : random seed of the views
    n_views : views per image

    Returns
    -------
    uint8 (n, n_views, H, W, 3)
    """
    imgs = as_uint8_images(images)
    n, h, w, _ = imgs.shape
    rng = np.random.default_rng(seed)
    out = np.empty((n, n_views, h, w, 3), np.uint8)
    t = torch.from_numpy(imgs).permute(0, 3, 1, 2).float()
    for v in range(n_views):
        if v == 0:
            out[:, v] = imgs[:, :, ::-1]
            continue
        for i in range(n):
            x = t[i : i + 1]
            if v % 2 == 1:
                dx, dy = rng.integers(-max_shift, max_shift + 1, size=2)
                p = max_shift
                x = F.pad(x, (p, p, p, p), mode="replicate")[:, :, p + dy : p + dy + h, p + dx : p + dx + w]
            else:
                f = rng.uniform(*crop)
                ch, cw = int(round(f * h)), int(round(f * w))
                y0 = rng.integers(0, h - ch + 1)
                x0 = rng.integers(0, w - cw + 1)
                x = F.interpolate(
                    x[:, :, y0 : y0 + ch, x0 : x0 + cw], size=(h, w), mode="bilinear", align_corners=False
                )
            if rng.random() < 0.5:
                x = x.flip(3)
            out[i, v] = x.round().clamp(0, 255).to(torch.uint8)[0].permute(1, 2, 0).numpy()
    return out


def unit_descriptors(raw, center=None) -> np.ndarray:
    """Raw descriptors (..., D) minus an optional ``center`` (D,), scaled to unit length, float64."""
    e = np.asarray(raw, dtype=np.float64)
    if center is not None:
        e = e - np.asarray(center, dtype=np.float64)
    return e / np.linalg.norm(e, axis=-1, keepdims=True)


def identity_distances(raw, raw_views, *, center=None) -> tuple:
    """Same-identity and different-sample distances of raw descriptors.

    Parameters
    ----------
    raw : (n, 128) raw descriptors of n images
    raw_views : (n, v, 128) raw descriptors of v identity-preserving views of each image
    center : optional (128,) centre subtracted before normalising

    Returns
    -------
    same : (n * v,) distances d(image, its view)
    diff : (n (n - 1) / 2,) distances between different images
    """
    raw = np.asarray(raw)
    raw_views = np.asarray(raw_views)
    if raw.ndim != 2 or raw_views.ndim != 3 or raw_views.shape[0] != raw.shape[0] or raw_views.shape[2] != raw.shape[1]:
        raise ValueError(f"raw must be (n, D) and raw_views (n, v, D); got {raw.shape} and {raw_views.shape}")
    u, uv = unit_descriptors(raw, center), unit_descriptors(raw_views, center)
    same = distance_from_cos(np.einsum("nd,nvd->nv", u, uv)).ravel()
    iu = np.triu_indices(len(u), 1)
    diff = distance_from_cos((u @ u.T)[iu])
    return same, diff


def dlib_threshold_distance(threshold: float = DLIB_THRESHOLD, norm: float = 1.0) -> float:
    """Normalised angular distance equivalent to dlib's Euclidean threshold.

    For two vectors of length ``norm`` at Euclidean distance ``t``:
    ``d = arccos(1 - t^2 / (2 norm^2)) / pi`` (``norm = 1``: 0.6 -> 0.194).
    """
    c = 1.0 - threshold**2 / (2.0 * norm**2)
    return float(distance_from_cos(c))
