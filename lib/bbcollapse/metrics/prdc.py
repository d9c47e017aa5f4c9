"""Precision, recall, density and coverage (Naeem et al. 2020) on named features (a peer of MCCS).

Not an equation of paper 000: PRDC compares a sample set with a reference set by k-NN balls in
a feature space, and the book reports it beside MCCS on named features (the identity
descriptor's embeddings, EfficientNet-lite0 ImageNet features).  The computation is the
``prdc`` package's (:func:`prdc_scores`), with the reference as its "real" set.
"""

from __future__ import annotations

from dataclasses import dataclass

from .features import check_features
from .result import MetricResult

__all__ = ["PRDC", "prdc_scores"]


@dataclass(frozen=True, repr=False)
class PRDC(MetricResult):
    """Precision, recall, density and coverage (Naeem et al. 2020) with k neighbours."""

    precision: float
    recall: float
    density: float
    coverage: float
    nearest_k: int
    features: str = "unnamed features"

    @property
    def name(self) -> str:
        return f"precision, recall, density, coverage (k={self.nearest_k}) on {self.features}"


def prdc_scores(*, reference, samples, nearest_k: int = 5, features: str = "unnamed features") -> PRDC:
    """PRDC of ``samples`` against ``reference`` (the ``prdc`` package; real = reference).

    Parameters
    ----------
    reference : (n, d) features of the reference ("real") set
    samples : (m, d) features of the generated ("fake") set
    nearest_k : k of the k-NN balls (must be < n and < m)
    features : what the features are, for the result's name

    Notes
    -----
    The package compares distances with a strict ``<``: a sample whose k-th neighbour is an exact
    copy of it has a ball of radius 0 that contains nothing, so exact duplicates among the samples
    lower recall (their balls cover no reference point) rather than being ignored.
    """
    import contextlib
    import io
    import warnings

    from prdc import compute_prdc

    r, s = check_features(reference, "reference"), check_features(samples, "samples")
    k = int(nearest_k)
    if not (1 <= k < min(len(r), len(s))):
        raise ValueError(f"nearest_k must be in [1, min(n, m) - 1] = [1, {min(len(r), len(s)) - 1}]; got {nearest_k}")
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():  # prdc prints its sizes
        # the package asks sklearn for n_jobs=8; sklearn then warns about its joblib helpers, once per call
        warnings.filterwarnings("ignore", message=".*sklearn.utils.parallel.delayed.*", category=UserWarning)
        d = compute_prdc(real_features=r, fake_features=s, nearest_k=k)
    return PRDC(
        precision=float(d["precision"]),
        recall=float(d["recall"]),
        density=float(d["density"]),
        coverage=float(d["coverage"]),
        nearest_k=k,
        features=str(features),
    )
