"""Sample-size planning for MCCS (paper 000, Eq. 7) and its population statistics (Eq. 8).

Normal-approximation planning from a pilot run: the delta method on MCCS as a function of the
mean similarity (Eq. 6) for |C|, and the standard errors of the mean and of the standard
deviation for |A|.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._validation import check_fraction, check_option, check_positive
from .mccs import MCCS_FORMS, mccs

__all__ = ["AnchorPlan", "SamplePlan", "anchors_needed", "mccs_standard_error", "pilot_moments", "samples_needed"]


def _mccs_slope(m, form):
    """d MCCS / d mean_similarity, for both forms of Eq. 7."""
    m = np.asarray(m, dtype=np.float64)
    if form == "paper":
        return 1.0 / (m * (1.0 - np.log(m)) ** 2)
    return np.log(10.0) / (m * np.log(m) ** 2)


def mccs_standard_error(mean_similarity: float, sd_similarity: float, n_samples: int, *, form: str = "code") -> float:
    """Delta-method standard error of MCCS from |C| = n_samples samples.

    ``se = |dMCCS/dm| * sd(s) / sqrt(n)`` with m the mean similarity and sd(s) the
    standard deviation of one sample's similarity contribution.

    Parameters
    ----------
    mean_similarity : m, in (0, 1)
    sd_similarity : standard deviation of one sample's contribution ``s(d(I', c))``
    n_samples : |C|
    form : "code" or "paper" (see :func:`bbcollapse.mccs`)

    Returns
    -------
    float, the standard error on the MCCS scale
    """
    check_option(form, MCCS_FORMS, "form")
    m = float(mean_similarity)
    if not (0 < m < 1):
        raise ValueError(f"mean_similarity must be in (0, 1) for the delta method; got {mean_similarity}")
    return float(_mccs_slope(m, form) * float(sd_similarity) / np.sqrt(float(n_samples)))


@dataclass(frozen=True)
class SamplePlan:
    """How many samples |C| give MCCS(I') to +/- half_width at the given level."""

    n_samples: int
    half_width: float
    level: float
    mean_similarity: float
    sd_similarity: float
    mccs: float
    form: str

    def __repr__(self):
        return (
            f"SamplePlan(n_samples={self.n_samples}, MCCS={self.mccs:.4f} +/- {self.half_width} at "
            f"{100 * self.level:g}%, form={self.form!r})"
        )


@dataclass(frozen=True)
class AnchorPlan:
    """How many anchors |A| give mu and sigma of MCCS to the requested half-widths."""

    n_anchors_mu: int | None
    n_anchors_sigma: int | None
    mu: float
    sigma: float
    level: float

    @property
    def n_anchors(self) -> int:
        """The larger of the two requirements (those asked for)."""
        return int(max(v for v in (self.n_anchors_mu, self.n_anchors_sigma) if v is not None))

    def __repr__(self):
        return (
            f"AnchorPlan(n_anchors={self.n_anchors}, for mu={self.n_anchors_mu}, for sigma={self.n_anchors_sigma}, "
            f"pilot mu={self.mu:.4f}, sigma={self.sigma:.4f}, level={self.level})"
        )


def pilot_moments(pilot) -> tuple[int, float, float]:
    """(n, mean, sd with ddof=1) of a pilot's similarity contributions, dense or :class:`Contributions`."""
    if hasattr(pilot, "nonzero") and hasattr(pilot, "n"):  # Contributions: the zeros are implicit
        s, n = np.asarray(pilot.nonzero, dtype=np.float64).ravel(), int(pilot.n)
    else:
        s = np.asarray(pilot, dtype=np.float64).ravel()
        n = s.size
    if n < 2 or s.size > n or (s < 0).any() or (s > 1).any():
        raise ValueError("pilot_similarities must hold at least 2 similarity values in [0, 1]")
    m = float(s.sum() / n)
    var = (float(((s - m) ** 2).sum()) + (n - s.size) * m * m) / (n - 1)
    return n, m, math.sqrt(max(var, 0.0))


def samples_needed(pilot_similarities, *, half_width: float, level: float = 0.95, form: str = "code") -> SamplePlan:
    """|C| for a (level) interval of half-width ``half_width`` on MCCS(I'), from a pilot.

    Parameters
    ----------
    pilot_similarities : (n0,) per-sample contributions ``s(d(I', c))`` of a pilot run
        (:func:`similarity_contributions`), or their :class:`~bbcollapse.stats.Contributions` (non-zero
        values and the sample count, as a diagnosis keeps them)
    half_width : target half-width of the interval on the MCCS scale
    level : coverage of the interval, in (0, 1)
    form : "code" or "paper" (see :func:`bbcollapse.mccs`)

    Returns
    -------
    SamplePlan

    Notes
    -----
    ``n = (z * |dMCCS/dm| * sd(s) / half_width)^2`` (delta method, normal approximation).
    """
    level = check_fraction(level, "level")
    check_option(form, MCCS_FORMS, "form")
    _, m, sd = pilot_moments(pilot_similarities)
    check_positive(half_width, "half_width")
    if not (0 < m < 1):
        raise ValueError(
            f"the pilot's mean similarity is {m}; need some (but not all) samples within theta of the anchor"
        )
    from scipy import stats  # imported here: `import bbcollapse` stays free of scipy

    z = stats.norm.ppf(0.5 + level / 2)
    n = int(math.ceil((z * _mccs_slope(m, form) * sd / float(half_width)) ** 2))
    return SamplePlan(
        n_samples=max(n, 2),
        half_width=float(half_width),
        level=level,
        mean_similarity=m,
        sd_similarity=sd,
        mccs=float(mccs(m, form=form)),
        form=form,
    )


def anchors_needed(
    pilot_mccs, *, mu_half_width: float | None = None, sigma_half_width: float | None = None, level: float = 0.95
) -> AnchorPlan:
    """|A| for intervals of the requested half-widths on mu and/or sigma of MCCS, from a pilot.

    ``se(mu) = sigma / sqrt(n)``; ``se(sigma) = sqrt((m4 - sigma^4) / n) / (2 sigma)``
    (delta method on the sample variance; m4 the fourth central moment of the pilot).

    Parameters
    ----------
    pilot_mccs : (m0,) MCCS of the pilot's anchors (m0 >= 3)
    mu_half_width, sigma_half_width : target half-widths (give one or both)
    level : coverage of the intervals, in (0, 1)

    Returns
    -------
    AnchorPlan
    """
    level = check_fraction(level, "level")
    v = np.asarray(pilot_mccs, dtype=np.float64).ravel()
    if v.size < 3 or not np.isfinite(v).all():
        raise ValueError(f"pilot_mccs must hold at least 3 finite values; got {v.size}")
    if mu_half_width is None and sigma_half_width is None:
        raise ValueError("give mu_half_width and/or sigma_half_width")
    from scipy import stats  # imported here: `import bbcollapse` stays free of scipy

    z = stats.norm.ppf(0.5 + level / 2)
    mu, sigma = float(v.mean()), float(v.std(ddof=1))
    n_mu = n_sigma = None
    if mu_half_width is not None:
        check_positive(mu_half_width, "mu_half_width")
        n_mu = max(2, int(math.ceil((z * sigma / mu_half_width) ** 2)))
    if sigma_half_width is not None:
        check_positive(sigma_half_width, "sigma_half_width")
        if sigma == 0:
            raise ValueError("the pilot's sigma is 0; cannot plan a relative precision for sigma")
        m4 = float(np.mean((v - v.mean()) ** 4))
        n_sigma = max(3, int(math.ceil(z * z * max(m4 - sigma**4, 0.0) / (4 * sigma**2 * sigma_half_width**2))))
    return AnchorPlan(n_anchors_mu=n_mu, n_anchors_sigma=n_sigma, mu=mu, sigma=sigma, level=level)
