"""An Inception-Score analogue from any classifier's class probabilities (Salimans et al. 2016).

Not an equation of paper 000; seed 003 defines the Inception Score as
``IS = exp( mean_i KL(p(y | x_i) || p_hat(y)) )`` with ``p_hat(y) = mean_i p(y | x_i)``, on
Inception-v3's 1000 ImageNet classes.  Inception-v3 cannot run here (no weights offline), so the
score is computed on the class probabilities of a classifier the caller names (for the lab,
"Fashion IS": the lab's Fashion-MNIST classifier) and never called "IS" alone.  Its range is
[1, K]: 1 when every sample gets the same distribution, K when the predictions are confident and
the K classes equally used.  As is customary the samples can be cut into ``splits`` parts, and the
mean and standard deviation of the per-split scores are reported beside the score on all samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import check_int
from .result import MetricResult

__all__ = ["ClassifierScore", "inception_score_analogue"]


@dataclass(frozen=True, repr=False)
class ClassifierScore(MetricResult):
    """exp(mean KL(p(y|x) || p(y))) on a named classifier's probabilities, over all samples and per split."""

    value: float
    split_mean: float
    split_std: float
    splits: int
    n: int
    n_classes: int
    classifier: str

    @property
    def name(self) -> str:
        return f"Inception Score analogue on {self.classifier}"


def _score(p: np.ndarray) -> float:
    marginal = p.mean(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * (np.log(p) - np.log(marginal)[None, :]), 0.0)
    return float(np.exp(terms.sum(axis=1).mean()))


def inception_score_analogue(probabilities, *, classifier: str, splits: int = 1, atol: float = 1e-4):
    """The Inception Score formula on a named classifier's class probabilities.

    Parameters
    ----------
    probabilities : (n, K) rows of class probabilities (non-negative, each summing to 1 within ``atol``)
    classifier : what produced them, for the result's name (e.g. "the lab's Fashion-MNIST classifier")
    splits : number of consecutive equal parts for the per-split mean and standard deviation
    atol : tolerance on the row sums (rows are renormalised exactly after the check)

    Returns
    -------
    ClassifierScore
    """
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] < 2 or p.shape[1] < 2:
        raise ValueError(f"probabilities must be (n >= 2, K >= 2); got shape {p.shape}")
    if not np.isfinite(p).all() or (p < 0).any():
        raise ValueError("probabilities must be finite and non-negative")
    sums = p.sum(axis=1)
    if np.abs(sums - 1).max() > atol:
        raise ValueError(f"each row of probabilities must sum to 1 (max deviation {np.abs(sums - 1).max():.3g})")
    p = p / sums[:, None]
    k = check_int(splits, "splits", minimum=1)
    if k > len(p) // 2:
        raise ValueError(f"splits must leave at least 2 samples per split; got {k} for n = {len(p)}")
    per_split = [_score(part) for part in np.array_split(p, k)]
    return ClassifierScore(
        value=_score(p),
        split_mean=float(np.mean(per_split)),
        split_std=float(np.std(per_split, ddof=1)) if k > 1 else 0.0,
        splits=k,
        n=len(p),
        n_classes=p.shape[1],
        classifier=str(classifier),
    )
