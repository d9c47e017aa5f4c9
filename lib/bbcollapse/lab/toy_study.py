"""Scoring the 2-D world's models: seed 004's Table 1 metrics over seeds, and MCCS where the truth is known.

* :func:`score_model` samples a trained model (seed 004 scores 50K ring / 100K grid samples) and
  returns :class:`~bbcollapse.lab.ring2d.ModeScores`; :func:`mean_sd` summarises a metric over
  seeds as seed 004's Table 1 does (mean and standard deviation, here the sample sd, ddof = 1).
* :func:`within_mode_spread`: an exact intra-mode diagnostic this world allows: for each mode,
  the smallest spread of its high-quality points about the true mean, in units of sd (0.974 for
  the true mixture, near 0 for a mode collapsed to a point or a curve).
* :func:`worst_case_mccs`: the paper's diagnosis (000, Eqs. 7 and 9) on 2-D points through a
  descriptor: I_w selected on one sample S (``argmax_A N(I', S, r)``), its MCCS scored on a
  fresh sample T with a bootstrap interval (seed 001's S/T split, so the winner's curse does not
  inflate the score), and (mu, sigma) of MCCS over the anchors on T.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import check_int
from ..blackbox.protocols import shard_seed
from ..neighbors import neighbor_stats
from ..stats.bootstrap import BootstrapCI, bootstrap_mccs
from ..stats.mccs import mccs, population
from ..stats.modes import neighbor_counts, worst_index
from .ring2d import Mixture2D, ModeScores, assign_modes, bootstrap_mode_scores, mode_scores

__all__ = [
    "SEED002_STACKED_MNIST",
    "SEED004_TABLE1",
    "WorstCaseMCCS",
    "intra_mode_report",
    "mean_sd",
    "score_model",
    "summarise_scores",
    "within_mode_spread",
    "worst_case_mccs",
]

#: Seed 004's Table 1 (the paper's numbers, typed once): method -> benchmark -> metric -> (mean, sd);
#: quality in percent, over 5 runs of 24K mini-batches
SEED004_TABLE1 = {
    "gan": {"ring": {"modes": (3.6, 0.5), "quality": (98.8, 0.6), "reverse_kl": (0.92, 0.11)},
            "grid": {"modes": (18.4, 1.6), "quality": (98.0, 0.4), "reverse_kl": (0.75, 0.25)}},
    "bigan": {"ring": {"modes": (6.8, 1.0), "quality": (38.6, 9.5), "reverse_kl": (0.43, 0.18)},
              "grid": {"modes": (24.2, 1.2), "quality": (83.4, 2.9), "reverse_kl": (0.26, 0.20)}},
    "unrolled": {"ring": {"modes": (6.4, 2.2), "quality": (98.6, 0.5), "reverse_kl": (0.42, 0.53)},
                 "grid": {"modes": (8.2, 1.7), "quality": (98.7, 0.6), "reverse_kl": (1.27, 0.17)}},
    "veegan": {"ring": {"modes": (5.4, 1.2), "quality": (38.8, 16.7), "reverse_kl": (0.40, 0.10)},
               "grid": {"modes": (20.0, 2.6), "quality": (85.0, 5.9), "reverse_kl": (0.41, 0.10)}},
    "invertgan": {"ring": {"modes": (8.0, 0.0), "quality": (99.0, 0.2), "reverse_kl": (0.17, 0.06)},
                  "grid": {"modes": (25.0, 0.0), "quality": (98.0, 0.4), "reverse_kl": (0.26, 0.12)}},
}  # fmt: skip

#: Seed 002's Table 1, Stacked MNIST (the paper's numbers): method -> (modes (mean, sd), reverse KL (mean, sd))
SEED002_STACKED_MNIST = {
    "gan": ((133.4, 17.70), (2.97, 0.216)),
    "pacgan": ((1000.0, 0.0), (0.06, 0.003)),  # PacGAN2
    "pgmgan": ((1000.0, 0.0), (0.02, 0.003)),
}

#: the sub-stream of a model's seed its evaluation samples come from
EVAL_STREAM = 7


def score_model(model, spec: Mixture2D | None = None, n: int | None = None) -> ModeScores:
    """Seed 004's metrics of one trained model on ``n`` fresh samples (default: the seed's 50K / 100K).

    Non-finite samples (a diverged model) count as low quality.
    """
    spec = model.config.spec if spec is None else spec
    n = spec.n_eval if n is None else check_int(n, "n", minimum=1)
    x = np.asarray(model.sampler()(shard_seed(model.seed, EVAL_STREAM), n).x, dtype=np.float64)
    x[~np.isfinite(x).all(axis=1)] = 1e6  # far from every mode: low quality
    return mode_scores(x, spec)


def summarise_scores(scores) -> dict:
    """Seed 004's Table 1 entries from one method's per-seed :class:`ModeScores`.

    Returns
    -------
    dict: "modes", "quality" (percent), "reverse_kl", "reverse_kl_normalised" -> (mean, sd over seeds);
    "per_seed" -> the per-seed (modes, quality, reverse KL); "all_modes" -> how many seeds cover every mode
    """
    scores = list(scores)
    return {
        "modes": mean_sd([s.modes for s in scores]),
        "quality": mean_sd([100.0 * s.quality for s in scores]),
        "reverse_kl": mean_sd([s.reverse_kl for s in scores]),
        "reverse_kl_normalised": mean_sd([s.reverse_kl_normalised for s in scores]),
        "per_seed": [(s.modes, 100.0 * s.quality, s.reverse_kl) for s in scores],
        "all_modes": int(sum(s.modes == s.counts.size for s in scores)),
    }


def mean_sd(values) -> tuple[float, float]:
    """(mean, sample standard deviation with ddof = 1; 0 for one value) of a metric over seeds."""
    v = np.asarray(values, dtype=np.float64)
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0


def within_mode_spread(x, spec: Mixture2D) -> np.ndarray:
    """Per mode, the smallest spread of its high-quality points about the true mean, in units of sd.

    The square root of the smallest eigenvalue of ``mean((x - mean)(x - mean)^T) / sd^2`` over the
    mode's high-quality points: it falls when a mode shrinks or flattens onto a curve.

    Parameters
    ----------
    x : (n, 2) points
    spec : the mixture

    Returns
    -------
    (m,) float64; for the true mixture ``sqrt(1 - 4.5 e^-4.5 / (1 - e^-4.5)) = 0.9744`` per axis
    (only points within 3 sd count), 0.1 for a mode collapsed to one point with 0.1 sd jitter,
    nan for an empty mode. It is blind to a mode collapsed onto a few prototypes spread like the
    truth (see :class:`~bbcollapse.lab.ring2d.PlantedIntraMode`); MCCS is not.
    """
    x = np.asarray(x, dtype=np.float64)
    nearest, good = assign_modes(x, spec)
    out = np.full(spec.m, np.nan)
    for i in range(spec.m):
        u = (x[good & (nearest == i)] - spec.means[i]) / spec.sd
        if len(u) >= 2:
            out[i] = np.sqrt(max(np.linalg.eigvalsh(u.T @ u / len(u))[0], 0.0))
    return out


@dataclass(frozen=True)
class WorstCaseMCCS:
    """MCCS of the worst-case dense anchor, selected on S and scored on a fresh T.

    Attributes
    ----------
    worst : index of I_w among the anchors
    point : (2,) the anchor's 2-D point
    mode : the mode nearest to I_w
    count : N(I_w, S, r), the count that selected it
    mccs_worst : bootstrap interval of MCCS(I_w) over T (code form unless ``form`` said otherwise)
    mu, sigma : MCCS of all anchors over T, mean and sample sd (Eq. 8)
    sizes : (|A|, |S|, |T|)
    """

    worst: int
    point: np.ndarray
    mode: int
    count: int
    mccs_worst: BootstrapCI
    mu: float
    sigma: float
    sizes: tuple[int, int, int]

    def __repr__(self):
        return (
            f"WorstCaseMCCS(I_w in mode {self.mode}, N(I_w, S, r)={self.count}, "
            f"MCCS(I_w) on T={self.mccs_worst.estimate:.3f} [{self.mccs_worst.lo:.3f}, {self.mccs_worst.hi:.3f}], "
            f"(mu, sigma)=({self.mu:.3f}, {self.sigma:.3f}), "
            f"|A|, |S|, |T| = {self.sizes})"
        )


def worst_case_mccs(
    sampler,
    descriptor,
    spec: Mixture2D,
    *,
    n_anchors: int,
    n_select: int,
    n_score: int,
    theta: float = 0.3,
    r: float = 0.25,
    form: str = "code",
    n_boot: int = 2000,
    seed: int = 0,
) -> WorstCaseMCCS:
    """Select I_w on S, score MCCS(I_w) on a fresh T (with a bootstrap interval), for a 2-D sampler.

    Parameters
    ----------
    sampler : ``sampler(seed, n) -> Batch(z, x)`` with x (n, 2)
    descriptor : (n, 2) points -> (n, D) unit vectors (e.g. RandomFourierFeatures)
    spec : the mixture (to name the mode I_w lies in)
    n_anchors, n_select, n_score : |A|, |S|, |T|, three independent draws (streams 0, 1, 2 of ``seed``)
    theta, r : MCCS kernel width and selection radius (the authors' code: 0.3 and 0.25)
    form : "code" or "paper" MCCS
    n_boot, seed : bootstrap replicates; the seed of the draws and of the bootstrap

    Returns
    -------
    WorstCaseMCCS
    """
    pa = np.asarray(sampler(shard_seed(seed, 0), check_int(n_anchors, "n_anchors", minimum=1)).x, dtype=np.float64)
    anchors = descriptor(pa)
    sel = descriptor(sampler(shard_seed(seed, 1), check_int(n_select, "n_select", minimum=1)).x)
    score = descriptor(sampler(shard_seed(seed, 2), check_int(n_score, "n_score", minimum=1)).x)
    counts = neighbor_counts(anchors, sel, r=r)
    w = worst_index(counts)
    ci = bootstrap_mccs(anchors[w], score, theta=theta, form=form, n_boot=n_boot, seed=seed)
    pop = population(mccs(neighbor_stats(anchors=anchors, samples=score, theta=theta), form=form))
    mode = int(assign_modes(pa[w : w + 1], spec)[0][0])
    return WorstCaseMCCS(w, pa[w], mode, int(counts[w]), ci, pop.mu, pop.sigma, (len(pa), len(sel), len(score)))


def intra_mode_report(
    sampler,
    spec: Mixture2D,
    descriptor,
    *,
    n_eval: int,
    n_anchors: int,
    n_select: int,
    n_score: int,
    theta: float = 0.3,
    r: float = 0.25,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict:
    """Seed 004's metrics and MCCS(I_w) of one sampler, each with a 95% bootstrap interval (JSON-ready).

    The metrics are computed on ``n_eval`` points (stream 3 of ``seed``), MCCS(I_w) by
    :func:`worst_case_mccs` (streams 0-2), so the four numbers come from independent samples.

    Returns
    -------
    dict: "modes", "quality", "reverse_kl", "mccs_worst" -> [estimate, lo, hi]; "spread" -> the
    per-mode :func:`within_mode_spread`; "worst_mode", "mu", "sigma", "count" of :class:`WorstCaseMCCS`
    """
    x = np.asarray(sampler(shard_seed(seed, 3), check_int(n_eval, "n_eval", minimum=1)).x, dtype=np.float64)
    cis = bootstrap_mode_scores(x, spec, n_boot=n_boot, seed=seed)
    wc = worst_case_mccs(
        sampler, descriptor, spec, n_anchors=n_anchors, n_select=n_select, n_score=n_score,
        theta=theta, r=r, n_boot=n_boot, seed=seed,
    )  # fmt: skip
    out = {k: [ci.estimate, ci.lo, ci.hi] for k, ci in cis.items()}
    out["mccs_worst"] = [wc.mccs_worst.estimate, wc.mccs_worst.lo, wc.mccs_worst.hi]
    out.update(
        spread=within_mode_spread(x, spec).tolist(), worst_mode=wc.mode, mu=wc.mu, sigma=wc.sigma, count=wc.count
    )
    return out
