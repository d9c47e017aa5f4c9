"""MCCS of the worst-case mode on fresh samples, and (mu, sigma), as one metric among the peers.

Paper 000, Eqs. 7-9: ``I_w = argmax_{I' in A} N(I', S, r)`` and ``MCCS(I_w)`` over samples; (mu, sigma)
of MCCS over the anchors (Eq. 8).  A maximum scored on the samples that chose it is biased upward,
so, as in seed 001's Algorithm 1, one sample set is cut into three disjoint random parts: anchors A,
a selection set S (chooses I_w) and a scoring set T (scores MCCS(I_w)).  (mu, sigma) need no
selection and use every non-anchor sample (S and T).  This module only arranges the split so that
the metrics chapter can call MCCS like any other metric; the statistics are :mod:`bbcollapse.stats`'.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import check_int, check_theta, check_unit_interval
from ..distance import validate_unit
from ..neighbors import neighbor_stats
from ..stats import mccs, neighbor_counts, population, worst_index
from .result import MetricResult

__all__ = ["WorstModeMCCS", "worst_mode_mccs"]


@dataclass(frozen=True, repr=False)
class WorstModeMCCS(MetricResult):
    """MCCS(I_w) with I_w selected on S and scored on a disjoint T; (mu, sigma) of MCCS over the anchors."""

    mccs_worst: float
    worst_count: int
    mu: float
    sigma: float
    n_anchors: int
    n_select: int
    n_score: int
    theta: float
    r: float
    form: str
    features: str

    @property
    def value(self) -> float:
        return self.mccs_worst

    @property
    def name(self) -> str:
        return f"MCCS(I_w) (selected on S, scored on T; theta={self.theta:.3g}, r={self.r:.3g}) on {self.features}"


def worst_mode_mccs(
    samples,
    *,
    theta: float,
    r: float,
    n_anchors: int,
    seed: int = 0,
    form: str = "code",
    features: str = "unnamed features",
    **engine_kwargs,
) -> WorstModeMCCS:
    """Cut ``samples`` into anchors A, a selection set S and a scoring set T; MCCS(I_w) and (mu, sigma).

    Parameters
    ----------
    samples : (n, D) unit vectors of one sample set of the model
    theta : width of the similarity kernel (Eq. 4)
    r : selection radius of I_w (Eq. 9)
    n_anchors : |A| (2 <= |A| <= n - 2); the other samples are split in halves S and T (|S| >= |T|)
    seed : seed of the random split
    form : MCCS form ("code" or "paper", see :func:`bbcollapse.mccs`)
    features : what the vectors are, for the result's name
    **engine_kwargs : passed to :func:`bbcollapse.neighbor_stats`

    Returns
    -------
    WorstModeMCCS
    """
    x = validate_unit(samples, "samples")
    theta, r = check_theta(theta), float(check_unit_interval(r, "r")[0])
    m = check_int(n_anchors, "n_anchors", minimum=2)
    if m > len(x) - 2:
        raise ValueError(f"n_anchors must leave at least 2 samples for S and T; got {m} of {len(x)}")
    order = np.random.default_rng(seed).permutation(len(x))
    rest = len(x) - m
    a, s, t = x[order[:m]], x[order[m : m + (rest + 1) // 2]], x[order[m + (rest + 1) // 2 :]]
    counts = neighbor_counts(a, s, r=r, **engine_kwargs)
    w = worst_index(counts)
    worst = float(mccs(neighbor_stats(a[w : w + 1], t, theta=theta, **engine_kwargs), form=form)[0])
    pop = population(mccs(neighbor_stats(a, np.concatenate([s, t]), theta=theta, **engine_kwargs), form=form))
    return WorstModeMCCS(
        mccs_worst=worst,
        worst_count=int(counts[w]),
        mu=pop.mu,
        sigma=pop.sigma,
        n_anchors=m,
        n_select=len(s),
        n_score=len(t),
        theta=theta,
        r=r,
        form=form,
        features=str(features),
    )
