"""The birthday-paradox test (Arora and Zhang 2017): near-duplicates within batches, and the support size.

Not an equation of paper 000, which cites the test (section 2.1) as one that "can detect severe
cases of mode collapse" but "heavily relies on human annotation".  Here the annotator is the
descriptor: two samples are duplicates when their normalised angular distance (Eq. 3) is at most
``radius`` (``cos >= cos(pi * radius)``, a tie counting as a duplicate, as everywhere in the package).

The samples are shuffled and cut into ``B`` disjoint batches of ``s``.  For a law that is uniform on
``N`` distinct points, each of the ``C(s, 2)`` pairs of a batch collides with probability ``1/N``,
so ``E[pairs per batch] = C(s, 2) / N`` and ``N_hat = C(s, 2) / mean pairs per batch`` estimates the
support size (infinite when no pair collides), and a batch holds at least one duplicate with
probability ``1 - prod_{i<s} (1 - i/N)``; Arora and Zhang's rule of thumb reads the support as about
``s^2`` when that probability is 1/2.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import check_int, check_unit_interval
from ..distance import cos_threshold
from .features import check_features
from .result import MetricResult

__all__ = ["BirthdayTest", "birthday_test", "collision_probability"]


@dataclass(frozen=True, repr=False)
class BirthdayTest(MetricResult):
    """Near-duplicate pairs within disjoint batches of ``batch_size`` samples, and the support estimate."""

    batch_size: int
    n_batches: int
    radius: float
    duplicate_rate: float
    pairs_per_batch: float
    support: float
    features: str

    @property
    def value(self) -> float:
        """Mean duplicate pairs per batch (finite, rises with collapse; ``support`` is C(s, 2) over it)."""
        return self.pairs_per_batch

    @property
    def name(self) -> str:
        return (
            f"birthday test (batches of {self.batch_size}, duplicates within d <= {self.radius:.3g}) on {self.features}"
        )


def collision_probability(support: float, batch_size: int) -> float:
    """P(at least one duplicate among ``batch_size`` draws from ``support`` equally likely points)."""
    s = check_int(batch_size, "batch_size", minimum=2)
    if s > support:
        return 1.0
    i = np.arange(1, s)
    return float(1.0 - np.exp(np.sum(np.log1p(-i / float(support)))))


def birthday_test(samples, *, batch_size: int, radius: float, seed: int = 0, features: str = "unnamed features"):
    """Duplicates within random disjoint batches of ``batch_size`` samples, and the support-size estimate.

    Parameters
    ----------
    samples : (n, d) features (rows scaled to unit length; compared by normalised angular distance)
    batch_size : s, samples per batch (2 <= s <= n); the n mod s samples left over are not used
    radius : two samples are duplicates when d <= radius
    seed : seed of the shuffle into batches
    features : what the features are, for the result's name

    Returns
    -------
    BirthdayTest
    """
    x = check_features(samples, "samples")
    s = check_int(batch_size, "batch_size", minimum=2)
    if s > len(x):
        raise ValueError(f"batch_size must be at most the number of samples ({len(x)}); got {s}")
    radius = float(check_unit_interval(radius, "radius")[0])
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    if (norms == 0).any():
        raise ValueError("samples contains a zero row")
    x = x / norms
    b = len(x) // s
    order = np.random.default_rng(seed).permutation(len(x))[: b * s].reshape(b, s)
    c = cos_threshold(radius)
    upper = np.triu(np.ones((s, s), bool), k=1)
    pairs = np.array([int(((x[idx] @ x[idx].T >= c) & upper).sum()) for idx in order])
    mean_pairs = float(pairs.mean())
    return BirthdayTest(
        batch_size=s,
        n_batches=b,
        radius=radius,
        duplicate_rate=float((pairs > 0).mean()),
        pairs_per_batch=mean_pairs,
        support=float(s * (s - 1) / 2 / mean_pairs) if mean_pairs > 0 else float("inf"),
        features=str(features),
    )
