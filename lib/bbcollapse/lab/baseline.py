"""The real data as a baseline: the diagnosis of real images, read beside every lab generator's.

Paper 000, Sec. 3.1 diagnoses a generator by MCCS (Eq. 7), its population statistics
(mu, sigma) (Eq. 8), the worst-case dense mode ``I_w = argmax N(I', S, r)`` (Eq. 9) and the
neighbour curves.  The paper never had the distribution its generators imitate; the lab has
it, so "no more collapse than the data has" becomes a number.  The data and a generator go
through the same call, :func:`bbcollapse.diagnose_embeddings`, which selects I_w on the first
half S of the sample set C and scores it on the rest T with a bootstrap interval:

* for the data (:func:`diagnose_images`), A and C are disjoint random subsets of the images,
  so S and T (halves of a random subset) are disjoint random samples too;
* for a generator, :func:`bbcollapse.diagnose` draws A and C on disjoint seed streams.

:func:`report_numbers` extracts the numbers a chapter tabulates from either, and
:func:`classifier_metrics` adds the classification-based checks (class histogram, Fashion IS,
Fréchet distance on the lab classifier's features) that the paper says miss intra-mode collapse.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import check_int
from ..blackbox import identity_of
from ..diagnosis import Report, diagnose_embeddings
from ..metrics import frechet_distance, inception_score_analogue

__all__ = [
    "disjoint_indices",
    "diagnose_images",
    "report_numbers",
    "ClassMetrics",
    "classifier_metrics",
    "LAB_CLASSIFIER",
]

#: The classifier named in the Inception-Score analogue ("Fashion IS").
LAB_CLASSIFIER = "the lab's Fashion-MNIST classifier (Fashion IS)"


def disjoint_indices(n: int, sizes, seed: int) -> list[np.ndarray]:
    """Disjoint random subsets of ``range(n)`` of the given sizes, a function of ``seed``.

    Each subset is in random order (so that any prefix of it is itself a random subset).
    Raises a ``ValueError`` when the sizes add up to more than ``n``.
    """
    sizes = [check_int(s, "size", minimum=1) for s in sizes]
    n = check_int(n, "n", minimum=1)
    if sum(sizes) > n:
        raise ValueError(f"the sizes {sizes} add up to {sum(sizes)}, more than the {n} items available")
    perm = np.random.default_rng(seed).permutation(n)
    cuts = np.cumsum([0, *sizes])
    return [perm[cuts[i] : cuts[i + 1]] for i in range(len(sizes))]


def diagnose_images(
    descriptor, images, *, n_anchors: int, n_samples: int, seed: int = 0, **overrides
) -> tuple[Report, dict]:
    """The diagnosis of a set of real images: A and C are disjoint random subsets of ``images``.

    Parameters
    ----------
    descriptor : images -> (n, D) unit vectors
    images : the real images (e.g. the training split), an array the descriptor takes
    n_anchors, n_samples : |A| and |C| (their sum at most ``len(images)``); C's first half selects
        I_w (S) and the rest scores it (T)
    seed : seed of the subsets and of the diagnosis
    overrides : :class:`~bbcollapse.DiagnoseConfig` fields (theta, r, form, top, k, ...) and engine options

    Returns
    -------
    (Report, {"anchors": (|A|,), "samples": (|C|,)} indices into ``images``)
    """
    ia, ic = disjoint_indices(len(images), (n_anchors, n_samples), seed)
    anchors, samples = np.asarray(descriptor(images[ia])), np.asarray(descriptor(images[ic]))
    report = diagnose_embeddings(anchors, samples, seed=seed, descriptor=identity_of(descriptor), **overrides)
    return report, {"anchors": ia, "samples": ic}


def report_numbers(report: Report) -> dict:
    """What a chapter tabulates from a diagnosis: (mu, sigma) and MCCS(I_w) on T, each with its 95% interval.

    Returns
    -------
    dict with n_anchors, n_select, n_score, theta, r, form, mu, sigma, mu_ci95, sigma_ci95,
    mccs_worst (scored on T), mccs_worst_ci95, worst_count (on S), mccs_median_anchor,
    mccs_random (the first random anchor on T) and its interval
    """
    c, boot = report.config, report.bootstrap or {}
    ci = report.worst_ci
    rand_ci = None if report.random_ci is None or len(report.random_ci) == 0 else list(report.random_ci[0])
    return {
        "n_anchors": c["n_anchors"],
        "n_select": report.n_select,
        "n_score": report.n_score,
        "theta": c["theta"],
        "r": c["r"],
        "form": c["form"],
        "mu": report.mu,
        "sigma": report.sigma,
        "mu_ci95": [boot["mu"]["lo"], boot["mu"]["hi"]] if "mu" in boot else None,
        "sigma_ci95": [boot["sigma"]["lo"], boot["sigma"]["hi"]] if "sigma" in boot else None,
        "mccs_worst": report.worst_mccs,
        "mccs_worst_ci95": None if ci is None else list(ci),
        "worst_count": report.worst_count,
        "mccs_median_anchor": float(np.median(report.mccs)),
        "mccs_random": None if report.random_mccs is None or len(report.random_mccs) == 0 else report.random_mccs[0],
        "mccs_random_ci95": rand_ci,
        "n_degenerate": report.n_degenerate,
    }


@dataclass(frozen=True)
class ClassMetrics:
    """Classification-based checks of a set of images (the lab classifier's view).

    Attributes
    ----------
    histogram : (10,) images predicted in each class
    fashion_is : the Inception-Score formula on the lab classifier's softmax, over all images
    fashion_is_sd : standard deviation of it over ``splits`` parts
    frechet : Fréchet distance on the lab classifier's features to the reference features
    n : number of images
    """

    histogram: np.ndarray
    fashion_is: float
    fashion_is_sd: float
    frechet: float
    n: int

    def to_dict(self) -> dict:
        return {
            "n": self.n,
            "class_histogram": self.histogram.tolist(),
            "fashion_is": self.fashion_is,
            "fashion_is_sd": self.fashion_is_sd,
            "frechet_classifier_features": self.frechet,
        }


def classifier_metrics(classifier, images, *, reference_features, splits: int = 10) -> ClassMetrics:
    """Class histogram, Fashion IS and Fréchet distance (to ``reference_features``) of ``images``.

    Parameters
    ----------
    classifier : a :class:`~bbcollapse.lab.classifier.LabClassifier`
    images : (n, 1, 28, 28) in [0, 1] (or what the classifier takes)
    reference_features : (n_ref, F) ``classifier.features`` of the reference images (e.g. the test
        split); compare sets of equal size, since the Fréchet distance is biased by n
    splits : parts over which the Fashion IS' standard deviation is taken
    """
    probs = classifier.probs(images)
    score = inception_score_analogue(probs, classifier=LAB_CLASSIFIER, splits=splits)
    return ClassMetrics(
        histogram=np.bincount(probs.argmax(axis=1), minlength=probs.shape[1]).astype(np.int64),
        fashion_is=score.value,
        fashion_is_sd=score.split_std,
        frechet=frechet_distance(reference=reference_features, samples=classifier.features(images)),
        n=len(probs),
    )
