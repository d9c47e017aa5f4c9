"""Black-box calibration by reshaping the latent distribution (paper 000, section 3.2).

Every calibrator takes a latent model (``latents(seed, n)``, ``generate(z)``,
``__call__(seed, n) -> Batch``; see :mod:`bbcollapse.blackbox`), the descriptor where
it needs one, and the embeddings of the dense modes ``I_m`` to calibrate (usually the
worst case ``I_w`` of :func:`bbcollapse.dense_modes`).  It **returns a Sampler** of the
same protocol, so the calibrated model is diagnosed by the same code.  Each one keeps
counters and returns a :class:`CalibrationReport` (acceptance rate, generator and
descriptor calls, seconds per accepted sample).

Algorithm 1 (GMM reshaping), :func:`cluster_weights` then

* :func:`gmm_calibrator` -- the paper's mixture ``sum_k w_k N(mu_k, Sigma)`` around the
  K-means centroids ``mu_k`` (``Sigma`` the pooled within-cluster covariance, or I).
  Gaussian components leave the prior's typical shell in high dimension; the law
  *within* a cell changes.
* :func:`voronoi_calibrator` -- an exact variant: keep ``z ~ N(0, I)`` and accept with
  probability ``a_k = (w_k / pi_k) / max_j (w_j / pi_j)`` for z's Voronoi cell k
  (``pi_k`` the prior mass of the cell).  The law of z inside every cell is exactly
  the prior's; only the cell masses change (to ``w_k`` when ``pi_k`` is exact).

The paper's weight is ``w_k = 1 / (number of G(z), z in cell k, within r0 of the
modes)``, infinite for a cell with no neighbour.  **Zero-count guard**: the count is
floored at one, ``w_k oc 1 / max(count_k, 1)``, so cells without neighbours all get
the weight of a cell with a single neighbour (the paper's formula is unchanged for
every count >= 1).  The paper's weight ignores the cell's size: in high dimension K-means
leaves small cells, and a cell of a few latents with one mode neighbour then gets the
largest weight, which can *raise* the mode's mass (measured in notebook 4).  The option
``weighting="non-mode"`` (``w_k oc n_k - count_k``: every cell keeps its non-mode share)
is the size-aware alternative.

Algorithm 2 (importance / rejection sampling), :func:`rejection_calibrator`: with
``p = N(I_r) / N(I_m)`` (neighbour counts within r0 of a reference and of the mode)
accept a proposal ``z ~ N(0, I)`` lying in the dense region with probability p, and
every other proposal always.  The dense region is decided

* ``region="output"`` -- exactly, in output space: embed ``G(z)`` and test
  ``d(F(G(z)), I_m) <= r0`` (one descriptor call per proposal);
* ``region="ball"`` -- a latent ball as in the authors' code
  (``draw_image_sphere.py``): centre = mean of H, radius = the *minimum* distance from
  the centre to H, where H are the latents whose images lie within r0 of I_m;
* ``region="hull"`` -- the paper's convex hull ``conv(H)``, tested with a tolerance:
  the relative residual of the NNLS fit ``min_{a >= 0, sum a = 1} ||H^T a - z||``
  must be ``<= hull_tol``.  In 100-512 dimensions a fresh z almost never lies in
  the hull of 100 points, which is why the authors abandoned it; the notebook
  measures that.

Importance weights: ``GMMCalibrated.log_density_ratio`` and
``VoronoiCalibrated.log_density_ratio`` give ``log q(z)/p(z)`` for prior latents, and
:func:`importance_weights` turns them into self-normalised weights in log space
(``logsumexp``), so a calibrated model's statistics can also be estimated from an
already embedded prior sample.

White-box baseline (paper 001, appendix): :func:`white_box_latents` recovers latents
of I_m by gradient descent through a torch generator (pixel L2 + descriptor distance
+ ``alpha ||z||^2``, many restarts) and :func:`white_box_rejection_calibrator` feeds
them to the same latent-region rejection scheme.  It needs the generator's
gradients, so it is *not* black-box; it is labelled white-box everywhere.
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import numpy as np

from ..blackbox import Batch, shard_seed
from ..distance import cos_threshold, validate_unit

__all__ = [
    "CalibrationReport",
    "ClusterWeights",
    "cluster_weights",
    "gmm_calibrator",
    "voronoi_calibrator",
    "rejection_calibrator",
    "acceptance_probability",
    "importance_weights",
    "in_latent_ball",
    "in_latent_hull",
    "hull_residual",
    "white_box_latents",
    "WhiteBoxLatents",
    "white_box_rejection_calibrator",
    "GMMCalibrated",
    "VoronoiCalibrated",
    "RejectionCalibrated",
]

log = logging.getLogger(__name__)

REGIONS = ("output", "ball", "hull")


# ----------------------------------------------------------------------------- validation
def _check_r0(r0) -> float:
    try:
        r0 = float(r0)
    except (TypeError, ValueError):
        raise ValueError(f"r0 must be a float in (0, 1] (a normalised angular distance); got {r0!r}") from None
    if not (np.isfinite(r0) and 0.0 < r0 <= 1.0):
        raise ValueError(f"r0 must be a float in (0, 1] (a normalised angular distance); got {r0!r}")
    return r0


def _check_model(model):
    for attr in ("latents", "generate"):
        if not callable(getattr(model, attr, None)):
            raise TypeError(
                f"model must be a latent model with latents(seed, n) and generate(z) (see bbcollapse.blackbox); "
                f"{type(model).__name__} has no {attr}()"
            )


def _check_modes(modes) -> np.ndarray:
    m = np.asarray(modes)
    if m.ndim == 1:
        m = m[None, :]
    return validate_unit(m, "modes").astype(np.float64)


def _near_modes(embeddings, modes, r0) -> np.ndarray:
    """(n, m) bool: d(e_i, I_m) <= r0, decided in float64 on cosines."""
    e = np.asarray(embeddings, dtype=np.float64)
    return (e @ modes.T) >= cos_threshold(r0)


def _embed(model, descriptor, z, batch: int = 4096):
    """Generate and embed latents in chunks; returns (outputs list, embeddings (n, D) float64)."""
    outs, embs = [], []
    for s in range(0, len(z), batch):
        x = model.generate(z[s : s + batch])
        outs.append(x)
        embs.append(np.asarray(descriptor(x), dtype=np.float64))
    return outs, np.concatenate(embs, axis=0)


def _fit_set(model, descriptor, fit_latents, fit_embeddings, n_fit, seed):
    """Latents and their embeddings for fitting: given, or sampled from the model."""
    if (fit_latents is None) != (fit_embeddings is None):
        raise ValueError("give both fit_latents and fit_embeddings, or neither (then n_fit are sampled)")
    if fit_latents is None:
        if descriptor is None:
            raise ValueError("descriptor is required to embed the fitting samples")
        n_fit = int(n_fit)
        if n_fit < 2:
            raise ValueError(f"n_fit must be >= 2; got {n_fit}")
        z = np.asarray(model.latents(shard_seed(seed, 0), n_fit))
        _, e = _embed(model, descriptor, z)
        return z, e, n_fit
    z = np.asarray(fit_latents)
    e = validate_unit(fit_embeddings, "fit_embeddings")
    if z.ndim != 2 or z.shape[0] != e.shape[0]:
        raise ValueError(f"fit_latents must be (n, L) with n = {e.shape[0]} rows like fit_embeddings; got {z.shape}")
    return z, e, 0


# ----------------------------------------------------------------------------- reporting
@dataclass(frozen=True)
class CalibrationReport:
    """What a calibrated sampler has cost so far.

    Attributes
    ----------
    method : name of the calibrator (white-box ones say so)
    proposed, accepted : latents proposed / accepted by the sampler
    generator_calls, descriptor_calls : outputs generated / embedded while sampling (every one
        actually computed, including the unused surplus of a sampler's last proposal round, so
        per-sample costs can exceed 1 / acceptance_rate slightly)
    seconds : wall time spent sampling
    fit_seconds : wall time spent fitting (K-means, counts, ...)
    fit_generator_calls : outputs generated (and embedded) to fit
    expected_acceptance : acceptance rate predicted from the fitted quantities
    """

    method: str
    proposed: int
    accepted: int
    generator_calls: int
    descriptor_calls: int
    seconds: float
    fit_seconds: float
    fit_generator_calls: int
    expected_acceptance: float

    @property
    def acceptance_rate(self) -> float:
        return self.accepted / self.proposed if self.proposed else float("nan")

    @property
    def generator_calls_per_sample(self) -> float:
        return self.generator_calls / self.accepted if self.accepted else float("nan")

    @property
    def descriptor_calls_per_sample(self) -> float:
        return self.descriptor_calls / self.accepted if self.accepted else float("nan")

    @property
    def seconds_per_sample(self) -> float:
        return self.seconds / self.accepted if self.accepted else float("nan")

    def as_dict(self) -> dict:
        d = dict(self.__dict__)
        d.update(
            acceptance_rate=self.acceptance_rate,
            generator_calls_per_sample=self.generator_calls_per_sample,
            descriptor_calls_per_sample=self.descriptor_calls_per_sample,
            seconds_per_sample=self.seconds_per_sample,
        )
        return d

    def __repr__(self):
        return (
            f"CalibrationReport({self.method}: acceptance={self.acceptance_rate:.4f} "
            f"(expected {self.expected_acceptance:.4f}), accepted={self.accepted}/{self.proposed}, "
            f"G calls/sample={self.generator_calls_per_sample:.3f}, "
            f"descriptor calls/sample={self.descriptor_calls_per_sample:.3f}, "
            f"{1e3 * self.seconds_per_sample:.3f} ms/sample, fit {self.fit_seconds:.2f} s)"
        )


class _Calibrated:
    """A Sampler drawing latents from a reshaped prior (subclasses define ``_propose``)."""

    method = "calibrated"

    def __init__(self, model, *, fit_seconds=0.0, fit_generator_calls=0):
        self.model = model
        self.latent_dim = int(getattr(model, "latent_dim", 0)) or None
        self._fit_seconds = float(fit_seconds)
        self._fit_calls = int(fit_generator_calls)
        self._proposed = self._accepted = self._gcalls = self._dcalls = 0
        self._seconds = 0.0

    # Subclasses: return (z accepted, their outputs or None, keep mask over the m proposals).
    def _round(self, seed: int, n: int):  # pragma: no cover - abstract
        raise NotImplementedError

    expected_acceptance: float = 1.0
    #: most proposals drawn in one round (bounds memory when the acceptance is tiny)
    max_round: int = 65_536

    def _draw(self, seed: int, n: int, need_x: bool):
        n = int(n)
        if n < 0:
            raise ValueError(f"n must be >= 0; got {n}")
        t0 = time.perf_counter()
        zs, xs, got, rnd = [], [], 0, 0
        acc = max(self.expected_acceptance, 1e-3)
        while got < n:
            m = min(int(math.ceil((n - got) / acc * 1.1)) + 16, self.max_round)
            z, x, keep = self._round(shard_seed(seed, 7, rnd), m, need_x)
            rnd += 1
            pos = np.flatnonzero(keep)
            need = n - got
            if len(pos) > need:  # only the proposals up to the last one used count
                z, pos = z[:need], pos[:need]
                x = x[:need] if x is not None else None
                self._proposed += int(pos[-1]) + 1
            else:
                self._proposed += m
            if len(z):
                zs.append(z)
                xs.append(x)
                got += len(z)
            if rnd > 100_000:
                raise RuntimeError(f"{self.method}: too few acceptances ({got} of {n} after {self._proposed} proposals)")
        z = np.concatenate(zs) if zs else np.zeros((0, self.latent_dim or 0), np.float32)
        self._accepted += len(z)
        x = None
        if need_x:
            if xs and all(xi is not None for xi in xs):
                x = np.concatenate(xs)
            else:
                x = self.model.generate(z)
                self._gcalls += len(z)
        self._seconds += time.perf_counter() - t0
        return z, x

    # -- the Sampler / latent-model protocol --------------------------------------------------
    def latents(self, seed: int, n: int) -> np.ndarray:
        return self._draw(seed, n, need_x=False)[0]

    def generate(self, z):
        return self.model.generate(z)

    def __call__(self, seed: int, n: int) -> Batch:
        z, x = self._draw(seed, n, need_x=True)
        return Batch(z, x)

    def report(self) -> CalibrationReport:
        return CalibrationReport(
            method=self.method,
            proposed=self._proposed,
            accepted=self._accepted,
            generator_calls=self._gcalls,
            descriptor_calls=self._dcalls,
            seconds=self._seconds,
            fit_seconds=self._fit_seconds,
            fit_generator_calls=self._fit_calls,
            expected_acceptance=float(self.expected_acceptance),
        )

    def __repr__(self):
        return f"{type(self).__name__}({self.model!r}, expected_acceptance={self.expected_acceptance:.4f})"


# ----------------------------------------------------------------------------- Algorithm 1
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
        """Voronoi cell (nearest centroid, Euclidean) of each latent, (n,) int64."""
        z = np.asarray(z, dtype=np.float64)
        d2 = (self.centroids**2).sum(1)[None, :] - 2.0 * z @ self.centroids.T
        return np.argmin(d2, axis=1)

    @property
    def voronoi_acceptance(self) -> np.ndarray:
        """Per-cell acceptance ``a_k = (w_k/pi_k) / max_j(w_j/pi_j)`` of the exact variant."""
        ratio = self.weights / self.pi
        return ratio / ratio.max()

    def __repr__(self):
        return (
            f"ClusterWeights(K={len(self.pi)}, n_fit={self.n_fit}, r0={self.r0}, weighting={self.weighting!r}, "
            f"cells with neighbours={int((self.counts > 0).sum())}, total neighbours={int(self.counts.sum())})"
        )


def _kmeans(z, k, seed, niter: int = 25):
    """K-means centroids (K, L) float64 and labels (N,): faiss when installed, else scikit-learn."""
    z = np.ascontiguousarray(z, dtype=np.float64)
    try:
        import faiss
    except ImportError:  # pragma: no cover - faiss is a dev dependency
        from sklearn.cluster import KMeans

        km = KMeans(n_clusters=k, n_init=1, random_state=int(seed) % (2**31), max_iter=niter)
        labels = km.fit_predict(z)
        return km.cluster_centers_.astype(np.float64), labels
    km = faiss.Kmeans(z.shape[1], k, niter=niter, seed=int(seed) % (2**31), verbose=False,
                      min_points_per_centroid=1, max_points_per_centroid=max(256, z.shape[0]))
    km.train(z.astype(np.float32))
    centroids = km.centroids.astype(np.float64)
    # labels = nearest centroid in float64, the same rule as ClusterWeights.assign
    d2 = (centroids**2).sum(1)[None, :] - 2.0 * z @ centroids.T
    return centroids, np.argmin(d2, axis=1)


WEIGHTINGS = ("paper", "non-mode")


def cluster_weights(*, latents, embeddings, modes, r0: float, n_clusters: int, seed: int = 0,
                    weighting: str = "paper") -> ClusterWeights:
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
    r0 = _check_r0(r0)
    modes = _check_modes(modes)
    e = validate_unit(embeddings, "embeddings", dim=modes.shape[1])
    z = np.asarray(latents, dtype=np.float64)
    if z.ndim != 2 or z.shape[0] != e.shape[0]:
        raise ValueError(f"latents must be (N, L) with N = {e.shape[0]} rows like embeddings; got {z.shape}")
    k = int(n_clusters)
    if not (1 <= k <= z.shape[0]):
        raise ValueError(f"n_clusters (K) must be in [1, N] = [1, {z.shape[0]}]; got {n_clusters}")
    near = _near_modes(e, modes, r0).any(axis=1)
    if not near.any():
        raise ValueError(
            f"the modes have zero neighbours within r0={r0} among the {z.shape[0]} fitting samples; "
            "increase the number of fitting samples or r0, or check the mode embeddings"
        )
    centroids, labels = _kmeans(z, k, seed)
    sizes = np.bincount(labels, minlength=k)
    counts = np.bincount(labels[near], minlength=k).astype(np.int64)
    if weighting == "paper":
        w = 1.0 / np.maximum(counts, 1)  # zero-count guard: floor the count at one
    elif weighting == "non-mode":
        w = (sizes - counts).astype(np.float64)
        if w.sum() <= 0:
            raise ValueError("every fitting latent is a neighbour of the modes: no non-mode mass to keep")
    else:
        raise ValueError(f"weighting must be one of {WEIGHTINGS}; got {weighting!r}")
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


def _fit_cluster_weights(model, descriptor, modes, r0, n_clusters, n_fit, fit_latents, fit_embeddings, seed, weighting):
    _check_model(model)
    r0 = _check_r0(r0)
    t0 = time.perf_counter()
    z, e, calls = _fit_set(model, descriptor, fit_latents, fit_embeddings, n_fit, seed)
    cw = cluster_weights(latents=z, embeddings=e, modes=modes, r0=r0, n_clusters=n_clusters, seed=seed,
                         weighting=weighting)
    return cw, time.perf_counter() - t0, calls


class GMMCalibrated(_Calibrated):
    """Sampler of the paper's mixture ``sum_k w_k N(mu_k, Sigma)`` (Algorithm 1)."""

    method = "gmm"

    def __init__(self, model, weights: ClusterWeights, covariance="pooled", **kw):
        super().__init__(model, **kw)
        self.weights = weights
        L = weights.centroids.shape[1]
        if isinstance(covariance, str):
            if covariance == "pooled":
                cov = weights.covariance
            elif covariance == "identity":
                cov = np.eye(L)
            else:
                raise ValueError(f"covariance must be 'pooled', 'identity' or an (L, L) array; got {covariance!r}")
        else:
            cov = np.asarray(covariance, dtype=np.float64)
            if cov.shape != (L, L):
                raise ValueError(f"covariance must have shape ({L}, {L}); got {cov.shape}")
        self.covariance = cov
        self._chol = np.linalg.cholesky(cov + 1e-10 * np.eye(L))
        self.latent_dim = L
        self.expected_acceptance = 1.0

    def log_density_ratio(self, z) -> np.ndarray:
        """(n,) ``log q(z) - log N(z; 0, I)``, q the mixture: the log importance weight of a prior latent.

        Computed in log space (``scipy.special.logsumexp`` over components), so it stays
        finite far in the tails where both densities underflow.
        """
        from scipy.special import logsumexp

        z = np.asarray(z, dtype=np.float64)
        L = self.latent_dim
        from scipy.linalg import solve_triangular

        a = solve_triangular(self._chol, z.T, lower=True).T  # whitened latents (n, L)
        b = solve_triangular(self._chol, self.weights.centroids.T, lower=True).T  # whitened centres (K, L)
        maha = np.maximum((a**2).sum(1)[:, None] - 2.0 * a @ b.T + (b**2).sum(1)[None, :], 0.0)  # (n, K)
        logdet = 2.0 * np.log(np.diag(self._chol)).sum()
        with np.errstate(divide="ignore"):
            log_w = np.log(self.weights.weights)
        log_q = logsumexp(log_w[None, :] - 0.5 * (maha + logdet + L * np.log(2 * np.pi)), axis=1)
        log_p = -0.5 * ((z**2).sum(1) + L * np.log(2 * np.pi))
        return log_q - log_p

    def _round(self, seed, m, need_x):
        rng = np.random.default_rng(seed)
        k = rng.choice(len(self.weights.weights), size=m, p=self.weights.weights)
        z = self.weights.centroids[k] + rng.standard_normal((m, self.latent_dim)) @ self._chol.T
        return z.astype(np.float32), None, np.ones(m, dtype=bool)


