"""Algorithm 1 of paper 000 (section 3.2): reweight the K-means cells of the latent space.

:func:`cluster_weights` clusters the fitting latents and gives cell k the paper's weight
``w_k = 1 / (number of G(z), z in cell k, within r0 of the modes)``, counted by the engine.
Two samplers use the weights:

* :func:`gmm_calibrator` -- the paper's mixture ``sum_k w_k N(mu_k, Sigma)`` around the
  K-means centroids ``mu_k`` (``Sigma`` the pooled within-cluster covariance, or I).
  Gaussian components leave the prior's typical shell in high dimension; the law
  *within* a cell changes.
* :func:`voronoi_calibrator` -- an exact variant: keep ``z ~ N(0, I)`` and accept with
  probability ``a_k = (w_k / pi_k) / max_j (w_j / pi_j)`` for z's Voronoi cell k
  (``pi_k`` the prior mass of the cell).  The law of z inside every cell is exactly
  the prior's; only the cell masses change (to ``w_k`` when ``pi_k`` is exact).

**Zero-count guard**: the paper's weight is infinite for a cell with no neighbour, so the count
is floored at one, ``w_k oc 1 / max(count_k, 1)`` (the paper's formula is unchanged for every
count >= 1).  The paper's weight ignores the cell's size: in high dimension K-means leaves small
cells, and a cell of a few latents with one mode neighbour then gets the largest weight, which
can *raise* the mode's mass (measured in notebook 4).  ``weighting="non-mode"``
(``w_k oc n_k - count_k``: every cell keeps its non-mode share) is the size-aware alternative.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .._validation import check_int, check_option
from ..blackbox import Descriptor, LatentModel, shard_seed
from ..distance import validate_unit
from .base import CalibratedSampler, Proposals
from .fitting import FitArgs, check_latent_model, check_r0, fit_set, near_modes, unit_modes

if TYPE_CHECKING:  # keyword types for checkers only (typing has them from Python 3.11 and 3.12)
    from typing_extensions import Required, Unpack

__all__ = [
    "WEIGHTINGS",
    "ClusterFitArgs",
    "ClusterWeights",
    "GMMCalibrated",
    "VoronoiCalibrated",
    "cluster_weights",
    "fit_cluster_weights",
    "gmm_calibrator",
    "kmeans",
    "nearest_centroid",
    "voronoi_calibrator",
]

WEIGHTINGS = ("paper", "non-mode")
COVARIANCES = ("pooled", "identity")


def nearest_centroid(z, centroids) -> np.ndarray:
    """Voronoi cell (nearest centroid, Euclidean, float64) of each latent.

    Parameters
    ----------
    z : (n, L) latents
    centroids : (K, L) float64

    Returns
    -------
    (n,) int64 cell index (the lowest index on a tie)
    """
    z = np.asarray(z, dtype=np.float64)
    d2 = (centroids**2).sum(1)[None, :] - 2.0 * z @ centroids.T
    return np.argmin(d2, axis=1)


@dataclass(frozen=True, repr=False)
class ClusterWeights:
    """K-means cells of the latent space and the paper's reweighting (Algorithm 1).

    Attributes
    ----------
    centroids : (K, L) float64   K-means centres mu_k
    pi : (K,) float64            prior mass of each Voronoi cell (fraction of the fitting latents)
    counts : (K,) int64          neighbours of the modes (within r0) among the cell's fitting latents
    weights : (K,) float64       w_k, summing to one: oc 1 / max(count_k, 1) (weighting "paper")
                                 or oc n_k - count_k (weighting "non-mode")
    covariance : (L, L) float64  pooled within-cluster covariance (the shared Sigma of the GMM)
    r0 : float
    n_fit : int                  number of fitting latents
    weighting : "paper" or "non-mode"
    """

    centroids: np.ndarray
    pi: np.ndarray
    counts: np.ndarray
    weights: np.ndarray
    covariance: np.ndarray
    r0: float
    n_fit: int
    weighting: str = "paper"

    def assign(self, z) -> np.ndarray:
        """Voronoi cell (nearest centroid, Euclidean) of each latent z (n, L): (n,) int64."""
        return nearest_centroid(z, self.centroids)

    @property
    def voronoi_acceptance(self) -> np.ndarray:
        """Per-cell acceptance ``a_k = (w_k/pi_k) / max_j(w_j/pi_j)`` of the exact variant, (K,)."""
        ratio = self.weights / self.pi
        return ratio / ratio.max()

    def __repr__(self):
        return (
            f"ClusterWeights(K={len(self.pi)}, n_fit={self.n_fit}, r0={self.r0}, weighting={self.weighting!r}, "
            f"cells with mode neighbours={int((self.counts > 0).sum())}, "
            f"max w/pi={float((self.weights / self.pi).max()):.3g})"
        )


def kmeans(z, k: int, seed: int, niter: int = 25) -> tuple[np.ndarray, np.ndarray]:
    """K-means of latents z (N, L): centroids (K, L) float64 and labels (N,) (faiss if installed, else scikit-learn)."""
    z = np.ascontiguousarray(z, dtype=np.float64)
    try:
        import faiss
    except ImportError:  # pragma: no cover - faiss is a dev dependency
        from sklearn.cluster import KMeans

        km = KMeans(n_clusters=k, n_init=1, random_state=int(seed) % (2**31), max_iter=niter)
        labels = km.fit_predict(z)
        return km.cluster_centers_.astype(np.float64), labels
    km = faiss.Kmeans(
        z.shape[1],
        k,
        niter=niter,
        seed=int(seed) % (2**31),
        verbose=False,
        min_points_per_centroid=1,
        max_points_per_centroid=max(256, z.shape[0]),
    )
    km.train(z.astype(np.float32))
    centroids = km.centroids.astype(np.float64)
    # labels by the same float64 rule as ClusterWeights.assign, not faiss's float32 one
    return centroids, nearest_centroid(z, centroids)


def cluster_weights(
    *, latents, embeddings, modes, r0: float, n_clusters: int, seed: int = 0, weighting: str = "paper"
) -> ClusterWeights:
    """K-means on latents and the per-cell weights of Algorithm 1.

    Parameters
    ----------
    latents : (N, L) fitting latents z
    embeddings : (N, D) unit descriptors F(G(z)) of the same latents
    modes : (m, D) or (D,) unit embeddings of the dense modes I_m
    r0 : neighbour radius in (0, 1]
    n_clusters : K, at most N
    seed : K-means seed
    weighting : "paper" -- ``w_k oc 1 / max(count_k, 1)`` (Algorithm 1; it ignores the cell's
        size, so a small cell holding one mode latent gets the largest weight), or
        "non-mode" -- ``w_k oc n_k - count_k``, each cell keeps only its non-mode share
        (the Voronoi variant then rejects exactly the mode's share of every cell)

    Raises
    ------
    ValueError if K > N, r0 is outside (0, 1], or no fitting sample lies within r0 of a mode.
    """
    r0 = check_r0(r0)
    weighting = check_option(weighting, WEIGHTINGS, "weighting")
    modes = unit_modes(modes)
    e = validate_unit(embeddings, "embeddings", dim=modes.shape[1])
    z = np.asarray(latents, dtype=np.float64)
    if z.ndim != 2 or z.shape[0] != e.shape[0]:
        raise ValueError(f"latents must be (N, L) with N = {e.shape[0]} rows like embeddings; got {z.shape}")
    k = check_int(n_clusters, "n_clusters", minimum=1)
    if k > z.shape[0]:
        raise ValueError(f"n_clusters (K) must be at most the number of fitting latents N = {z.shape[0]}; got {k}")
    near = near_modes(e, modes, r0).any(axis=1)
    if not near.any():
        raise ValueError(
            f"the modes have zero neighbours within r0={r0} among the {z.shape[0]} fitting samples; "
            "increase the number of fitting samples or r0, or check the mode embeddings"
        )
    centroids, labels = kmeans(z, k, seed)
    sizes = np.bincount(labels, minlength=k)
    counts = np.bincount(labels[near], minlength=k).astype(np.int64)
    if weighting == "paper":
        w = 1.0 / np.maximum(counts, 1)  # zero-count guard: floor the count at one
    else:
        w = (sizes - counts).astype(np.float64)
        if w.sum() <= 0:
            raise ValueError("every fitting latent is a neighbour of the modes: no non-mode mass to keep")
    resid = z - centroids[labels]
    cov = resid.T @ resid / max(z.shape[0] - k, 1)
    return ClusterWeights(
        centroids=centroids,
        pi=sizes / sizes.sum(),
        counts=counts,
        weights=w / w.sum(),
        covariance=cov,
        r0=r0,
        n_fit=int(z.shape[0]),
        weighting=weighting,
    )


class ClusterFitArgs(FitArgs, total=False):
    """Keywords of Algorithm 1's fit, shared by the GMM and Voronoi calibrators (see :func:`fit_cluster_weights`)."""

    modes: Required[np.ndarray]
    r0: Required[float]
    n_clusters: int
    weighting: str
    seed: int
    progress: bool | None


def fit_cluster_weights(
    model: LatentModel,
    descriptor: Descriptor | None = None,
    *,
    modes,
    r0: float,
    n_clusters: int = 100,
    weighting: str = "paper",
    seed: int = 0,
    progress: bool | None = None,
    **fit: Unpack[FitArgs],
) -> tuple[ClusterWeights, float, int]:
    """Algorithm 1's fit: the fitting set, then its K-means cells and weights (:func:`cluster_weights`).

    Parameters
    ----------
    model : latent model (``latents``, ``generate``)
    descriptor : callable outputs -> (n, D) unit vectors (not needed when the fitting set is given)
    modes : (m, D) or (D,) unit embeddings of the dense modes to calibrate (e.g. I_w)
    r0 : neighbour radius in (0, 1]
    n_clusters : K of K-means (<= number of fitting latents)
    weighting : "paper" (``1/max(count_k, 1)``) or "non-mode" (``n_k - count_k``); see :func:`cluster_weights`
    seed : seed of the fitting samples and of K-means
    progress : progress bars while fitting and sampling (default: only on a terminal)
    **fit : the fitting set, keywords of :func:`~bbcollapse.calibration.fit_set`: ``n_fit`` (N latents
        drawn from the model, default 10 000), ``fit_latents`` and ``fit_embeddings`` ((N, L), (N, D)
        precomputed, e.g. a cached C) or ``store`` (an EmbeddingStore of the model)

    Returns
    -------
    weights : ClusterWeights
    seconds : wall time of the fit
    generator_calls : outputs generated to fit
    """
    check_latent_model(model)
    r0 = check_r0(r0)
    t0 = time.perf_counter()
    fs = fit_set(model, descriptor, seed=seed, progress=progress, **fit)
    z, e = fs.latents, fs.embeddings
    cw = cluster_weights(
        latents=z, embeddings=e, modes=modes, r0=r0, n_clusters=n_clusters, seed=seed, weighting=weighting
    )
    return cw, time.perf_counter() - t0, fs.generator_calls


@dataclass(frozen=True, eq=False, repr=False)
class GMMCalibrated(CalibratedSampler):
    """Sampler of the paper's mixture ``sum_k w_k N(mu_k, Sigma)`` (Algorithm 1); it never rejects.

    Attributes
    ----------
    weights : the fitted cells and weights
    covariance : (L, L) the shared component covariance Sigma
    """

    weights: ClusterWeights
    covariance: np.ndarray

    method = "gmm"
    expected_acceptance = 1.0

    @property
    def latent_dim(self) -> int:
        return self.weights.centroids.shape[1]

    @property
    def cholesky(self) -> np.ndarray:
        """(L, L) lower Cholesky factor of Sigma (with a 1e-10 ridge, so a singular Sigma still factors)."""
        return np.linalg.cholesky(self.covariance + 1e-10 * np.eye(self.latent_dim))

    def log_density_ratio(self, z) -> np.ndarray:
        """(n,) ``log q(z) - log N(z; 0, I)``, q the mixture: the log importance weight of a prior latent.

        Computed in log space (``scipy.special.logsumexp`` over components), so it stays
        finite far in the tails where both densities underflow.

        Parameters
        ----------
        z : (n, L) latents
        """
        from scipy.linalg import solve_triangular
        from scipy.special import logsumexp

        z = np.asarray(z, dtype=np.float64)
        L = self.latent_dim
        chol = self.cholesky
        a = solve_triangular(chol, z.T, lower=True).T  # whitened latents (n, L)
        b = solve_triangular(chol, self.weights.centroids.T, lower=True).T  # whitened centres (K, L)
        maha = np.maximum((a**2).sum(1)[:, None] - 2.0 * a @ b.T + (b**2).sum(1)[None, :], 0.0)  # (n, K)
        logdet = 2.0 * np.log(np.diag(chol)).sum()
        with np.errstate(divide="ignore"):
            log_w = np.log(self.weights.weights)
        log_q = logsumexp(log_w[None, :] - 0.5 * (maha + logdet + L * np.log(2 * np.pi)), axis=1)
        log_p = -0.5 * ((z**2).sum(1) + L * np.log(2 * np.pi))
        return log_q - log_p

    def propose(self, seed: int, m: int, need_x: bool) -> Proposals:
        rng = np.random.default_rng(seed)
        k = rng.choice(len(self.weights.weights), size=m, p=self.weights.weights)
        z = self.weights.centroids[k] + rng.standard_normal((m, self.latent_dim)) @ self.cholesky.T
        return Proposals(z.astype(np.float32), None, np.ones(m, dtype=bool))


@dataclass(frozen=True, eq=False, repr=False)
class VoronoiCalibrated(CalibratedSampler):
    """Exact variant of Algorithm 1: prior latents accepted with probability a_k of their cell.

    Attributes
    ----------
    weights : the fitted cells and weights
    """

    weights: ClusterWeights

    method = "voronoi"

    @property
    def latent_dim(self) -> int:
        return self.weights.centroids.shape[1]

    @property
    def acceptance(self) -> np.ndarray:
        """(K,) acceptance a_k of each cell."""
        return self.weights.voronoi_acceptance

    @property
    def expected_acceptance(self) -> float:
        """``sum_k pi_k a_k`` with the fitted pi (the measured rate uses the true cell masses)."""
        return float((self.weights.pi * self.acceptance).sum())

    def log_density_ratio(self, z) -> np.ndarray:
        """(n,) ``log(a_k(z) / sum_j pi_j a_j)`` for latents z (n, L): the log importance weight (fitted pi)."""
        with np.errstate(divide="ignore"):
            return np.log(self.acceptance[self.weights.assign(z)]) - np.log(self.expected_acceptance)

    def accept_mask(self, z, embeddings=None, *, seed: int) -> np.ndarray:
        """(n,) bool: which of the prior latents ``z`` (n, L) the sampler accepts (seeded uniform draws).

        ``embeddings`` is ignored (the cell decides); it is accepted so that every thinning
        calibrator has the same signature.

        Applying it to an already generated and embedded prior pool gives a calibrated
        sample with no new generator or descriptor call (thinning).
        """
        z = np.asarray(z)
        u = np.random.default_rng(shard_seed(seed, 1)).random(len(z))
        return u < self.acceptance[self.weights.assign(z)]

    def propose(self, seed: int, m: int, need_x: bool) -> Proposals:
        z = np.asarray(self.model.latents(seed, m))
        keep = self.accept_mask(z, seed=seed)
        return Proposals(z[keep], None, keep)


def resolve_covariance(covariance, weights: ClusterWeights) -> np.ndarray:
    """The GMM's Sigma: "pooled" (within-cluster), "identity", or an (L, L) array."""
    L = weights.centroids.shape[1]
    if isinstance(covariance, str):
        check_option(covariance, COVARIANCES, "covariance")
        return weights.covariance if covariance == "pooled" else np.eye(L)
    cov = np.asarray(covariance, dtype=np.float64)
    if cov.shape != (L, L):
        raise ValueError(f"covariance must have shape ({L}, {L}); got {cov.shape}")
    return cov


def gmm_calibrator(
    model: LatentModel,
    descriptor: Descriptor | None = None,
    *,
    covariance: str | np.ndarray = "pooled",
    **fit: Unpack[ClusterFitArgs],
) -> GMMCalibrated:
    """Algorithm 1 of the paper: reshape the prior into ``sum_k w_k N(mu_k, Sigma)``.

    Parameters
    ----------
    model, descriptor, modes, r0, n_clusters, weighting, seed, progress, n_fit, fit_latents, fit_embeddings, store :
        the fit, as in :func:`fit_cluster_weights` (``modes`` and ``r0`` are required)
    covariance : Sigma: "pooled" (within-cluster covariance, default), "identity" or an (L, L) array

    Returns
    -------
    GMMCalibrated, a Sampler (acceptance 1: it never rejects).
    """
    cw, secs, calls = fit_cluster_weights(model, descriptor, **fit)
    return GMMCalibrated(
        model,
        cw,
        resolve_covariance(covariance, cw),
        fit_seconds=secs,
        fit_generator_calls=calls,
        progress=fit.get("progress"),
    )


def voronoi_calibrator(
    model: LatentModel, descriptor: Descriptor | None = None, **fit: Unpack[ClusterFitArgs]
) -> VoronoiCalibrated:
    """Exact variant of Algorithm 1: ``z ~ N(0, I)`` accepted with probability oc ``w_k / pi_k``.

    Parameters are those of :func:`gmm_calibrator` but the covariance.  The calibrated law is the
    prior restricted to each Voronoi cell, reweighted cell by cell: it never leaves the
    prior's typical shell.  Expected acceptance: ``sum_k pi_k a_k = 1 / max_k(w_k/pi_k)``.

    Returns
    -------
    VoronoiCalibrated, a Sampler that thins prior latents.
    """
    cw, secs, calls = fit_cluster_weights(model, descriptor, **fit)
    return VoronoiCalibrated(model, cw, fit_seconds=secs, fit_generator_calls=calls, progress=fit.get("progress"))
