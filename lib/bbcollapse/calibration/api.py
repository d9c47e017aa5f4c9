"""One entry point for calibration: :func:`calibrate` a model towards a diagnosis (paper 000, section 3.2).

The loop a user runs is *diagnose, decide, calibrate*: :func:`bbcollapse.diagnose` picks the
worst case ``I_w`` (Eq. 9), and :func:`calibrate` reshapes the model's latent law so that
``I_w``'s neighbourhood (radius ``r0``, Eq. 5) loses its excess mass, with one of the calibrators
of this package (Algorithm 1: ``gmm``, ``voronoi``; Algorithm 2: ``rejection``), and returns a
Sampler of the same protocol, diagnosed by the same code.

Every check that can fail is made **before** the long work (drawing and embedding the fitting
set, K-means, sampling):

* the report was made by the sampler and descriptor given (their identities match);
* ``I_w`` has neighbours: in the report's sample set, then in a short pilot of the fitting set;
* the generator calls the fit and the planned samples would need stay within a budget.

A plain callable generator ``z -> x`` has no latent prior to reshape: :func:`with_latents` gives
it one (``z ~ N(0, I_L)`` drawn from the seed, the README's ``my_sampler`` convention).
:func:`redraw` draws again the rows a diagnosis drew (I_w when a report lacks its embedding, and the
images of :func:`bbcollapse.report_images`).
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._progress import progress_bar
from .._validation import check_int, check_option, check_positive
from ..blackbox import GaussianLatentModel, identity_of, shard_seed
from ..diagnosis import ANCHOR_STREAM, Report, shard_plan
from ..distance import validate_unit
from .base import CalibratedSampler
from .cluster import gmm_calibrator, voronoi_calibrator
from .fitting import check_latent_model, check_r0, generate_and_embed, near_modes, unit_modes
from .rejection import rejection_calibrator

__all__ = [
    "METHODS",
    "CalibrationBudgetError",
    "CalibrationTarget",
    "IdentityMismatch",
    "calibrate",
    "calibration_target",
    "redraw",
    "with_latents",
]

#: method name -> (calibrator, fixed keywords, where its accept/reject decision is taken)
METHODS = {
    "rejection": (rejection_calibrator, {"region": "output"}, "output"),
    "rejection-ball": (rejection_calibrator, {"region": "ball"}, "latent"),
    "gmm": (gmm_calibrator, {}, "latent"),
    "voronoi": (voronoi_calibrator, {}, "latent"),
    "voronoi-non-mode": (voronoi_calibrator, {"weighting": "non-mode"}, "latent"),
}
#: methods that cluster the latents (they take ``n_clusters``)
CLUSTER_METHODS = ("gmm", "voronoi", "voronoi-non-mode")
#: report fields (attributes, or keys of ``report.extra``) that hold I_w's embedding and latent
WORST_EMBEDDING, WORST_LATENT = "worst_embedding", "worst_latent"


class IdentityMismatch(ValueError):
    """The report was made by another sampler or descriptor than the one given to :func:`calibrate`."""


class CalibrationBudgetError(ValueError):
    """Calibrating would need more generator calls than the budget allows (or too low an acceptance)."""


def with_latents(generate, latent_dim: int, *, name: str | None = None) -> GaussianLatentModel:
    """A plain generator callable ``z -> x`` as a latent model with the prior ``z ~ N(0, I_L)``.

    The latents of ``model(seed, n)`` are ``default_rng(seed).standard_normal((n, L))`` as float32:
    the README's ``my_sampler`` convention, so ``with_latents(my_generator, 128)(seed, n)`` draws
    exactly what ``my_sampler(seed, n)`` draws, and it also has the ``latents(seed, n)`` and
    ``generate(z)`` that the calibrators need.

    Parameters
    ----------
    generate : callable (n, L) float32 -> n outputs
    latent_dim : L
    name : identity recorded in reports and stores (default: the callable's qualified name); give
        one that changes when the model changes, e.g. "my-gan v3"

    Returns
    -------
    GaussianLatentModel
    """
    if not callable(generate):
        raise TypeError(f"generate must be a callable z -> outputs; got {type(generate).__name__}")
    latent_dim = check_int(latent_dim, "latent_dim", minimum=1)
    if name is None:
        name = f"{getattr(generate, '__module__', '?')}.{getattr(generate, '__qualname__', type(generate).__name__)}"
    return GaussianLatentModel(generate, latent_dim, name=str(name))


@dataclass(frozen=True, repr=False)
class CalibrationTarget:
    """The modes a calibration lowers, and what the diagnosis said about them.

    Attributes
    ----------
    embeddings : (m, D) float64 unit embeddings of the modes (I_w first)
    latents : (m, L) their latents, or None when unknown
    r0 : neighbour radius of the calibration (the report's r unless given)
    fraction : (m,) fraction of the report's selection sample S within r0 of each mode (the counts
        that chose I_w, over |S| = ``report.n_select``, not over |C|), or None (unknown)
    reference_fraction : median fraction of S within r0 of an anchor of the report, or None
    n_diagnosed : |A| + |C| of the report (the samples a diagnosis of the same size draws), or None
    source : where the target came from (a path, "report", "arrays")
    """

    embeddings: np.ndarray
    latents: np.ndarray | None
    r0: float
    fraction: np.ndarray | None = None
    reference_fraction: float | None = None
    n_diagnosed: int | None = None
    source: str = "arrays"

    def __repr__(self):
        frac = "unknown" if self.fraction is None else np.round(self.fraction, 5).tolist()
        return f"CalibrationTarget(modes={len(self.embeddings)}, r0={self.r0}, fraction={frac}, source={self.source})"


def redraw(sampler, *, seed: int, stream: tuple, index, n_total: int, shard_size: int, progress=None):
    """Latents and outputs of rows ``index`` of a diagnosis stream, drawn again from the sampler.

    Row i of a stream of ``n_total`` lies in shard j of :func:`~bbcollapse.diagnosis.shard_plan` and
    was drawn as ``sampler(shard_seed(seed, *stream, j), n_j)``.  A latent model whose ``latents``
    agree with its samples re-draws only the latents of those shards and generates the rows asked
    for; another sampler is called once per shard holding one of them.

    Parameters
    ----------
    sampler : the sampler that was diagnosed
    seed, stream : the report's seed and the stream (:data:`ANCHOR_STREAM` or :data:`SAMPLE_STREAM`)
    index : (k,) row indices in the stream
    n_total, shard_size : the stream's length and shard size (the report's n_anchors or n_samples, shard_size)

    Returns
    -------
    z : (k, L) latents; x : (k, ...) outputs
    """
    index = np.asarray(index, dtype=np.int64).ravel()
    plan = shard_plan(int(n_total), int(shard_size))
    starts = np.array([offset for _, offset, _ in plan])
    if index.size and (index.min() < 0 or index.max() >= n_total):
        raise ValueError(f"rows {index.tolist()} must lie in [0, {n_total})")
    quick = callable(getattr(sampler, "latents", None)) and callable(getattr(sampler, "generate", None))
    if quick:  # a latent model whose samples follow its latents (a probe of 3 rows)
        probe = shard_seed(seed, 99)
        quick = bool(np.array_equal(np.asarray(sampler(probe, 3).z), np.asarray(sampler.latents(probe, 3))))
    shard = np.searchsorted(starts, index, side="right") - 1
    zs, xs = [None] * len(index), [None] * len(index)
    with progress_bar(progress, total=len(np.unique(shard)), desc="re-draw shards", unit="shard") as bar:
        for j in np.unique(shard):
            _, offset, n_j = plan[j]
            rows = np.flatnonzero(shard == j)
            s = shard_seed(seed, *stream, int(j))
            if quick:
                z = np.asarray(sampler.latents(s, n_j))
                for r in rows:
                    zs[r] = z[index[r] - offset]
            else:
                batch = sampler(s, n_j)
                for r in rows:
                    zs[r], xs[r] = np.asarray(batch.z)[index[r] - offset], batch.x[index[r] - offset]
            bar.update(1)
    z = np.stack(zs) if zs else np.zeros((0, 0), np.float32)
    x = sampler.generate(z) if quick else np.stack([np.asarray(v) for v in xs])
    return z, x


def report_field(report: Report, name: str):
    """A report's attribute ``name``, else ``report.extra[name]``, as an array (None when absent)."""
    value = getattr(report, name, None)
    if value is None:
        value = (getattr(report, "extra", None) or {}).get(name)
    return None if value is None else np.asarray(value)


