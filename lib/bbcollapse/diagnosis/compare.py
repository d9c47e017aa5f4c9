"""Calibration evaluated on fresh pools: a model before and after, each with intervals (paper 000, section 4.4).

The paper reports MCCS of the old worst case I_w, (mu, sigma) of MCCS and FID before and after
each calibrator.  Scoring "before" on the pool that *selected* I_w biases it upward, so any
fresh "after" looks like a drop (regression to the mean).  Here the evaluation is honest:

* I_w is selected elsewhere (on a selection pool of the original model), then scored on a
  **fresh pool of the original model** and on a **fresh pool of the calibrated model** of the
  same size;
* each pool is diagnosed the same way (:func:`~bbcollapse.diagnose_embeddings`: the pool's own
  worst case I'_w selected on its first half, scored on its second half);
* every quantity -- MCCS of the old I_w, MCCS of each pool's worst case, mu, sigma and a quality
  distance to a reference -- comes with a bootstrap interval on each side and a two-sample
  comparison *after - before* (:class:`~bbcollapse.stats.Difference`: interval and p-value);
  mu and sigma resample the anchors and the samples of each pool (a two-way bootstrap: every
  anchor shares the pool's samples, so holding them fixed would understate the difference's noise).

:func:`compare_models` takes embeddings (and features for quality); :func:`evaluate_calibration`
draws the pools from two samplers on seed streams disjoint from :func:`~bbcollapse.diagnose`'s.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import check_int
from ..distance import validate_unit
from ..stats import (
    BootstrapCI,
    Contributions,
    Difference,
    compare_mccs,
    compare_population,
    compare_replicates,
    similarity_contributions,
    similarity_matrix,
)
from .config import DiagnoseConfig, resolve_config
from .core import diagnose_embeddings, embed_set
from .report import Report

__all__ = ["ModelComparison", "compare_models", "evaluate_calibration", "frechet_comparison", "EVAL_STREAMS"]

#: Seed streams of the evaluation pools: (anchors, samples) of the original and of the calibrated model.
EVAL_STREAMS = {"before": ((20,), (21,)), "after": ((22,), (23,))}


@dataclass(frozen=True)
class ModelComparison:
    """A model before and after calibration, each on its own fresh pool of equal size.

    Attributes
    ----------
    old_worst : MCCS of the fixed old worst case I_w on each pool's samples
    new_worst : MCCS of each pool's own worst case (selected on the pool's first half, scored on its second)
    mu, sigma : population statistics of MCCS over each pool's anchors
    quality : {name: Difference} of quality distances to a reference (smaller is better), may be empty
    before, after : the two pools' Reports
    n_anchors, n_samples : |A| and |C| of each pool
    """

    old_worst: Difference
    new_worst: Difference
    mu: Difference
    sigma: Difference
    quality: dict
    before: Report
    after: Report
    n_anchors: int
    n_samples: int

    def rows(self) -> dict[str, Difference]:
        """Every comparison by name: old_worst, new_worst, mu, sigma, then the quality distances."""
        return {
            "old_worst": self.old_worst,
            "new_worst": self.new_worst,
            "mu": self.mu,
            "sigma": self.sigma,
            **self.quality,
        }

    def to_dict(self) -> dict:
        """JSON-able: for each comparison, before/after estimates and intervals, the difference and p."""

        def ci(c: BootstrapCI) -> dict:
            return {"estimate": c.estimate, "lo": c.lo, "hi": c.hi}

        out = {
            name: {
                "before": ci(d.before),
                "after": ci(d.after),
                "difference": d.estimate,
                "difference_ci": [d.lo, d.hi],
                "p_value": d.p_value,
                "level": d.level,
            }
            for name, d in self.rows().items()
        }
        out["n_anchors"], out["n_samples"] = self.n_anchors, self.n_samples
        out["new_worst_index"] = {"before": int(self.before.worst), "after": int(self.after.worst)}
        return out

    def __repr__(self):
        body = ", ".join(f"{name}={d!r}" for name, d in self.rows().items())
        return f"ModelComparison(|A|={self.n_anchors}, |C|={self.n_samples}, {body})"


def _frechet_replicates(reference, features, n_boot: int, rng) -> tuple[float, np.ndarray]:
    """Fréchet distance of ``features`` to ``reference`` and its bootstrap replicates (features resampled).

    ``Tr (S_r S)^{1/2} = sum sqrt(eig(R S R))`` with ``R = S_r^{1/2}`` (symmetric; one eigh for the
    reference), and ``R S R = Y_c^T Y_c / (n - 1)`` for ``Y = X R``: each replicate resamples the rows
    of X and Y and solves the smaller of the (F, F) and (n, n) symmetric eigenproblems.
    """
    ref = np.asarray(reference, dtype=np.float64)
    x = np.asarray(features, dtype=np.float64)
    mu_r, cov_r = ref.mean(axis=0), np.atleast_2d(np.cov(ref, rowvar=False))
    w, v = np.linalg.eigh(cov_r)
    y = x @ ((v * np.sqrt(np.clip(w, 0, None))) @ v.T)
    tr_r = float(np.trace(cov_r))

    def distance(idx):
        xs, ys = x[idx], y[idx]
        mu = xs.mean(axis=0)
        xc, yc = xs - mu, ys - ys.mean(axis=0)
        gram = yc @ yc.T if len(idx) <= yc.shape[1] else yc.T @ yc
        ev = np.linalg.eigvalsh(gram / (len(idx) - 1))
        tr = float(np.einsum("ij,ij->", xc, xc)) / (len(idx) - 1)
        return float((mu - mu_r) @ (mu - mu_r) + tr_r + tr - 2 * np.sqrt(np.clip(ev, 0, None)).sum())

    boot = np.array([distance(rng.integers(0, len(x), len(x))) for _ in range(n_boot)])
    return distance(np.arange(len(x))), boot


def frechet_comparison(
    reference, before, after, *, n_boot: int = 50, level: float = 0.95, seed: int = 0, method: str = "normal"
) -> Difference:
    """Fréchet distance to ``reference`` of two feature sets, *after - before*, with bootstrap intervals.

    Each replicate costs a covariance (n F^2) and one F x F eigenproblem, so few replicates are
    affordable: the default intervals are normal-theory (estimate +- 1.96 bootstrap s.e.; 50
    replicates estimate the s.e. to about 10%).

    Parameters
    ----------
    reference : (n_r, F) features of a reference set (held fixed: it is the yardstick)
    before, after : (n, F) and (n', F) features of the two pools (resampled independently)
    n_boot, level, seed : replicates, coverage and seed
    method : "normal" (default) or "percentile" (see :func:`bbcollapse.stats.compare_replicates`)
    """
    n_boot = check_int(n_boot, "n_boot", minimum=20)
    rng = np.random.default_rng(seed)
    b = _frechet_replicates(reference, before, n_boot, rng)
    a = _frechet_replicates(reference, after, n_boot, rng)
    return compare_replicates(b, a, level, method=method)


def compare_models(
    before,
    after,
    *,
    worst,
    quality: dict | None = None,
    config: DiagnoseConfig | None = None,
    n_boot: int = 2000,
    n_boot_quality: int = 50,
    level: float = 0.95,
    **overrides,
) -> ModelComparison:
    """Compare the original and the calibrated model on fresh pools of equal size.

    Parameters
    ----------
    before, after : (anchors (m, D), samples (n, D)) unit vectors: fresh pools of the original and of the
        calibrated model, independent of the pool that selected ``worst``; equal m and equal n
    worst : (D,) the old worst case I_w (its embedding)
    quality : optional ``{name: (reference (n_r, F), before (n, F), after (n', F))}`` features for
        Fréchet distances to a reference, e.g. descriptor or EfficientNet-lite0 features
    config : DiagnoseConfig of the per-pool diagnoses (theta, r, form, seed, ...); keywords override it
    n_boot, n_boot_quality, level : bootstrap replicates (MCCS and population; quality) and coverage

    Returns
    -------
    ModelComparison
    """
    config, engine_kwargs = resolve_config(config, overrides)
    (a0, c0), (a1, c1) = before, after
    if len(a0) != len(a1) or len(c0) != len(c1):
        raise ValueError(
            f"compare pools of equal size: |A| {len(a0)} vs {len(a1)}, |C| {len(c0)} vs {len(c1)} "
            "(MCCS of a maximum and Fréchet distances depend on the sample size)"
        )
    worst = validate_unit(np.atleast_2d(worst), "worst")
    reports = [diagnose_embeddings(a, c, config=config, **engine_kwargs) for a, c in ((a0, c0), (a1, c1))]
    theta, form, seed = config.theta, config.form, config.seed
    boot = dict(form=form, n_boot=n_boot, level=level, seed=seed)

    def contributions(anchor, samples) -> Contributions:
        return Contributions.of(similarity_contributions(anchor, samples, theta))

    old = compare_mccs(contributions(worst, c0), contributions(worst, c1), **boot)
    new = compare_mccs(
        *(contributions(a[r.worst], c[r.n_select :]) for (a, c), r in zip(((a0, c0), (a1, c1)), reports)), **boot
    )
    sims = [similarity_matrix(a, c, theta) for a, c in ((a0, c0), (a1, c1))]  # anchors and samples resampled
    pop = compare_population(*sims, form=form, n_boot=n_boot, level=level, seed=seed)
    qual = {
        name: frechet_comparison(ref, fb, fa, n_boot=n_boot_quality, level=level, seed=seed)
        for name, (ref, fb, fa) in (quality or {}).items()
    }
    return ModelComparison(
        old_worst=old,
        new_worst=new,
        mu=pop["mu"],
        sigma=pop["sigma"],
        quality=qual,
        before=reports[0],
        after=reports[1],
        n_anchors=len(a0),
        n_samples=len(c0),
    )


def evaluate_calibration(
    original,
    calibrated,
    descriptor,
    *,
    worst,
    n_anchors: int,
    n_samples: int,
    seed: int = 0,
    shard_size: int = 4096,
    **kwargs,
) -> ModelComparison:
    """:func:`compare_models` on pools drawn from two samplers (seed streams :data:`EVAL_STREAMS`).

    Parameters
    ----------
    original, calibrated : Samplers ``(seed, n) -> Batch(z, x)`` (a calibrator returns one)
    descriptor : ``x -> (n, D)`` unit vectors (the same for both: it must not change with the model)
    worst : (D,) the old I_w, selected on a sample of the original model drawn elsewhere
        (e.g. :func:`~bbcollapse.diagnose`'s, whose streams these pools do not share)
    n_anchors, n_samples : |A| and |C| of each pool
    seed, shard_size : seed of the pools and samples drawn at a time
    kwargs : passed to :func:`compare_models` (theta, r, form, n_boot, ...)
    """
    pools = []
    for model, name in ((original, "before"), (calibrated, "after")):
        (sa, sc), draw = (
            EVAL_STREAMS[name],
            dict(sampler=model, descriptor=descriptor, seed=seed, shard_size=shard_size),
        )
        pools.append((embed_set(n=n_anchors, stream=sa, **draw), embed_set(n=n_samples, stream=sc, **draw)))
    return compare_models(pools[0], pools[1], worst=worst, seed=seed, **kwargs)
