"""Bootstrap intervals for MCCS (paper 000, Eq. 7) and its population statistics (Eq. 8).

* :func:`bootstrap_mccs`: exact nonparametric bootstrap of MCCS(I') over the samples C for one
  anchor.  Only the per-sample similarity contributions ``s(d(I', c))`` (the summands of Eq. 6)
  are needed, and all but a few are 0 (``d >= theta``), so a bootstrap resample is drawn as a
  multinomial over the k non-zero contributions plus one cell for the zeros: exactly the
  distribution of ``mean(s[idx])`` with ``idx`` drawn uniformly with replacement, at O(k) per
  replicate instead of O(|C|).
* :func:`bootstrap_population`: percentile intervals for mu and sigma of MCCS over the anchors
  (resampling A, C held fixed).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import check_fraction, check_int, check_option, check_theta
from ..distance import cos_threshold, distance_from_cos, similarity, validate_unit
from .mccs import MCCS_FORMS, mccs

__all__ = ["BootstrapCI", "PopulationCI", "bootstrap_mccs", "bootstrap_population", "similarity_contributions"]


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


def _check_level_and_n_boot(level, n_boot) -> tuple[float, int]:
    # fewer than 100 replicates make the tails of a percentile interval mostly noise
    return check_fraction(level, "level"), check_int(n_boot, "n_boot", minimum=100)


def _percentile_interval(boot, level):
    """The (1 - level)/2 and (1 + level)/2 quantiles of the bootstrap replicates."""
    q = (1 - level) / 2
    return np.quantile(boot, [q, 1 - q])


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


def _bootstrap_means(values, n_boot, rng, batch=256):
    """Exact bootstrap distribution of mean(values) via a multinomial over the non-zero values."""
    n = values.shape[0]
    nz = values[values != 0]
    k = nz.shape[0]
    if k == 0:
        return np.zeros(n_boot)
    pvals = np.append(np.full(k, 1.0 / n), (n - k) / n)
    pvals[-1] = max(0.0, 1.0 - pvals[:-1].sum())
    means = np.empty(n_boot)
    for start in range(0, n_boot, batch):
        b = min(batch, n_boot - start)
        w = rng.multinomial(n, pvals, size=b)[:, :k]
        means[start : start + b] = (w @ nz) / n
    return means


def bootstrap_mccs(
    anchor,
    samples,
    *,
    theta: float,
    form: str = "code",
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> BootstrapCI:
    """Percentile bootstrap interval for MCCS(anchor) over the samples C.

    Resamples C with replacement (exactly, via a multinomial over the non-zero
    similarity contributions).  MCCS is increasing in the mean similarity, so the
    percentile interval of MCCS is MCCS of the percentile interval of the mean.

    The interval is for a *fixed* anchor.  For I_w selected on the same C it can
    under-cover (the winner's curse; small in notebook 02's planted world, where I_w sits
    well inside the planted identity); to be safe, select I_w on the anchors (Algorithm 1)
    or on one half of the samples and bootstrap on the other.

    Parameters
    ----------
    anchor : (D,) or (1, D) unit vector I'
    samples : (n, D) unit vectors, or an iterable of shards (the set C)
    theta : kernel width of the similarity (Eq. 3)
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
    s = similarity_contributions(anchor, samples, theta)
    means = _bootstrap_means(s, n_boot, np.random.default_rng(seed))
    boot = mccs(means, form=form)
    lo, hi = _percentile_interval(boot, level)
    finite = boot[np.isfinite(boot)]
    return BootstrapCI(
        estimate=float(mccs(s.mean(), form=form)),
        lo=float(lo),
        hi=float(hi),
        se=float(finite.std(ddof=1)) if finite.size > 1 else float("nan"),
        level=level,
        n_boot=n_boot,
    )


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
    v = np.asarray(mccs_values, dtype=np.float64).ravel()
    if v.size < 3 or not np.isfinite(v).all():
        raise ValueError(f"mccs_values must hold at least 3 finite values; got {v.size}")
    rng = np.random.default_rng(seed)
    mus, sigmas = np.empty(n_boot), np.empty(n_boot)
    for start in range(0, n_boot, 256):
        b = min(256, n_boot - start)
        sample = v[rng.integers(0, v.size, size=(b, v.size))]
        mus[start : start + b] = sample.mean(axis=1)
        sigmas[start : start + b] = sample.std(axis=1, ddof=1)

    def ci(est, boot):
        lo, hi = _percentile_interval(boot, level)
        return BootstrapCI(float(est), float(lo), float(hi), float(boot.std(ddof=1)), level, n_boot)

    return PopulationCI(mu=ci(v.mean(), mus), sigma=ci(v.std(ddof=1), sigmas))