def check_identities(report: Report, sampler, descriptor) -> None:
    """Raise :class:`IdentityMismatch` unless the report names ``sampler`` and ``descriptor``."""
    for role, recorded, given in (
        ("sampler", report.sampler, identity_of(sampler)),
        ("descriptor", report.descriptor, identity_of(descriptor)),
    ):
        if recorded != given:
            raise IdentityMismatch(
                f"the report was made by {role} {recorded!r}, not by the {role} given ({given!r}); calibrate the "
                "model that was diagnosed (or pass check_identity=False if they are the same model under two names)"
            )


def calibration_target(target, sampler=None, descriptor=None, *, r0=None, check_identity: bool = True):
    """The :class:`CalibrationTarget` named by ``target``.

    Parameters
    ----------
    target : a :class:`~bbcollapse.Report`, the path of a ``report.json`` (or of its directory), an
        (m, D) / (D,) array of unit embeddings, an ``(embeddings, latents)`` pair, or a CalibrationTarget
    sampler, descriptor : the model calibrated; a report is checked against them, and I_w is re-drawn from
        them when the report does not hold its embedding
    r0 : neighbour radius (default: the report's r; required for arrays)
    check_identity : refuse a report made by another sampler or descriptor

    Raises
    ------
    IdentityMismatch, or ValueError when I_w had no neighbour within r in the report's samples.
    """
    if isinstance(target, CalibrationTarget):
        return target if r0 is None else dataclasses.replace(target, r0=check_r0(r0))
    source = "report"
    if isinstance(target, (str, Path)):
        source = str(target)
        target = Report.load(target)
    if not isinstance(target, Report):
        emb, lat = target if isinstance(target, tuple) else (target, None)
        if r0 is None:
            raise ValueError("r0 is required when the target is given as embeddings (a report gives its r)")
        modes = unit_modes(emb)
        lat = None if lat is None else np.atleast_2d(np.asarray(lat))
        if lat is not None and len(lat) != len(modes):
            raise ValueError(f"give one latent per mode: {len(modes)} embeddings but {len(lat)} latents")
        return CalibrationTarget(modes, lat, check_r0(r0), source="arrays")
    report = target
    if check_identity:
        if sampler is None or descriptor is None:
            raise ValueError("the sampler and descriptor are needed to check a report against them")
        check_identities(report, sampler, descriptor)
    cfg = report.config
    r0 = check_r0(cfg["r"] if r0 is None else r0)
    n = getattr(report, "n_select", None) or cfg["n_samples"]  # the counts are over S, the selection sample
    if report.worst_count <= 0:
        raise ValueError(
            f"I_w has no neighbour within r={cfg['r']} among the report's {n} selection samples: there is no "
            "dense mode to calibrate (diagnose with a larger r or more samples)"
        )
    emb, lat = report_field(report, WORST_EMBEDDING), report_field(report, WORST_LATENT)
    if emb is None:
        if sampler is None or descriptor is None:
            raise ValueError("the report does not hold I_w's embedding: give the sampler and descriptor to re-draw it")
        lat, x = redraw(
            sampler,
            seed=cfg["seed"],
            stream=ANCHOR_STREAM,
            index=[report.worst],
            n_total=cfg["n_anchors"],
            shard_size=cfg["shard_size"],
        )
        emb = np.asarray(descriptor(x), dtype=np.float64)  # as diagnosed, up to the rounding of a batch of one
    same_r = math.isclose(r0, cfg["r"])
    return CalibrationTarget(
        embeddings=unit_modes(validate_unit(np.atleast_2d(emb), "I_w's embedding")),
        latents=None if lat is None else np.atleast_2d(lat),
        r0=r0,
        fraction=np.array([report.worst_count / n]) if same_r else None,
        reference_fraction=float(np.median(report.counts)) / n if same_r else None,
        n_diagnosed=int(cfg["n_anchors"]) + int(cfg["n_samples"]),
        source=source,
    )