class VoronoiCalibrated(_Calibrated):
    """Exact variant of Algorithm 1: prior latents accepted with probability a_k of their cell."""

    method = "voronoi"

    def __init__(self, model, weights: ClusterWeights, **kw):
        super().__init__(model, **kw)
        self.weights = weights
        self.acceptance = weights.voronoi_acceptance
        self.latent_dim = weights.centroids.shape[1]
        # sum_k pi_k a_k with the fitted pi (the measured rate uses the true cell masses)
        self.expected_acceptance = float((weights.pi * self.acceptance).sum())

    def log_density_ratio(self, z) -> np.ndarray:
        """(n,) ``log(a_k(z) / sum_j pi_j a_j)``: the log importance weight of a prior latent (fitted pi)."""
        with np.errstate(divide="ignore"):
            return np.log(self.acceptance[self.weights.assign(z)]) - np.log(self.expected_acceptance)

    def accept_mask(self, z, embeddings=None, *, seed: int) -> np.ndarray:
        """(n,) bool: which of the prior latents ``z`` the sampler accepts (seeded uniform draws).

        ``embeddings`` is ignored (the cell decides); it is accepted so that every thinning
        calibrator has the same signature.

        Applying it to an already generated and embedded prior pool gives a calibrated
        sample with no new generator or descriptor call (thinning).
        """
        z = np.asarray(z)
        u = np.random.default_rng(shard_seed(seed, 1)).random(len(z))
        return u < self.acceptance[self.weights.assign(z)]

    def _round(self, seed, m, need_x):
        z = np.asarray(self.model.latents(seed, m))
        keep = self.accept_mask(z, seed=seed)
        return z[keep], None, keep


