"""Bootstrap intervals for MCCS (paper 000, Eq. 7) and its population statistics (Eq. 8), and
two-sample comparisons of them (a model before and after calibration, each on its own fresh pool).

* :func:`bootstrap_mccs`: exact nonparametric bootstrap of MCCS(I') over the samples C for one
  anchor.  Only the per-sample similarity contributions ``s(d(I', c))`` (the summands of Eq. 6)
  are needed, and all but a few are 0 (``d >= theta``), so a bootstrap resample is drawn as a
  multinomial over the k non-zero contributions plus one cell for the zeros: exactly the
  distribution of ``mean(s[idx])`` with ``idx`` drawn uniformly with replacement, at O(k) per
  replicate instead of O(|C|).  :class:`Contributions` holds just those non-zero values and |C|,
  which is what a streaming diagnosis keeps for the anchors it scores.
* :func:`bootstrap_population`: percentile intervals for mu and sigma of MCCS over the anchors
  (resampling A, C held fixed).
* :func:`compare_mccs` and :func:`compare_population`: *after - before* with a percentile
  interval and a two-sided bootstrap p-value, the two sides resampled independently (they are
  independent samples: fresh pools of two models).  mu and sigma of two pools differ by the
  anchors *and* by the samples, which every anchor shares: given the sparse anchor-by-sample
  similarity matrix (:func:`similarity_matrix`), :func:`compare_population` resamples both
  (a two-way bootstrap); given only per-anchor values it resamples the anchors with C held fixed,
  which under-covers a difference between pools.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import check_fraction, check_int, check_option, check_theta
from ..distance import cos_threshold, distance_from_cos, similarity, validate_unit
from .mccs import MCCS_FORMS, mccs

__all__ = [
    "BootstrapCI",
    "Contributions",
    "Difference",
    "PopulationCI",
    "bootstrap_mccs",
    "bootstrap_population",
    "compare_mccs",
    "compare_population",
    "compare_replicates",
    "similarity_contributions",
    "similarity_matrix",
]


@dataclass(frozen=True)
class BootstrapCI:
    """A percentile bootstrap interval."""

    estimate: float
    lo: float
    hi: float
    se: float
    level: float
    n_boot: int

    def covers(self, value) -> bool:
        """Whether ``lo <= value <= hi``."""
        return bool(self.lo <= value <= self.hi)

    def __repr__(self):
        return (
            f"BootstrapCI(estimate={self.estimate:.4f}, {100 * self.level:g}% [{self.lo:.4f}, {self.hi:.4f}], "
            f"se={self.se:.4f}, n_boot={self.n_boot})"
        )


@dataclass(frozen=True)
class PopulationCI:
    """Bootstrap intervals for mu and sigma of MCCS over the anchors."""

    mu: BootstrapCI
    sigma: BootstrapCI

    def __repr__(self):
        return f"PopulationCI(mu={self.mu!r}, sigma={self.sigma!r})"


@dataclass(frozen=True)
class Difference:
    """A statistic on two independent samples: each side's interval and *after - before*.

    Attributes
    ----------
    before, after : BootstrapCI of the statistic on each sample
    estimate : after.estimate - before.estimate
    lo, hi : percentile interval of the difference (independent resamples of the two sides)
    p_value : two-sided bootstrap p-value of "no difference" (the smallest level whose interval
        excludes 0; at least ``1 / (n_boot + 1)``)
    level : coverage of the intervals
    """

    before: BootstrapCI
    after: BootstrapCI
    estimate: float
    lo: float
    hi: float
    p_value: float
    level: float

    @property
    def significant(self) -> bool:
        """Whether the difference's interval excludes 0."""
        return bool(self.lo > 0 or self.hi < 0)

    def __repr__(self):
        return (
            f"Difference({self.before.estimate:.4f} -> {self.after.estimate:.4f}: {self.estimate:+.4f}, "
            f"{100 * self.level:g}% [{self.lo:+.4f}, {self.hi:+.4f}], p={self.p_value:.3g})"
        )


@dataclass(frozen=True)
class Contributions:
    """The similarity contributions of one anchor over a sample set: its non-zero values and the set's size.

    Attributes
    ----------
    nonzero : (k,) float64, the non-zero ``s(d(I', c))`` (every other sample contributes 0)
    n : |C|, the number of samples
    """

    nonzero: np.ndarray
    n: int

    @classmethod
    def of(cls, values) -> Contributions:
        """From all (n,) per-sample contributions."""
        v = np.asarray(values, dtype=np.float64).ravel()
        return cls(nonzero=v[v != 0], n=int(v.size))

    def merge(self, other: Contributions) -> Contributions:
        """The contributions over two disjoint sample sets."""
        return Contributions(np.concatenate([self.nonzero, other.nonzero]), self.n + other.n)

    @property
    def mean(self) -> float:
        """The mean similarity m (the argument of MCCS); 0 for an empty set."""
        return float(self.nonzero.sum() / self.n) if self.n else 0.0