def expected_acceptance(target: CalibrationTarget, decided: str) -> float | None:
    """Acceptance of Algorithm 2 predicted from the report, before any fit (None when unknown).

    A proposal lands near I_w with probability f (the report's fraction) and is kept there with
    ``p = N(I_r)/N(I_w)`` (the typical anchor's count over I_w's): ``1 - f (1 - p)``.
    """
    if decided != "output" or target.fraction is None or target.reference_fraction is None:
        return None
    f = float(target.fraction[0])
    p = min(target.reference_fraction / f, 1.0) if f > 0 else 1.0
    return 1.0 - f * (1.0 - p)


def check_budget(*, n_fit: int, n_planned: int, acceptance: float | None, decided: str, budget: int, when: str):
    """Raise :class:`CalibrationBudgetError` when the fit and ``n_planned`` samples would exceed ``budget`` calls.

    A method deciding in output space generates (and embeds) every proposal, ``1/acceptance`` per
    sample; one deciding in latent space generates only the accepted latents.
    """
    per_sample = 1.0 if decided == "latent" or not acceptance else 1.0 / acceptance
    need = n_fit + n_planned * per_sample
    if need > budget:
        rate = "" if acceptance is None else f" at an acceptance of {acceptance:.4g}"
        raise CalibrationBudgetError(
            f"{when}: fitting on {n_fit} samples and drawing {n_planned}{rate} needs about {need:.3g} generator "
            f"calls, over the budget of {budget:.3g}; raise the budget (max_generator_calls, --budget), lower n_fit "
            "or n_planned, or use a method that decides in latent space (voronoi, gmm)"
        )