def gmm_calibrator(
    model,
    descriptor=None,
    *,
    modes,
    r0: float,
    n_clusters: int = 100,
    n_fit: int = 10_000,
    covariance="pooled",
    weighting: str = "paper",
    fit_latents=None,
    fit_embeddings=None,
    seed: int = 0,
) -> GMMCalibrated:
    """Algorithm 1 of the paper: reshape the prior into ``sum_k w_k N(mu_k, Sigma)``.

    Parameters
    ----------
    model : latent model (``latents``, ``generate``)
    descriptor : callable outputs -> (n, D) unit vectors (not needed when fit_* are given)
    modes : (m, D) or (D,) unit embeddings of the dense modes to calibrate (e.g. I_w)
    r0 : neighbour radius in (0, 1]
    n_clusters : K of K-means (<= number of fitting latents)
    n_fit : N, fitting latents sampled from the model when fit_* are not given
    covariance : "pooled" (within-cluster covariance, default), "identity" or an (L, L) array
    weighting : "paper" (``1/max(count_k, 1)``) or "non-mode" (``n_k - count_k``); see :func:`cluster_weights`
    fit_latents, fit_embeddings : (N, L), (N, D) precomputed fitting set (e.g. a cached C)
    seed : seed of the fitting samples and of K-means

    Returns
    -------
    GMMCalibrated, a Sampler (acceptance 1: it never rejects).
    """
    cw, secs, calls = _fit_cluster_weights(model, descriptor, modes, r0, n_clusters, n_fit, fit_latents, fit_embeddings,
                                           seed, weighting)
    return GMMCalibrated(model, cw, covariance=covariance, fit_seconds=secs, fit_generator_calls=calls)


