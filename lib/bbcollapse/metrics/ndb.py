"""NDB, the number of statistically different bins (Richardson and Weiss 2018), on named features.

Not an equation of paper 000: a peer of MCCS the book compares with (issue 17).  The reference set
is cut into K bins by K-means (:func:`ndb_bins`); reference and samples are assigned to their nearest
centre (Euclidean); for each bin the two proportions are compared by the pooled two-proportion z
test::

    p = (n_ref + n_smp) / (N_ref + N_smp),   z = (n_smp / N_smp - n_ref / N_ref) / sqrt(p (1 - p) (1/N_ref + 1/N_smp))

with a two-sided p-value ``erfc(|z| / sqrt 2)``.  NDB is the number of bins with p < alpha, reported
as ``n_different`` and as the fraction ``n_different / K``; bins are tested one at a time, as in the
original, so about ``alpha K`` bins differ by chance when the two laws are equal.  The Jensen-Shannon
divergence of the two bin histograms (natural log) is reported beside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .._validation import check_alpha, check_int
from .features import check_features
from .result import MetricResult

__all__ = ["NDB", "ndb_bins", "ndb_test", "assign_bins", "two_proportion_z"]


@dataclass(frozen=True, eq=False, repr=False)
class NDB(MetricResult):
    """Bins whose share of samples differs from the reference's, by a two-proportion z test per bin."""

    n_bins: int
    n_different: int
    alpha: float
    js_divergence: float
    features: str
    reference_share: np.ndarray = field(repr=False)
    sample_share: np.ndarray = field(repr=False)
    z: np.ndarray = field(repr=False)
    p_value: np.ndarray = field(repr=False)

    @property
    def value(self) -> float:
        """NDB / K: the fraction of bins that differ (about alpha when the laws are equal)."""
        return self.n_different / self.n_bins

    @property
    def name(self) -> str:
        return f"NDB/K (K={self.n_bins} K-means bins, alpha={self.alpha:g}) on {self.features}"


def ndb_bins(reference, n_bins: int, *, seed: int = 0, n_init: int = 3) -> np.ndarray:
    """K-means centres (K, d) of the reference features (scikit-learn, ``random_state=seed``)."""
    from sklearn.cluster import KMeans

    r = check_features(reference, "reference")
    k = check_int(n_bins, "n_bins", minimum=2)
    if k > len(r):
        raise ValueError(f"n_bins must be at most the number of reference samples ({len(r)}); got {k}")
    return KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit(r).cluster_centers_.astype(np.float64)


def assign_bins(features, centres) -> np.ndarray:
    """Index (n,) of the nearest centre (Euclidean) of each feature row."""
    x, c = np.asarray(features, np.float64), np.asarray(centres, np.float64)
    return np.argmin((c * c).sum(1)[None, :] - 2.0 * x @ c.T, axis=1)


def two_proportion_z(k1, n1: int, k2, n2: int) -> tuple[np.ndarray, np.ndarray]:
    """Pooled two-proportion z statistics (of k2/n2 - k1/n1) and two-sided p-values; z = 0, p = 1 for empty bins."""
    from scipy.special import erfc

    k1, k2 = np.asarray(k1, np.float64), np.asarray(k2, np.float64)
    p = (k1 + k2) / (n1 + n2)
    se = np.sqrt(p * (1 - p) * (1.0 / n1 + 1.0 / n2))
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(se > 0, (k2 / n2 - k1 / n1) / se, 0.0)
    return z, erfc(np.abs(z) / np.sqrt(2.0))


def _js_divergence(p, q) -> float:
    m = 0.5 * (p + q)

    def kl(a, b):
        nz = a > 0
        return float(np.sum(a[nz] * np.log(a[nz] / b[nz])))

    return 0.5 * kl(p, m) + 0.5 * kl(q, m)


def ndb_test(
    *, reference, samples, bins=50, alpha: float = 0.05, seed: int = 0, features: str = "unnamed features"
) -> NDB:
    """NDB of ``samples`` against ``reference``.

    Parameters
    ----------
    reference : (N_ref, d) reference features (they define the bins when ``bins`` is a number)
    samples : (N_smp, d) features of the set being compared
    bins : K (K-means on the reference, :func:`ndb_bins` with ``seed``) or precomputed centres (K, d)
    alpha : level of each bin's test
    seed : seed of the K-means
    features : what the features are, for the result's name

    Returns
    -------
    NDB
    """
    r, s = check_features(reference, "reference"), check_features(samples, "samples")
    if r.shape[1] != s.shape[1]:
        raise ValueError(f"reference has {r.shape[1]} features but samples have {s.shape[1]}")
    alpha = check_alpha(alpha)
    if np.ndim(bins) == 0:
        centres = ndb_bins(r, bins, seed=seed)
    else:
        centres = check_features(bins, "bins")
        if centres.shape[1] != r.shape[1]:
            raise ValueError(f"bins have {centres.shape[1]} features but the reference has {r.shape[1]}")
    k = len(centres)
    n_ref = np.bincount(assign_bins(r, centres), minlength=k)
    n_smp = np.bincount(assign_bins(s, centres), minlength=k)
    z, p = two_proportion_z(n_ref, len(r), n_smp, len(s))
    share_r, share_s = n_ref / len(r), n_smp / len(s)
    return NDB(
        n_bins=k,
        n_different=int((p < alpha).sum()),
        alpha=alpha,
        js_divergence=_js_divergence(share_r, share_s),
        features=str(features),
        reference_share=share_r,
        sample_share=share_s,
        z=z,
        p_value=p,
    )