def pilot_fit_set(model, descriptor, target: CalibrationTarget, *, n_fit: int, n_pilot: int, seed: int, progress):
    """The fitting set, drawn as the calibrators draw it, its first ``n_pilot`` rows checked first.

    Raises ValueError, before the rest is generated, when no pilot sample lies within r0 of a mode.

    Returns
    -------
    z : (N, L) latents, e : (N, D) embeddings, generator_calls : int, seconds : float
    """
    t0 = time.perf_counter()
    z = np.asarray(model.latents(shard_seed(seed, 0), n_fit))
    n_pilot = min(n_pilot, n_fit)
    _, e_pilot = generate_and_embed(model, descriptor, z[:n_pilot], progress=progress, desc="embed pilot")
    hits = near_modes(e_pilot, target.embeddings, target.r0).sum(axis=0)
    if (hits == 0).any() and n_pilot < n_fit:
        frac = target.fraction
        hint = f" (the report saw {frac[0]:.3g} of its samples there)" if frac is not None else ""
        raise ValueError(
            f"mode {int(np.flatnonzero(hits == 0)[0])} has no neighbour within r0={target.r0} among the first "
            f"{n_pilot} fitting samples{hint}: the fit would find none either; raise r0, or check that the target "
            "comes from this model"
        )
    _, e_rest = generate_and_embed(model, descriptor, z[n_pilot:], progress=progress) if n_pilot < n_fit else (0, None)
    e = e_pilot if e_rest is None else np.concatenate([e_pilot, e_rest])
    return z, validate_unit(e, "fitting embeddings"), n_fit, time.perf_counter() - t0