def _check_level_and_n_boot(level, n_boot) -> tuple[float, int]:
    # fewer than 100 replicates make the tails of a percentile interval mostly noise
    return check_fraction(level, "level"), check_int(n_boot, "n_boot", minimum=100)


def _percentile_interval(boot, level):
    """The (1 - level)/2 and (1 + level)/2 quantiles of the bootstrap replicates."""
    q = (1 - level) / 2
    return np.quantile(boot, [q, 1 - q])


def _interval(estimate, boot, level) -> BootstrapCI:
    lo, hi = _percentile_interval(boot, level)
    return BootstrapCI(float(estimate), float(lo), float(hi), float(boot.std(ddof=1)), level, int(boot.size))


def similarity_contributions(anchor, samples, theta: float) -> np.ndarray:
    """Per-sample similarities ``s(d(anchor, c))`` for one anchor, float64.

    Parameters
    ----------
    anchor : (D,) or (1, D) unit vector
    samples : (n, D) unit vectors, or an iterable of shards
    theta : kernel width

    Returns
    -------
    (n,) float64; its mean is ``neighbor_stats(..., theta=theta).mean_similarity``.
    """
    theta = check_theta(theta)
    a = validate_unit(np.atleast_2d(anchor), "anchor")
    if a.shape[0] != 1:
        raise ValueError(f"anchor must be a single vector; got {a.shape[0]} rows")
    a = a[0].astype(np.float64)
    shards = [samples] if isinstance(samples, np.ndarray) else samples
    out = []
    for j, shard in enumerate(shards):
        c = validate_unit(shard, "samples" if isinstance(samples, np.ndarray) else f"samples shard {j}", a.shape[0])
        cos = c.astype(np.float64) @ a
        s = np.zeros(cos.shape[0])
        near = cos > cos_threshold(theta)  # s = 0 at and beyond theta: skip the arccos
        s[near] = similarity(distance_from_cos(cos[near]), theta)
        out.append(s)
    if not out:
        raise ValueError("samples is empty")
    return np.concatenate(out)


#: Above this many multinomial cells per run (distinct non-zero values x replicates) the replicates
#: of the mean come from the normal law with the exact bootstrap mean and variance (the CLT regime).
MULTINOMIAL_CELLS = 10**8


def similarity_matrix(anchors, samples, theta: float, *, block: int = 512):
    """The sparse (m, n) matrix of ``s(d(a_i, c_j))``: only pairs within theta are stored (float64).

    Parameters
    ----------
    anchors : (m, D) unit vectors
    samples : (n, D) unit vectors
    theta : kernel width
    block : anchors per float64 GEMM

    Returns
    -------
    scipy.sparse.csr_matrix (m, n); its row means are the anchors' mean similarities
    """
    from scipy import sparse

    theta = check_theta(theta)
    a = validate_unit(anchors, "anchors").astype(np.float64)
    c = validate_unit(samples, "samples", a.shape[1]).astype(np.float64)
    t = cos_threshold(theta)
    parts = []
    for start in range(0, a.shape[0], block):
        cos = a[start : start + block] @ c.T
        rows, cols = np.nonzero(cos > t)
        vals = similarity(distance_from_cos(cos[rows, cols]), theta)
        parts.append(sparse.csr_matrix((vals, (rows, cols)), shape=cos.shape))
    return sparse.vstack(parts, format="csr")


def _bootstrap_means(contributions: Contributions, n_boot, rng, batch=256):
    """Bootstrap distribution of the mean similarity: a multinomial over the distinct non-zero values.

    Exact (the law of ``mean(s[idx])``, idx uniform with replacement) up to ``MULTINOMIAL_CELLS``;
    beyond, normal replicates with the exact bootstrap mean m and variance ``mean((s - m)^2) / n``.
    """
    n = contributions.n
    values, counts = np.unique(contributions.nonzero, return_counts=True)
    k = values.shape[0]
    if k == 0:
        return np.zeros(n_boot)
    if k * n_boot > MULTINOMIAL_CELLS:
        m = float(counts @ values) / n
        var = (float(counts @ (values - m) ** 2) + (n - counts.sum()) * m**2) / n
        return np.clip(rng.normal(m, np.sqrt(var / n), size=n_boot), 0.0, 1.0)
    pvals = np.append(counts / n, (n - counts.sum()) / n)
    pvals[-1] = max(0.0, 1.0 - pvals[:-1].sum())
    means = np.empty(n_boot)
    for start in range(0, n_boot, batch):
        b = min(batch, n_boot - start)
        w = rng.multinomial(n, pvals, size=b)[:, :k]
        means[start : start + b] = (w @ values) / n
    return means


