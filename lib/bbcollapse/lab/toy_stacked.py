"""Stacked Fashion-MNIST: seed 002's Stacked-MNIST protocol (after VEEGAN and PacGAN) on Fashion-MNIST.

An image stacks three training items of Fashion-MNIST (not MNIST: no MNIST ships here) as the
three channels of one 3 x 28 x 28 image, drawn independently and uniformly, so there are
10^3 = 1,000 class combinations ("modes"), each of probability 1/1000. A generated image is
labelled channel by channel by the lab's classifier (:mod:`bbcollapse.lab.classifier`), and

* **modes covered** is the number of combinations with at least one generated image;
* **reverse KL** is ``KL(q || p) = sum_c q_c log(q_c / p_c)`` over the combinations, with q the
  generated images' label frequencies and p = 1/1000 the data's (by construction).

VEEGAN scores 26,000 generated images; the chapter says how many it scores at each scale. Real
stacked images, labelled the same way, give the floor that the classifier's own errors set.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import check_int
from ..blackbox.protocols import shard_seed
from .ring2d import scores_from_counts

__all__ = [
    "N_COMBINATIONS",
    "StackedScores",
    "combination_ids",
    "label_stacked",
    "stack_images",
    "score_stacked_model",
    "stacked_scores",
    "stacked_triples",
]

#: the sub-stream of a model's seed its evaluation images come from
EVAL_STREAM = 7

N_COMBINATIONS = 1000


def stacked_triples(n: int, seed: int, n_items: int = 60_000) -> np.ndarray:
    """(n, 3) int64 indices of the training items stacked into each image (uniform, independent)."""
    n = check_int(n, "n", minimum=1)
    return np.random.default_rng(seed).integers(0, check_int(n_items, "n_items", minimum=1), size=(n, 3))


def stack_images(items, triples) -> np.ndarray:
    """Stack items (N, 28, 28) uint8 by ``triples`` (n, 3) into float32 images (n, 3, 28, 28) in [0, 1]."""
    items = np.asarray(items)
    return items[np.asarray(triples)].astype(np.float32) / 255.0


def combination_ids(classes) -> np.ndarray:
    """(n, 3) channel classes in 0..9 -> (n,) combination ids ``100 a + 10 b + c``."""
    c = np.asarray(classes, dtype=np.int64)
    if c.ndim != 2 or c.shape[1] != 3 or c.min(initial=0) < 0 or c.max(initial=0) > 9:
        raise ValueError(f"classes must be (n, 3) integers in 0..9; got shape {c.shape}")
    return 100 * c[:, 0] + 10 * c[:, 1] + c[:, 2]


def label_stacked(images, predict) -> np.ndarray:
    """Combination ids of stacked images, each channel labelled by ``predict``.

    Parameters
    ----------
    images : (n, 3, 28, 28) float in [0, 1] (or (n, 2352), reshaped)
    predict : callable (m, 1, 28, 28) float32 -> (m,) classes in 0..9 (e.g. ``LabClassifier.predict``)

    Returns
    -------
    (n,) int64 combination ids in 0..999
    """
    x = np.asarray(images, dtype=np.float32).reshape(-1, 3, 28, 28)
    classes = np.asarray(predict(x.reshape(-1, 1, 28, 28))).reshape(-1, 3)
    return combination_ids(classes)


@dataclass(frozen=True)
class StackedScores:
    """Modes covered and reverse KL over the 1,000 combinations.

    Attributes
    ----------
    modes : combinations with at least one image
    reverse_kl : ``sum_c q_c log(1000 q_c)`` (KL of the generated frequencies from the uniform)
    counts : (1000,) images per combination
    """

    modes: int
    reverse_kl: float
    counts: np.ndarray

    def __repr__(self):
        n = int(self.counts.sum())
        return f"StackedScores(modes={self.modes}/{N_COMBINATIONS}, reverse_kl={self.reverse_kl:.3f}, n={n})"


def stacked_scores(ids) -> StackedScores:
    """Seed 002's Stacked-MNIST metrics from combination ids (n,)."""
    ids = np.asarray(ids, dtype=np.int64)
    if ids.ndim != 1 or ids.size == 0 or ids.min() < 0 or ids.max() >= N_COMBINATIONS:
        raise ValueError(f"ids must be a non-empty 1-D array of combination ids in 0..999; got shape {ids.shape}")
    counts = np.bincount(ids, minlength=N_COMBINATIONS)
    modes, _, reverse_kl = scores_from_counts(counts, ids.size)  # every image counts: the quality term is 1
    return StackedScores(modes, reverse_kl, counts)


def score_stacked_model(model, predict, n: int, *, block: int = 5_000) -> StackedScores:
    """Seed 002's metrics of a trained model on ``n`` fresh images (stream 7 of its seed), in blocks.

    Parameters
    ----------
    model : a trained model with ``.seed`` and ``.sampler()`` returning images (n, 3, 28, 28)
    predict : the channel classifier (e.g. ``LabClassifier.predict``)
    n : images scored
    """
    sampler, ids = model.sampler(), []
    for j, start in enumerate(range(0, check_int(n, "n", minimum=1), block)):
        ids.append(label_stacked(sampler(shard_seed(model.seed, EVAL_STREAM, j), min(block, n - start)).x, predict))
    return stacked_scores(np.concatenate(ids))