def calibrate(
    sampler,
    descriptor,
    target,
    *,
    method: str = "rejection",
    r0: float | None = None,
    n_fit: int = 10_000,
    n_clusters: int = 100,
    n_planned: int | None = None,
    max_generator_calls: int = 10_000_000,
    min_acceptance: float = 1e-4,
    n_pilot: int = 1000,
    seed: int = 0,
    check_identity: bool = True,
    progress: bool | None = None,
    **options,
) -> CalibratedSampler:
    """Calibrate a latent model towards a diagnosis: a new Sampler with I_w's excess mass removed.

    Parameters
    ----------
    sampler : latent model (``latents(seed, n)``, ``generate(z)``, ``__call__``); wrap a plain
        generator callable with :func:`with_latents`
    descriptor : callable outputs -> (n, D) unit vectors (the one the diagnosis used)
    target : a Report, a report.json path, (m, D) mode embeddings or an (embeddings, latents) pair
        (see :func:`calibration_target`)
    method : "rejection" (Algorithm 2, exact region in output space; default), "rejection-ball",
        "gmm" (Algorithm 1), "voronoi" (Algorithm 1's exact variant), "voronoi-non-mode"
    r0 : neighbour radius (default: the report's r)
    n_fit : N, fitting samples drawn from the model (``latents(shard_seed(seed, 0), N)``)
    n_clusters : K of the cluster methods
    n_planned : samples the caller means to draw from the result (default: the report's
        |A| + |C|, else 10 000); counted against the budget
    max_generator_calls : budget of generator calls for the fit and the planned samples
    min_acceptance : a fitted acceptance below this is refused (sampling would stall)
    n_pilot : fitting samples generated and checked for neighbours of the target first
    seed : seed of the fitting set and of the fit
    check_identity : refuse a report made by another sampler or descriptor
    progress : progress bars while fitting and sampling (default: only on a terminal)
    options : further keywords of the calibrator (e.g. ``weighting``, ``n_references``, ``top_h``)

    Returns
    -------
    CalibratedSampler (its ``report()`` gives the fit and sampling costs)

    Raises
    ------
    TypeError for a sampler without latents; IdentityMismatch; ValueError for a target with no
    neighbours; CalibrationBudgetError, each before the fitting set is drawn (the fitted acceptance
    is checked after the fit, before any sampling).
    """
    method = check_option(method, METHODS, "method")
    fn, fixed, decided = METHODS[method]
    try:
        check_latent_model(sampler)
    except TypeError as exc:
        raise TypeError(f"{exc}; wrap a plain generator z -> x with bb.with_latents(generate, latent_dim)") from None
    n_fit = check_int(n_fit, "n_fit", minimum=2)
    budget = check_int(max_generator_calls, "max_generator_calls", minimum=1)
    min_acceptance = check_positive(min_acceptance, "min_acceptance")
    tgt = calibration_target(target, sampler, descriptor, r0=r0, check_identity=check_identity)
    n_planned = check_int(tgt.n_diagnosed or 10_000 if n_planned is None else n_planned, "n_planned")
    guess = expected_acceptance(tgt, decided)
    check_budget(
        n_fit=n_fit, n_planned=n_planned, acceptance=guess, decided=decided, budget=budget, when="before fitting"
    )
    if tgt.fraction is not None and tgt.fraction[0] * n_fit < 1:
        raise ValueError(
            f"I_w held {tgt.fraction[0]:.3g} of the report's samples within r0={tgt.r0}: about "
            f"{tgt.fraction[0] * n_fit:.2g} of n_fit={n_fit} fitting samples would be near it; raise n_fit to at "
            f"least {math.ceil(5 / tgt.fraction[0])}"
        )
    z, e, calls, fit_seconds = pilot_fit_set(
        sampler, descriptor, tgt, n_fit=n_fit, n_pilot=n_pilot, seed=seed, progress=progress
    )
    kw = dict(modes=tgt.embeddings, r0=tgt.r0, fit_latents=z, fit_embeddings=e, seed=seed, progress=progress)
    if method in CLUSTER_METHODS:
        kw["n_clusters"] = check_int(n_clusters, "n_clusters", minimum=1)
    t0 = time.perf_counter()
    cal = fn(sampler, descriptor, **fixed, **kw, **options)
    cal = dataclasses.replace(
        cal, fit_seconds=fit_seconds + time.perf_counter() - t0, fit_generator_calls=calls, progress=progress
    )
    acc = float(cal.expected_acceptance)
    if not acc >= min_acceptance:
        raise CalibrationBudgetError(
            f"{method}: the fitted acceptance is {acc:.3g}, below min_acceptance={min_acceptance:g}; sampling would "
            "stall (for voronoi try weighting='non-mode' or fewer clusters)"
        )
    check_budget(
        n_fit=0, n_planned=n_planned, acceptance=acc, decided=decided, budget=budget - calls, when="after fitting"
    )
    return cal