def voronoi_calibrator(
    model,
    descriptor=None,
    *,
    modes,
    r0: float,
    n_clusters: int = 100,
    n_fit: int = 10_000,
    weighting: str = "paper",
    fit_latents=None,
    fit_embeddings=None,
    seed: int = 0,
) -> VoronoiCalibrated:
    """Exact variant of Algorithm 1: ``z ~ N(0, I)`` accepted with probability oc ``w_k / pi_k``.

    Same parameters as :func:`gmm_calibrator`.  The calibrated law is the prior
    restricted to each Voronoi cell, reweighted cell by cell: it never leaves the
    prior's typical shell.  Expected acceptance: ``sum_k pi_k a_k = 1 / max_k(w_k/pi_k)``.
    """
    cw, secs, calls = _fit_cluster_weights(model, descriptor, modes, r0, n_clusters, n_fit, fit_latents, fit_embeddings,
                                           seed, weighting)
    return VoronoiCalibrated(model, cw, fit_seconds=secs, fit_generator_calls=calls)


def importance_weights(log_ratio):
    """Self-normalised importance weights from log density ratios, in log space.

    Parameters
    ----------
    log_ratio : (n,) ``log q(z_i) - log p(z_i)`` for prior samples z_i ~ p (e.g.
        ``GMMCalibrated.log_density_ratio``); ``-inf`` allowed (zero weight)

    Returns
    -------
    weights : (n,) float64 summing to one, ``exp(l_i - logsumexp(l))``
    ess : effective sample size ``1 / sum w_i^2`` (n for equal weights, 1 for a single one)
    """
    from scipy.special import logsumexp

    lr = np.asarray(log_ratio, dtype=np.float64).ravel()
    if lr.size == 0 or np.isnan(lr).any() or np.isposinf(lr).any():
        raise ValueError("log_ratio must be a non-empty array of finite values or -inf")
    total = logsumexp(lr)
    if not np.isfinite(total):
        raise ValueError("every log_ratio is -inf: no sample has positive weight")
    w = np.exp(lr - total)
    return w, float(1.0 / np.sum(w**2))


