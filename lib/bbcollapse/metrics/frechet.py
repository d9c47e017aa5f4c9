"""Fréchet distance between Gaussians fitted to two sets of named features (a peer of MCCS).

Not an equation of paper 000: the paper reports FID, the Fréchet distance on Inception
features, as the quality check of its calibrators.  The book computes the same distance on the
features it can run, and names them: the identity descriptor's embeddings, and EfficientNet-lite0
ImageNet features (:class:`~bbcollapse.metrics.features.EfficientNetLite0Features`).  Call it
"Fréchet distance (EfficientNet-lite0 features)" (:data:`FRECHET_EFFNET_NAME`), never "FID": the
numbers are not comparable with published FIDs.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np

from .._validation import check_option
from .features import check_features
from .result import MetricResult

__all__ = [
    "FrechetDistance",
    "frechet_distance",
    "frechet_distance_from_moments",
    "gaussian_moments",
    "FRECHET_EFFNET_NAME",
]

log = logging.getLogger(__name__)

FRECHET_EFFNET_NAME = "Fréchet distance (EfficientNet-lite0 features)"


@dataclass(frozen=True, repr=False)
class FrechetDistance(MetricResult):
    """A Fréchet distance with the features it was computed on (what :func:`compute_metrics` returns)."""

    value: float
    n_reference: int
    n_samples: int
    features: str

    @property
    def name(self) -> str:
        return f"Fréchet distance on {self.features}"


def gaussian_moments(features):
    """Mean (d,) and covariance (d, d) (ddof = 1) of features (n, d), float64."""
    f = check_features(features, "features")
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
    r, s = check_features(reference, "reference"), check_features(samples, "samples")
    if r.shape[1] != s.shape[1]:
        raise ValueError(f"reference has {r.shape[1]} features but samples have {s.shape[1]}")
    check_option(method, ("auto", "sqrtm", "svd"), "method")
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
