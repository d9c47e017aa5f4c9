"""Paper 000's Table 1 for any set of generators, and whether its conclusions depend on the descriptor.

Table 1 of paper 000 gives, per face GAN, ``(mu, sigma)`` of MCCS over random anchors (Eq. 8)
and MCCS of the worst-case dense mode ``I_w`` (Eq. 9).  :func:`table1_row` computes one row the
way seed 001's Algorithm 1 separates selection from scoring:

* ``I_w = argmax_{I' in A} N(I', S, r)`` is selected on a sample set ``S``;
* its MCCS is scored on a fresh, independent sample set ``T`` (a maximum scored on the sample
  that chose it is biased upward), with a bootstrap interval over ``T``; the biased score on
  ``S`` is kept beside it to show the gap;
* ``(mu, sigma)`` are over the anchors' MCCS on ``T``, with bootstrap intervals over the anchors.

:func:`descriptor_agreement` compares two descriptors on the same images: the rank correlation
of per-anchor MCCS, whether they pick the same ``I_w`` (and where each one's ``I_w`` ranks under
the other), and :func:`ordering_agreement` whether they order the generators alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...distance import distance_from_cos
from ...neighbors import neighbor_stats
from ...stats import BootstrapCI, bootstrap_mccs, bootstrap_population, mccs, worst_index

__all__ = ["Table1Row", "table1_row", "descriptor_agreement", "ordering_agreement", "pairwise_agreement"]


@dataclass(frozen=True)
class Table1Row:
    """One row of the Table 1 analogue (MCCS in the chosen ``form``).

    Attributes
    ----------
    theta, r : kernel width and neighbour radius
    mu, sigma : mean and sd (ddof 1) of per-anchor MCCS on T, with bootstrap intervals over A
    worst : index in A of I_w (selected on S)
    worst_count : N(I_w, S, r)
    mccs_worst : MCCS(I_w) scored on T, with a bootstrap interval over T
    mccs_worst_on_selection : MCCS(I_w) on S (biased upward: the sample that selected it)
    mccs : (m,) per-anchor MCCS on T
    counts : (m,) per-anchor N(I', S, r)
    n_select, n_score : |S| and |T|
    """

    theta: float
    r: float
    mu: BootstrapCI
    sigma: BootstrapCI
    worst: int
    worst_count: int
    mccs_worst: BootstrapCI
    mccs_worst_on_selection: float
    mccs: np.ndarray
    counts: np.ndarray
    n_select: int
    n_score: int

    def summary(self) -> dict:
        """The row as plain JSON-able numbers (intervals as [lo, hi])."""
        return {
            "theta": self.theta,
            "r": self.r,
            "mu": self.mu.estimate,
            "mu_ci": [self.mu.lo, self.mu.hi],
            "sigma": self.sigma.estimate,
            "sigma_ci": [self.sigma.lo, self.sigma.hi],
            "worst_anchor": self.worst,
            "worst_count": self.worst_count,
            "mccs_worst": self.mccs_worst.estimate,
            "mccs_worst_ci": [self.mccs_worst.lo, self.mccs_worst.hi],
            "mccs_worst_on_selection": self.mccs_worst_on_selection,
            "median_count": float(np.median(self.counts)),
            "n_anchors": int(len(self.mccs)),
            "n_select": self.n_select,
            "n_score": self.n_score,
        }

    def __repr__(self):
        return (
            f"Table1Row(mu={self.mu.estimate:.3f} [{self.mu.lo:.3f}, {self.mu.hi:.3f}], "
            f"sigma={self.sigma.estimate:.3f}, "
            f"MCCS(I_w)={self.mccs_worst.estimate:.3f} [{self.mccs_worst.lo:.3f}, {self.mccs_worst.hi:.3f}] on T "
            f"({self.mccs_worst_on_selection:.3f} on S), |A|={len(self.mccs)}, |S|={self.n_select}, |T|={self.n_score})"
        )


def table1_row(
    anchors, select, score, *, theta: float, r: float, form: str = "code", n_boot: int = 2000, seed: int = 0
) -> Table1Row:
    """One Table 1 row: I_w selected on ``select`` (S), scored on ``score`` (T).

    Parameters
    ----------
    anchors : (m, D) unit vectors A (m >= 3)
    select : (n_S, D) unit vectors S, disjoint from A and T
    score : (n_T, D) unit vectors T, disjoint from A and S
    theta, r : kernel width (Eq. 4) and radius (Eq. 5)
    form : MCCS form, "code" or "paper"
    n_boot, seed : bootstrap replicates and seed

    Returns
    -------
    Table1Row
    """
    on_s = neighbor_stats(anchors, select, radii=(r,), theta=theta)
    on_t = neighbor_stats(anchors, score, theta=theta)
    counts = on_s.count_at(r)
    w = worst_index(counts)
    values = mccs(on_t.mean_similarity, form=form)
    pop = bootstrap_population(values, n_boot=n_boot, seed=seed)
    return Table1Row(
        theta=float(theta),
        r=float(r),
        mu=pop.mu,
        sigma=pop.sigma,
        worst=w,
        worst_count=int(counts[w]),
        mccs_worst=bootstrap_mccs(anchors[w], score, theta=theta, form=form, n_boot=n_boot, seed=seed),
        mccs_worst_on_selection=float(mccs(on_s.mean_similarity[w], form=form)),
        mccs=values,
        counts=counts,
        n_select=int(len(select)),
        n_score=int(len(score)),
    )


def descriptor_agreement(a: Table1Row, b: Table1Row) -> dict:
    """How two descriptors' rows on the same anchors and samples agree.

    Returns
    -------
    dict with ``spearman_mccs`` (rank correlation of per-anchor MCCS), ``spearman_counts``,
    ``same_worst`` (the same I_w), ``worst_a_percentile_under_b`` and ``worst_b_percentile_under_a``
    (the share of anchors whose count under the other descriptor is below that of this I_w).
    """
    from scipy.stats import spearmanr

    if len(a.mccs) != len(b.mccs):
        raise ValueError(f"rows must share their anchors; got {len(a.mccs)} and {len(b.mccs)}")

    def percentile(counts, i):
        return float((counts < counts[i]).mean())

    def rank_correlation(x, y):  # nan (no warning) where one side is constant
        return float(spearmanr(x, y).statistic) if np.ptp(x) > 0 and np.ptp(y) > 0 else float("nan")

    return {
        "spearman_mccs": rank_correlation(a.mccs, b.mccs),
        "spearman_counts": rank_correlation(a.counts, b.counts),
        "same_worst": bool(a.worst == b.worst),
        "worst_a_percentile_under_b": percentile(b.counts, a.worst),
        "worst_b_percentile_under_a": percentile(a.counts, b.worst),
    }


def pairwise_agreement(a, b) -> float:
    """Spearman correlation of all pairwise angular distances of the same n items under two descriptors.

    Parameters
    ----------
    a : (n, D1) unit vectors of n items under one descriptor
    b : (n, D2) unit vectors of the same items under another
    """
    from scipy.stats import spearmanr

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or len(a) != len(b) or len(a) < 3:
        raise ValueError(f"a and b must be (n >= 3, D) embeddings of the same items; got {a.shape} and {b.shape}")
    i, j = np.triu_indices(len(a), 1)
    return float(spearmanr(distance_from_cos((a[i] * a[j]).sum(1)), distance_from_cos((b[i] * b[j]).sum(1))).statistic)


def ordering_agreement(values_a, values_b) -> dict:
    """Whether two descriptors order generators alike: Kendall's tau and the two orders (indices, ascending)."""
    from scipy.stats import kendalltau

    va, vb = np.asarray(values_a, dtype=np.float64), np.asarray(values_b, dtype=np.float64)
    if va.shape != vb.shape or va.ndim != 1 or va.size < 2:
        raise ValueError(f"need two equal-length 1-D sequences of >= 2 values; got {va.shape} and {vb.shape}")
    return {
        "kendall_tau": float(kendalltau(va, vb).statistic),
        "order_a": np.argsort(va, kind="stable").tolist(),
        "order_b": np.argsort(vb, kind="stable").tolist(),
        "same_order": bool(np.array_equal(np.argsort(va, kind="stable"), np.argsort(vb, kind="stable"))),
    }