# ----------------------------------------------------------------------------- Algorithm 2
def acceptance_probability(*, mode_count: int, reference_count: float) -> float:
    """``p = N(I_r) / N(I_m)``: acceptance of a proposal in the dense region (Algorithm 2).

    Raises ValueError when the mode has no neighbour, or when the reference is denser
    than the mode (p > 1): rejection can only lower a density, so that target is
    impossible to reach.
    """
    if mode_count <= 0:
        raise ValueError(
            "the mode has zero neighbours within r0 among the fitting samples, so p = N(I_r)/N(I_m) is undefined; "
            "increase the number of fitting samples or r0"
        )
    if reference_count < 0:
        raise ValueError(f"reference_count must be >= 0; got {reference_count}")
    p = float(reference_count) / float(mode_count)
    if p > 1.0:
        raise ValueError(
            f"target impossible to reach: the reference has more neighbours ({reference_count:g}) than the mode "
            f"({mode_count}), so p = {p:.3f} > 1; rejection sampling can only lower the mode's density"
        )
    return p


def in_latent_ball(z, *, centre, radius) -> np.ndarray:
    """(n,) bool: ``||z - centre|| < radius`` (strict, as the authors' ``in_sphere``)."""
    z = np.asarray(z, dtype=np.float64)
    return np.linalg.norm(z - np.asarray(centre, dtype=np.float64)[None, :], axis=1) < radius


