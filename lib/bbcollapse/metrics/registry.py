"""One entry point for the peer metrics: :func:`compute_metrics` by name, and their scalar read-outs.

Not an equation of paper 000.  ``diagnose`` (and the CLI's ``--metrics``) add chosen metrics
against a reference set through :func:`compute_metrics`; the metrics chapter computes every metric
on every replicate set through it and reads scalars with :func:`metric_readouts`, whose
:data:`COLLAPSE_DIRECTION` says which way collapse is expected to push each scalar (+1 up, -1 down,
0 no declared direction), declared from what the metric measures, before any data is seen.

=================  ==========================================  ==================================
name               needs                                       result
=================  ==========================================  ==================================
frechet            reference, samples (features)               :class:`FrechetDistance`
kid                reference, samples                          :class:`KernelDistance`
prdc               reference, samples                          :class:`PRDC`
vendi              samples                                     :class:`VendiScore`
birthday           samples; options ``radius``, ``batch_size``  :class:`BirthdayTest`
ndb                reference, samples                          :class:`NDB`
mccs               samples (unit vectors); ``theta``, ``r``    :class:`WorstModeMCCS`
ssim, ms_ssim      images                                      :class:`PairwiseSimilarity`
inception_score    probabilities, classifier                   :class:`ClassifierScore`
=================  ==========================================  ==================================
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .birthday import birthday_test
from .classifier import inception_score_analogue
from .features import check_features
from .frechet import FrechetDistance, frechet_distance
from .kernel import kernel_distance
from .mccs_metric import worst_mode_mccs
from .ndb import ndb_test
from .prdc import prdc_scores
from .similarity import mean_pairwise_ms_ssim, mean_pairwise_ssim
from .vendi import vendi_score

__all__ = ["METRICS", "COLLAPSE_DIRECTION", "compute_metrics", "metric_readouts"]

METRICS = ("frechet", "kid", "prdc", "vendi", "birthday", "ndb", "mccs", "ssim", "ms_ssim", "inception_score")

#: Read-out name -> the direction in which collapse (less diversity) should move it.
COLLAPSE_DIRECTION = {
    "frechet": 1,
    "kid": 1,
    "prdc.precision": 0,  # duplicates of typical samples can raise or lower it
    "prdc.recall": -1,
    "prdc.density": 0,
    "prdc.coverage": -1,
    "vendi": -1,
    "birthday": 1,  # duplicate pairs per batch
    "ndb": 1,  # fraction of bins that differ
    "mccs.worst": 1,
    "mccs.mu": 1,
    "mccs.sigma": 1,
    "ssim": 1,  # mean pairwise similarity
    "ms_ssim": 1,
    "inception_score": -1,
}

_NEEDS_REFERENCE = ("frechet", "kid", "prdc", "ndb")


def _feature_metric(name, reference, samples, features, seed, opts):
    if name == "frechet":
        r, s = check_features(reference, "reference"), check_features(samples, "samples")
        return FrechetDistance(frechet_distance(reference=r, samples=s, **opts), len(r), len(s), str(features))
    if name == "kid":
        return kernel_distance(reference=reference, samples=samples, features=features, **opts)
    if name == "prdc":
        return prdc_scores(reference=reference, samples=samples, features=features, **opts)
    if name == "ndb":
        return ndb_test(reference=reference, samples=samples, features=features, **dict({"seed": seed}, **opts))
    if name == "vendi":
        return vendi_score(samples, features=features, **opts)
    if name == "birthday":
        if "radius" not in opts or "batch_size" not in opts:
            raise ValueError("the birthday test needs options={'birthday': {'radius': ..., 'batch_size': ...}}")
        return birthday_test(samples, features=features, **dict({"seed": seed}, **opts))
    if "theta" not in opts or "r" not in opts:
        raise ValueError("MCCS needs options={'mccs': {'theta': ..., 'r': ...}} (and optionally n_anchors)")
    opts = dict({"seed": seed, "n_anchors": max(2, len(samples) // 5)}, **opts)
    return worst_mode_mccs(samples, features=features, **opts)


def compute_metrics(
    names: Iterable[str],
    *,
    reference=None,
    samples=None,
    features: str = "unnamed features",
    images=None,
    probabilities=None,
    classifier: str | None = None,
    seed: int = 0,
    options: Mapping[str, Mapping] | None = None,
) -> dict:
    """Compute the named metrics of a sample set (against a reference set where the metric needs one).

    Parameters
    ----------
    names : metric names from :data:`METRICS`
    reference : (N_ref, d) reference features (frechet, kid, prdc, ndb)
    samples : (n, d) features of the sample set (unit vectors for mccs; rows are scaled for vendi, birthday)
    features : what the features are (e.g. the descriptor's name): every result carries it
    images : (n, H, W[, C]) images of the sample set (ssim, ms_ssim)
    probabilities : (n, K) class probabilities of the sample set (inception_score)
    classifier : what produced ``probabilities`` (required with inception_score)
    seed : seed of every random choice (pairs, batches, K-means, splits)
    options : per-metric keyword arguments, e.g. ``{"prdc": {"nearest_k": 5}, "ms_ssim": {"levels": 3}}``

    Returns
    -------
    dict name -> frozen result (each has ``as_dict()`` for JSON)
    """
    names = list(names)
    unknown = [n for n in names if n not in METRICS]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; choose from {', '.join(METRICS)}")
    options = dict(options or {})
    bad = [k for k in options if k not in METRICS]
    if bad:
        raise ValueError(f"options for unknown metric(s) {bad}; choose from {', '.join(METRICS)}")
    out = {}
    for name in names:
        opts = dict(options.get(name, {}))
        if name in ("ssim", "ms_ssim"):
            if images is None:
                raise ValueError(f"{name} needs images")
            f = mean_pairwise_ssim if name == "ssim" else mean_pairwise_ms_ssim
            out[name] = f(images, **dict({"seed": seed}, **opts))
        elif name == "inception_score":
            if probabilities is None or not classifier:
                raise ValueError("inception_score needs probabilities and the classifier's name")
            out[name] = inception_score_analogue(probabilities, classifier=classifier, **opts)
        else:
            if samples is None:
                raise ValueError(f"{name} needs samples (features)")
            if name in _NEEDS_REFERENCE and reference is None:
                raise ValueError(f"{name} compares with a reference set: pass reference=(N_ref, d) features")
            out[name] = _feature_metric(name, reference, samples, features, seed, opts)
    return out


def metric_readouts(results: Mapping) -> dict[str, float]:
    """The scalar read-outs of :func:`compute_metrics` results, keyed as in :data:`COLLAPSE_DIRECTION`."""
    out = {}
    for name, res in results.items():
        if name == "prdc":
            out.update({f"prdc.{k}": getattr(res, k) for k in ("precision", "recall", "density", "coverage")})
        elif name == "mccs":
            out.update({"mccs.worst": res.mccs_worst, "mccs.mu": res.mu, "mccs.sigma": res.sigma})
        else:
            out[name] = float(res.value)
    return out