def _as_contributions(values) -> Contributions:
    if isinstance(values, Contributions):
        return values
    return Contributions.of(values)


def _mccs_replicates(contributions, form, n_boot, seed):
    c = _as_contributions(contributions)
    if c.n == 0:
        raise ValueError("contributions of an empty sample set: nothing to bootstrap")
    boot = mccs(_bootstrap_means(c, n_boot, np.random.default_rng(seed)), form=form)
    return float(mccs(c.mean, form=form)), boot


def bootstrap_mccs(
    anchor,
    samples=None,
    *,
    theta: float | None = None,
    contributions=None,
    form: str = "code",
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> BootstrapCI:
    """Percentile bootstrap interval for MCCS(anchor) over the samples C.

    Resamples C with replacement (exactly, via a multinomial over the non-zero
    similarity contributions).  MCCS is non-decreasing in the mean similarity, so the
    percentile interval of MCCS is MCCS of the percentile interval of the mean.

    The interval is for a *fixed* anchor.  For I_w selected on the same C it under-covers
    (the winner's curse): select I_w on one sample and bootstrap on an independent one, as
    :func:`bbcollapse.diagnose` does by default (``scoring="split"``).

    Parameters
    ----------
    anchor : (D,) or (1, D) unit vector I' (None when ``contributions`` are given)
    samples : (n, D) unit vectors, or an iterable of shards (the set C)
    theta : kernel width of the similarity (Eq. 3); needed with ``samples``
    contributions : instead of anchor, samples and theta: the anchor's :class:`Contributions`
        (or all its (n,) per-sample similarities)
    form : "code" or "paper" (see :func:`bbcollapse.mccs`)
    n_boot : number of bootstrap replicates (>= 100)
    level : coverage of the interval, in (0, 1)
    seed : seed of the resampling

    Returns
    -------
    BootstrapCI
    """
    level, n_boot = _check_level_and_n_boot(level, n_boot)
    check_option(form, MCCS_FORMS, "form")
    if contributions is None:
        if samples is None or theta is None:
            raise ValueError("give anchor, samples and theta, or contributions")
        contributions = similarity_contributions(anchor, samples, theta)
    estimate, boot = _mccs_replicates(contributions, form, n_boot, seed)
    return _interval(estimate, boot, level)


def _two_way_replicates(sim, form, n_boot, seed):
    """(mu, sigma) of MCCS and their replicates with anchors and samples both resampled."""
    m, n = sim.shape
    if m < 3 or n < 1:
        raise ValueError(f"a similarity matrix of at least 3 anchors and 1 sample is needed; got {sim.shape}")
    rng = np.random.default_rng(seed)
    v = mccs(np.asarray(sim.sum(axis=1)).ravel() / n, form=form)
    mus, sigmas = np.empty(n_boot), np.empty(n_boot)
    for b in range(n_boot):
        weights = np.bincount(rng.integers(0, n, n), minlength=n).astype(np.float64)
        boot = mccs(np.clip(sim @ weights / n, 0.0, 1.0), form=form)[rng.integers(0, m, m)]
        mus[b], sigmas[b] = boot.mean(), boot.std(ddof=1)
    return (float(v.mean()), mus), (float(v.std(ddof=1)), sigmas)


def _population_replicates(values, n_boot, seed, form="code"):
    from scipy import sparse

    if sparse.issparse(values):
        return _two_way_replicates(values.tocsr(), form, n_boot, seed)
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size < 3 or not np.isfinite(v).all():
        raise ValueError(f"mccs_values must hold at least 3 finite values; got {v.size}")
    rng = np.random.default_rng(seed)
    mus, sigmas = np.empty(n_boot), np.empty(n_boot)
    for start in range(0, n_boot, 256):
        b = min(256, n_boot - start)
        sample = v[rng.integers(0, v.size, size=(b, v.size))]
        mus[start : start + b] = sample.mean(axis=1)
        sigmas[start : start + b] = sample.std(axis=1, ddof=1)
    return (float(v.mean()), mus), (float(v.std(ddof=1)), sigmas)


def bootstrap_population(mccs_values, *, n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> PopulationCI:
    """Percentile bootstrap intervals for mu and sigma (ddof = 1) of per-anchor MCCS, resampling A.

    Parameters
    ----------
    mccs_values : (m,) MCCS of the m anchors (m >= 3)
    n_boot, level, seed : as in :func:`bootstrap_mccs`

    Returns
    -------
    PopulationCI, one interval for mu and one for sigma
    """
    level, n_boot = _check_level_and_n_boot(level, n_boot)
    (mu, mus), (sigma, sigmas) = _population_replicates(mccs_values, n_boot, seed)
    return PopulationCI(mu=_interval(mu, mus, level), sigma=_interval(sigma, sigmas, level))


def _normal_difference(before, after, level) -> Difference:
    from statistics import NormalDist

    z = NormalDist().inv_cdf((1 + level) / 2)

    def side(est, boot):
        se = float(np.std(boot, ddof=1))
        return BootstrapCI(float(est), est - z * se, est + z * se, se, level, int(np.size(boot)))

    b, a = side(*before), side(*after)
    d = a.estimate - b.estimate
    se = float(np.hypot(a.se, b.se))
    p = 1.0 if se == 0 and d == 0 else (0.0 if se == 0 else 2 * (1 - NormalDist().cdf(abs(d) / se)))
    return Difference(before=b, after=a, estimate=d, lo=d - z * se, hi=d + z * se, p_value=float(p), level=level)


def compare_replicates(before, after, level: float = 0.95, *, method: str = "percentile") -> Difference:
    """*after - before* from two independent bootstrap distributions of one statistic.

    Parameters
    ----------
    before, after : ``(estimate, (n_boot,) replicates)`` of the statistic on each sample
    level : coverage of the intervals
    method : "percentile" (intervals and p-value from the replicates' quantiles; needs a few hundred
        replicates) or "normal" (estimate +- z * bootstrap s.e. and a normal p-value: for costly
        statistics with few replicates, such as a Fréchet distance on high-dimensional features)

    Returns
    -------
    Difference
    """
    check_option(method, ("percentile", "normal"), "method")
    if method == "normal":
        return _normal_difference(before, after, level)
    (est_b, boot_b), (est_a, boot_a) = before, after
    diff = boot_a - boot_b
    lo, hi = _percentile_interval(diff, level)
    n = diff.size
    tail = min(np.count_nonzero(diff <= 0), np.count_nonzero(diff >= 0))
    return Difference(
        before=_interval(est_b, boot_b, level),
        after=_interval(est_a, boot_a, level),
        estimate=est_a - est_b,
        lo=float(lo),
        hi=float(hi),
        p_value=float(min(1.0, 2 * (tail + 1) / (n + 1))),
        level=level,
    )


def compare_mccs(
    before, after, *, form: str = "code", n_boot: int = 2000, level: float = 0.95, seed: int = 0
) -> Difference:
    """MCCS of one fixed anchor on two independent sample sets: *after - before*, with intervals.

    Parameters
    ----------
    before, after : :class:`Contributions` (or (n,) per-sample similarities) of the anchor over
        each sample set, e.g. a fresh pool of the original model and one of the calibrated model
    form, n_boot, level, seed : as in :func:`bootstrap_mccs`

    Returns
    -------
    Difference
    """
    level, n_boot = _check_level_and_n_boot(level, n_boot)
    check_option(form, MCCS_FORMS, "form")
    return compare_replicates(
        _mccs_replicates(before, form, n_boot, seed), _mccs_replicates(after, form, n_boot, seed + 1), level
    )


def compare_population(
    before, after, *, form: str = "code", n_boot: int = 2000, level: float = 0.95, seed: int = 0
) -> dict[str, Difference]:
    """mu and sigma of MCCS over two independent pools: ``{"mu": Difference, "sigma": Difference}``.

    Parameters
    ----------
    before, after : each either the sparse (m, n) similarity matrix of a pool's anchors against its
        samples (:func:`similarity_matrix`; anchors and samples resampled: the honest comparison of two
        pools), or (m,) per-anchor MCCS values (anchors resampled, samples held fixed); m >= 3
    form : MCCS form (used with similarity matrices)
    n_boot, level, seed : as in :func:`bootstrap_population`
    """
    level, n_boot = _check_level_and_n_boot(level, n_boot)
    check_option(form, MCCS_FORMS, "form")
    b = _population_replicates(before, n_boot, seed, form)
    a = _population_replicates(after, n_boot, seed + 1, form)
    return {"mu": compare_replicates(b[0], a[0], level), "sigma": compare_replicates(b[1], a[1], level)}