def hull_residual(z, hull, *, weight: float = 1e3) -> np.ndarray:
    """Relative distance of each z to conv(hull): ``min_{a>=0, sum a=1} ||hull^T a - z|| / ||z||``.

    Solved by NNLS with the affine constraint appended as a heavily weighted row
    (``scipy.optimize.nnls``).

    Parameters
    ----------
    z : (n, L) points
    hull : (h, L) the vertices H
    """
    from scipy.optimize import nnls

    z = np.asarray(z, dtype=np.float64)
    H = np.asarray(hull, dtype=np.float64)
    A = np.vstack([H.T, weight * np.ones((1, H.shape[0]))])
    out = np.empty(len(z))
    for i, zi in enumerate(z):
        a, _ = nnls(A, np.concatenate([zi, [weight]]), maxiter=50 * A.shape[1])
        a = a / max(a.sum(), 1e-300)
        out[i] = np.linalg.norm(H.T @ a - zi) / max(np.linalg.norm(zi), 1e-300)
    return out


def in_latent_hull(z, *, hull, tol: float = 0.05) -> np.ndarray:
    """(n,) bool: z within relative distance ``tol`` of conv(hull) (see :func:`hull_residual`)."""
    return hull_residual(z, hull) <= tol


class RejectionCalibrated(_Calibrated):
    """Algorithm 2: accept proposals in the dense region with probability p, others always."""

    def __init__(self, model, descriptor, *, modes, r0, p, region, H, ball_radius="min", hull_tol=0.05,
                 expected_acceptance=1.0, method=None, **kw):
        super().__init__(model, **kw)
        self.descriptor = descriptor
        self.modes, self.r0, self.region = modes, r0, region
        self.p = np.asarray(p, dtype=np.float64)  # (m,)
        self.H = H  # list of (h_m, L) latents per mode
        self.hull_tol = float(hull_tol)
        self.method = method or f"rejection-{region}"
        self.expected_acceptance = float(expected_acceptance)
        if region == "ball":
            self.centres, self.radii = [], []
            for h in H:
                c = h.mean(axis=0)
                dist = np.linalg.norm(h - c[None, :], axis=1)
                if ball_radius == "min":
                    rad = dist.min()
                elif ball_radius == "max":
                    rad = dist.max()
                else:
                    rad = float(np.quantile(dist, float(ball_radius)))
                self.centres.append(c)
                self.radii.append(float(rad))

    def in_region(self, z, embeddings=None) -> np.ndarray:
        """(n, m) bool: membership of each latent in each mode's dense region."""
        if self.region == "output":
            return _near_modes(embeddings, self.modes, self.r0)
        if self.region == "ball":
            return np.stack([in_latent_ball(z, centre=c, radius=r) for c, r in zip(self.centres, self.radii)], axis=1)
        return np.stack([in_latent_hull(z, hull=h, tol=self.hull_tol) for h in self.H], axis=1)

    def accept_probability(self, inside) -> np.ndarray:
        """(n,) acceptance of each proposal: min of p over the regions it lies in, else 1."""
        p = np.where(inside, self.p[None, :], 1.0)
        return p.min(axis=1)

    def accept_mask(self, z, embeddings=None, *, seed: int) -> np.ndarray:
        """(n,) bool: which prior latents ``z`` (with their embeddings for region="output") are accepted.

        Applying it to an already generated and embedded prior pool gives a calibrated
        sample with no new generator or descriptor call (thinning).
        """
        z = np.asarray(z)
        if self.region == "output" and embeddings is None:
            raise ValueError("region='output' decides on the embeddings: pass embeddings=")
        u = np.random.default_rng(shard_seed(seed, 1)).random(len(z))
        return u < self.accept_probability(self.in_region(z, embeddings))

    def _round(self, seed, m, need_x):
        z = np.asarray(self.model.latents(seed, m))
        x = e = None
        if self.region == "output":
            outs, e = _embed(self.model, self.descriptor, z)
            self._gcalls += m
            self._dcalls += m
            x = np.concatenate(outs) if isinstance(outs[0], np.ndarray) else outs
        keep = self.accept_mask(z, e, seed=seed)
        if x is not None and isinstance(x, np.ndarray):
            x = x[keep]
        elif x is not None:
            x = None  # non-array outputs: regenerate the accepted ones
        return z[keep], x, keep


