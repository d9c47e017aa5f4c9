"""The lab's experiments on trained generators: paper 000, §4.2 (correctness) and §4.3.2 (causes).

What chapters 10 and 11 need beyond the library's diagnosis and comparisons:

* :func:`lab_setup` -- the lab's descriptor, classifier, theta and r, and the Fréchet reference,
  computed exactly as chapter 6 computes them (same configurations, same seeds, so cached);
* :func:`generator_pool` / :func:`data_pool` -- anchors A and samples C of a generator (on two disjoint
  latent streams) or of the real training images (disjoint random subsets), embedded, with the
  classification-based checks of the first ``n_features`` samples;
* :func:`pool_numbers` -- ``bb.diagnose_embeddings`` of a pool (I_w selected on the first half S of C,
  scored on the fresh half T) and the numbers a table shows;
* :func:`versus` -- ``compare_models`` of two pools of equal size: every difference with an interval
  (e.g. a generator against the real data: "does collapse persist?");
* :func:`seed_spread` -- the spread of a statistic over training seeds, with a t interval for its mean;
* :func:`histogram_test` -- whether the lab classifier's class histograms of two models differ;
* :func:`nearest_repeated` -- whether a worst case I_w is one of the repeated training items (RIC-aug).

The statistics themselves (MCCS, Eqs. 7-9, bootstrap intervals) are the library's; nothing is re-derived here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .._validation import check_int
from ..blackbox import identity_of, shard_seed
from ..diagnosis import diagnose_embeddings
from ..diagnosis.compare import ModelComparison, compare_models
from ..distance import distance_from_cos, validate_unit
from .baseline import ClassMetrics, classifier_metrics, disjoint_indices, report_numbers

__all__ = [
    "LabSetup",
    "Pool",
    "lab_setup",
    "chapter_setup",
    "generator_pool",
    "data_pool",
    "pool_numbers",
    "versus",
    "seed_spread",
    "histogram_test",
    "nearest_repeated",
]


@dataclass(frozen=True)
class LabSetup:
    """The lab's measuring instruments.

    Attributes
    ----------
    encoder : the instance descriptor F_id (images -> (n, 128) unit vectors)
    classifier : the lab classifier
    theta, r : the similarity threshold (Eq. 3) and the worst-case radius (Eq. 9), chosen by the descriptor's rule
    reference_features : (k, F) classifier features of k test images (the Fréchet reference)
    x_train : (60000, 28, 28) uint8 training images
    """

    encoder: object
    classifier: object
    theta: float
    r: float
    reference_features: np.ndarray
    x_train: np.ndarray


def lab_setup(
    encoder_config,
    classifier_config,
    *,
    cache_dir,
    seed: int,
    n_items: int,
    n_views: int,
    n_reference: int,
    workers: int = 2,
):
    """The descriptor, classifier, (theta, r) and Fréchet reference, as chapter 6 draws them from ``seed``.

    The two networks come from :func:`~bbcollapse.lab.descriptors.train_descriptors` as in chapter 6
    (one thread each, ``workers`` processes when they must be trained), so a cold cache trains the
    same weights chapter 6 would. theta and r come from :func:`~bbcollapse.lab.encoder.view_invariance`
    on ``n_items`` test images (drawn with ``seed + 1``); the reference is ``n_reference`` test images
    (drawn with ``seed + 2``).
    """
    from .data import load_fashion_mnist
    from .descriptors import train_descriptors
    from .encoder import view_invariance

    encoder, classifier = train_descriptors(encoder_config, classifier_config, cache_dir=cache_dir, workers=workers)
    x_train = load_fashion_mnist("train")[0]
    x_test = load_fashion_mnist("test")[0]
    items = x_test[np.random.default_rng(seed + 1).choice(len(x_test), n_items, replace=False)]
    rule = view_invariance(encoder, items, seed=seed, n_views=n_views).theta_r
    ref = x_test[np.random.default_rng(seed + 2).choice(len(x_test), min(n_reference, len(x_test)), replace=False)]
    return LabSetup(encoder, classifier, rule.theta, rule.r, classifier.features(ref), x_train)


def chapter_setup(scale: str, sizes: dict, *, cache_dir, seed: int, workers: int, classifier_steps: int | None = None):
    """:func:`lab_setup` with chapter 6's descriptor settings at ``scale`` (``lab.config.DESCRIPTORS``).

    ``classifier_steps`` overrides the classifier's training steps (a chapter that says so in its text);
    ``sizes`` must hold ``fd_n`` (the Fréchet reference size).

    Returns
    -------
    (LabSetup, sizes with "enc", "clf" (steps, width) and chapter 6's "items", "views" added)
    """
    from .config import DESCRIPTORS, descriptor_configs

    encoder, classifier = descriptor_configs(scale)
    if classifier_steps is not None:
        classifier = replace(classifier, steps=classifier_steps)
    sizes = {
        **sizes,
        "enc": (encoder.steps, encoder.width),
        "clf": (classifier.steps, classifier.width),
        "items": DESCRIPTORS[scale]["items"],
        "views": DESCRIPTORS[scale]["views"],
    }
    setup = lab_setup(
        encoder,
        classifier,
        cache_dir=cache_dir,
        seed=seed,
        n_items=sizes["items"],
        n_views=sizes["views"],
        n_reference=sizes["fd_n"],
        workers=workers,
    )
    return setup, sizes


@dataclass(frozen=True)
class Pool:
    """A fresh pool of one model: embedded anchors and samples, and the classifier's view of the samples.

    Attributes
    ----------
    anchors : (m, D) unit embeddings of A
    samples : (n, D) unit embeddings of C (A and C independent)
    features : (k, F) classifier features of the first k samples (Fréchet distances)
    classes : ClassMetrics of those k samples (histogram, Fashion IS, Fréchet distance to the reference)
    anchor_images : (m, 1, 28, 28) the anchors' images (to show I_w)
    """

    anchors: np.ndarray
    samples: np.ndarray
    features: np.ndarray
    classes: ClassMetrics
    anchor_images: np.ndarray


def _pool(setup: LabSetup, a_img, c_img, n_features: int) -> Pool:
    k = check_int(n_features, "n_features", minimum=2)
    feats = setup.classifier.features(c_img[:k])
    classes = classifier_metrics(setup.classifier, c_img[:k], reference_features=setup.reference_features)
    return Pool(setup.encoder(a_img), setup.encoder(c_img), feats, classes, a_img)


def generator_pool(setup: LabSetup, sampler, *, n_anchors: int, n_samples: int, n_features: int, seed: int) -> Pool:
    """A pool of a generator: A and C drawn on the latent streams ``shard_seed(seed, 0)`` and ``(seed, 1)``."""
    a_img = sampler(shard_seed(seed, 0), n_anchors).x
    c_img = sampler(shard_seed(seed, 1), n_samples).x
    return _pool(setup, a_img, c_img, n_features)


def data_pool(setup: LabSetup, *, n_anchors: int, n_samples: int, n_features: int, seed: int) -> Pool:
    """A pool of the real training images: A and C disjoint random subsets (images scaled to [0, 1])."""
    ia, ic = disjoint_indices(len(setup.x_train), (n_anchors, n_samples), seed)
    images = lambda idx: setup.x_train[idx][:, None].astype(np.float32) / 255.0  # noqa: E731
    return _pool(setup, images(ia), images(ic), n_features)


def pool_numbers(setup: LabSetup, pool: Pool, *, seed: int, name: str = "embeddings"):
    """Diagnosis of a pool (I_w selected on C's first half, scored on the second) and its table numbers.

    Returns
    -------
    (Report, dict): report_numbers (mu, sigma, MCCS(I_w) on T, with 95% intervals) and the class metrics
    """
    report = diagnose_embeddings(
        pool.anchors,
        pool.samples,
        theta=setup.theta,
        r=setup.r,
        seed=seed,
        sampler=name,
        descriptor=identity_of(setup.encoder),
    )
    return report, {**report_numbers(report), **pool.classes.to_dict()}


def versus(
    setup: LabSetup, before: Pool, after: Pool, *, worst, seed: int, n_boot: int = 1000, frechet: bool = True
) -> ModelComparison:
    """``compare_models`` of two pools of equal size: *after - before* of MCCS(I_w), mu, sigma and Fréchet distance.

    Parameters
    ----------
    before, after : the two pools (e.g. the real data and a generator)
    worst : (D,) a fixed anchor selected on neither pool (``old_worst`` is its MCCS in each)
    seed, n_boot : bootstrap seed and replicates
    frechet : whether to compare the Fréchet distances too (each replicate costs an F x F eigenproblem)
    """
    quality = {"frechet": (setup.reference_features, before.features, after.features)} if frechet else {}
    return compare_models(
        (before.anchors, before.samples),
        (after.anchors, after.samples),
        worst=worst,
        quality=quality,
        theta=setup.theta,
        r=setup.r,
        seed=seed,
        n_boot=n_boot,
        n_boot_quality=max(20, n_boot // 10),
    )


def seed_spread(values, level: float = 0.95) -> dict:
    """Spread of a statistic over training seeds: mean, sample sd, range and a t interval for the mean.

    Parameters
    ----------
    values : (k,) one value per seed (k >= 2 for an interval)

    Returns
    -------
    dict with n, values, mean, sd (None when k < 2), min, max, mean_ci (None when k < 2)
    """
    from scipy.stats import t

    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size == 0 or not np.isfinite(v).all():
        raise ValueError(f"seed_spread needs finite values; got {v.tolist()}")
    out = {
        "n": int(v.size),
        "values": v.tolist(),
        "mean": float(v.mean()),
        "min": float(v.min()),
        "max": float(v.max()),
    }
    if v.size < 2:
        return {**out, "sd": None, "mean_ci": None}
    sd = float(v.std(ddof=1))
    half = float(t.ppf(0.5 + level / 2, v.size - 1)) * sd / np.sqrt(v.size)
    return {**out, "sd": sd, "mean_ci": [float(out["mean"] - half), float(out["mean"] + half)]}


def histogram_test(before, after) -> dict:
    """Do two class histograms differ? Total variation distance and a chi-square test of homogeneity.

    Parameters
    ----------
    before, after : (K,) counts of predicted classes

    Returns
    -------
    dict with tv (half the L1 distance of the normalised histograms), chi2, dof and p_value
    (classes empty in both are dropped; p = 1 when fewer than two classes remain)
    """
    from scipy.stats import chi2_contingency

    table = np.vstack([np.asarray(before, dtype=np.float64), np.asarray(after, dtype=np.float64)])
    if table.ndim != 2 or (table < 0).any() or (table.sum(axis=1) == 0).any():
        raise ValueError("histogram_test needs two non-empty histograms of non-negative counts of equal length")
    p = table / table.sum(axis=1, keepdims=True)
    tv = float(0.5 * np.abs(p[0] - p[1]).sum())
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return {"tv": tv, "chi2": 0.0, "dof": 0, "p_value": 1.0}
    chi2, pval, dof, _ = chi2_contingency(table)
    return {"tv": tv, "chi2": float(chi2), "dof": int(dof), "p_value": float(pval)}


def nearest_repeated(worst, repeated, r: float) -> dict:
    """How far the worst case I_w lies from the repeated training items (RIC-aug's duplicates).

    Parameters
    ----------
    worst : (D,) unit embedding of I_w
    repeated : (k, D) unit embeddings of the repeated items
    r : the radius of Eq. 9 (I_w "is" a repeated item when within r of one)

    Returns
    -------
    dict with distances (k,), nearest (its position in ``repeated``), distance and within_r
    """
    w = validate_unit(np.atleast_2d(worst), "worst").astype(np.float64)
    rep = validate_unit(np.atleast_2d(repeated), "repeated").astype(np.float64)
    d = distance_from_cos(rep @ w[0])
    j = int(np.argmin(d))
    return {"distances": d.tolist(), "nearest": j, "distance": float(d[j]), "within_r": bool(d[j] <= r)}