def rejection_calibrator(
    model,
    descriptor=None,
    *,
    modes,
    r0: float,
    region: str = "output",
    accept_prob: float | None = None,
    references=None,
    n_references: int = 1000,
    top_h: int | None = None,
    region_latents=None,
    ball_radius="min",
    hull_tol: float = 0.05,
    n_fit: int = 10_000,
    fit_latents=None,
    fit_embeddings=None,
    seed: int = 0,
    _method: str | None = None,
) -> RejectionCalibrated:
    """Algorithm 2 of the paper: rejection ("importance") sampling of the dense region.

    Parameters
    ----------
    model : latent model (``latents``, ``generate``)
    descriptor : callable outputs -> (n, D) unit vectors (needed for region="output",
        and to embed the fitting set when fit_* are not given)
    modes : (m, D) or (D,) unit embeddings of the dense modes I_m
    r0 : neighbour radius in (0, 1]
    region : "output" (exact), "ball" (the authors' latent ball) or "hull" (conv(H) with tolerance)
    accept_prob : p; if None, ``p = N(I_r)/N(I_m)`` on the fitting set
    references : (q, D) unit embeddings of reference images I_r; N(I_r) is their mean
        neighbour count in the fitting set.  Default: ``n_references`` random fitting
        samples (their own point excluded).  The paper uses a single random I_r; the
        mean over q references has far less variance.
    top_h : keep only the ``top_h`` latents nearest to I_m in H (the paper keeps 100);
        None keeps every fitting latent within r0
    region_latents : (h, L) latents of H given directly (e.g. the white-box ones);
        with several modes, a list of such arrays
    ball_radius : "min" (authors' code), "max" or a quantile in [0, 1] of the distances to the centre
    hull_tol : relative residual tolerance of the hull test
    n_fit, fit_latents, fit_embeddings, seed : the fitting set, as in :func:`gmm_calibrator`

    Returns
    -------
    RejectionCalibrated, a Sampler; ``expected_acceptance = 1 - (1 - p) P(region)``, with
    P(region) (``region_fraction``) measured on the fitting set for the output region and on
    fresh prior latents for a latent region (20 000; 200 for the hull).
    """
    _check_model(model)
    r0 = _check_r0(r0)
    if region not in REGIONS:
        raise ValueError(f"region must be one of {REGIONS}; got {region!r}")
    if region == "output" and descriptor is None:
        raise ValueError("region='output' embeds every proposal: a descriptor is required")
    modes_ = _check_modes(modes)
    t0 = time.perf_counter()
    z, e, calls = _fit_set(model, descriptor, fit_latents, fit_embeddings, n_fit, seed)
    if e.shape[1] != modes_.shape[1]:
        raise ValueError(f"modes have dimension {modes_.shape[1]} but the embeddings have {e.shape[1]}")
    near = _near_modes(e, modes_, r0)  # (N, m)
    mode_counts = near.sum(axis=0)
    if accept_prob is not None:
        if (mode_counts == 0).any() and region != "output" and region_latents is None:
            raise ValueError(f"a mode has zero neighbours within r0={r0} among the {len(z)} fitting samples: H is empty")
        p = np.full(len(modes_), float(accept_prob))
        if not (0.0 <= float(accept_prob) <= 1.0):
            raise ValueError(f"accept_prob must lie in [0, 1]; got {accept_prob}")
    else:
        if references is None:
            rng = np.random.default_rng(shard_seed(seed, 3))
            idx = rng.choice(len(e), size=min(int(n_references), len(e)), replace=False)
            ref_counts = (_near_modes(e, e[idx], r0).sum(axis=0) - 1).astype(np.float64)  # exclude itself
        else:
            refs = validate_unit(references if np.ndim(references) == 2 else np.asarray(references)[None, :], "references")
            ref_counts = _near_modes(e, refs.astype(np.float64), r0).sum(axis=0).astype(np.float64)
        ref = float(ref_counts.mean())
        p = np.array([acceptance_probability(mode_count=int(c), reference_count=ref) for c in mode_counts])
    # H: latents whose images lie within r0 of each mode (or the given ones)
    if region_latents is not None:
        H = region_latents if isinstance(region_latents, (list, tuple)) else [region_latents]
        H = [np.asarray(h, dtype=np.float64) for h in H]
        if len(H) != len(modes_):
            raise ValueError(f"region_latents must give one (h, L) array per mode ({len(modes_)}); got {len(H)}")
    else:
        H = []
        for j in range(len(modes_)):
            idx = np.flatnonzero(near[:, j])
            if top_h is not None and len(idx) > int(top_h):
                dots = e[idx] @ modes_[j]
                idx = idx[np.argsort(-dots, kind="stable")[: int(top_h)]]
            H.append(np.asarray(z[idx], dtype=np.float64))
    cal = RejectionCalibrated(
        model, descriptor, modes=modes_, r0=r0, p=p, region=region, H=H, ball_radius=ball_radius,
        hull_tol=hull_tol, method=_method, fit_generator_calls=calls,
    )
    # Expected acceptance: the output region on the fitting set (a fair prior sample); a latent
    # region on fresh prior latents (the fitting set holds H itself), the hull on fewer (one NNLS each)
    if region == "output":
        inside = cal.in_region(z, e)
    else:
        zf = np.asarray(model.latents(shard_seed(seed, 5), 200 if region == "hull" else 20_000))
        inside = cal.in_region(zf)
    cal.expected_acceptance = float(cal.accept_probability(inside).mean())
    cal.region_fraction = inside.mean(axis=0)
    cal._fit_seconds = time.perf_counter() - t0
    log.info("%s: p=%s, |H|=%s, expected acceptance %.4f", cal.method, p, [len(h) for h in H], cal.expected_acceptance)
    return cal


# ----------------------------------------------------------------------------- white-box baseline
@dataclass(frozen=True, repr=False)
class WhiteBoxLatents:
    """Latents recovered by optimisation through the generator (white-box, paper 001 appendix).

    Attributes
    ----------
    z : (R, L) float32       one recovered latent per restart
    loss : (R,) float64      final loss of each restart
    distance : (R,) float64  descriptor distance d(F(G(z)), I_m) where a descriptor was given, else nan
    """

    z: np.ndarray
    loss: np.ndarray
    distance: np.ndarray

    def __repr__(self):
        return (f"WhiteBoxLatents(restarts={len(self.z)}, loss median={np.median(self.loss):.4g}, "
                f"distance median={np.nanmedian(self.distance) if np.isfinite(self.distance).any() else float('nan'):.4g})")


def white_box_latents(
    generator,
    *,
    target_image,
    latent_dim: int,
    descriptor=None,
    target_embedding=None,
    n_restarts: int = 100,
    steps: int = 200,
    lr: float = 0.05,
    pixel_weight: float = 1.0,
    descriptor_weight: float = 1.0,
    alpha: float = 1e-3,
    seed: int = 0,
) -> WhiteBoxLatents:
    """WHITE-BOX latent recovery of a mode image by gradient descent (paper 001, appendix, Eq. 5).

    Minimises, from ``n_restarts`` random starts ``z ~ N(0, I)`` in one batch (Adam),
    ``pixel_weight * mean((G(z) - I_m)^2) + descriptor_weight * (1 - <F(G(z)), F(I_m)>)
    + alpha * ||z||^2 / L``.  The paper's perceptual (VGG) term becomes the identity
    descriptor's distance, which is what the calibration cares about.

    Parameters
    ----------
    generator : torch callable (R, L) float32 tensor -> outputs tensor (differentiable)
    target_image : the mode's output I_m (array or tensor of one output's shape)
    latent_dim : L
    descriptor : optional differentiable torch callable outputs -> (R, D) embeddings
    target_embedding : (D,) unit embedding of I_m (default: descriptor(target_image))
    n_restarts, steps, lr : optimisation budget (the paper uses 100 restarts)
    pixel_weight, descriptor_weight, alpha : loss weights
    seed : seed of the random starts
    """
    import torch

    if int(n_restarts) < 1 or int(steps) < 1:
        raise ValueError(f"n_restarts and steps must be >= 1; got {n_restarts}, {steps}")
    gen = torch.Generator().manual_seed(int(seed) % (2**63))
    z = torch.randn(int(n_restarts), int(latent_dim), generator=gen).requires_grad_(True)
    target = torch.as_tensor(np.asarray(target_image), dtype=torch.float32)[None]
    t_emb = None
    if descriptor is not None and descriptor_weight > 0:
        t_emb = (torch.as_tensor(np.asarray(target_embedding), dtype=torch.float32) if target_embedding is not None
                 else descriptor(target).detach()[0])
        t_emb = t_emb / t_emb.norm()
    opt = torch.optim.Adam([z], lr=lr)

    def loss_fn(z):
        out = generator(z)
        loss = pixel_weight * ((out - target) ** 2).flatten(1).mean(1)
        if t_emb is not None:
            emb = descriptor(out)
            emb = emb / emb.norm(dim=1, keepdim=True)
            loss = loss + descriptor_weight * (1.0 - emb @ t_emb)
        return loss + alpha * (z**2).sum(1) / z.shape[1], out

    for _ in range(int(steps)):
        opt.zero_grad()
        loss, _ = loss_fn(z)
        loss.sum().backward()
        opt.step()
    with torch.no_grad():
        loss, out = loss_fn(z)
        dist = np.full(len(z), np.nan)
        if t_emb is not None:
            emb = descriptor(out)
            emb = emb / emb.norm(dim=1, keepdim=True)
            dist = (torch.arccos(torch.clamp(emb.double() @ t_emb.double(), -1, 1)) / math.pi).numpy()
    return WhiteBoxLatents(z=z.detach().numpy().astype(np.float32), loss=loss.double().numpy(), distance=dist)


def white_box_rejection_calibrator(model, descriptor=None, *, modes, r0: float, white_box: WhiteBoxLatents | list,
                                   region: str = "ball", **kwargs) -> RejectionCalibrated:
    """WHITE-BOX baseline: Algorithm 2's latent-region rejection with H recovered by optimisation.

    ``white_box`` holds the latents of :func:`white_box_latents` (one per mode, or a
    list); everything else (p, the region test, acceptance) is :func:`rejection_calibrator`.
    """
    if region == "output":
        raise ValueError("the white-box baseline defines the region in latent space: region must be 'ball' or 'hull'")
    wb = white_box if isinstance(white_box, (list, tuple)) else [white_box]
    H = [w.z if isinstance(w, WhiteBoxLatents) else np.asarray(w) for w in wb]
    return rejection_calibrator(model, descriptor, modes=modes, r0=r0, region=region, region_latents=H,
                                _method=f"white-box-rejection-{region}", **kwargs)
