"""Hypothesis tests on neighbour curves, bootstrap intervals and sample-size planning.

Seed 001 (Algorithm 1) decides that the worst-case dense mode I_w is a collapsed
mode when its neighbour curve ``d -> N(I_w, T, d)`` (the paper's surrogate for
Ripley's K) leaves a *pointwise* 95% band built from the curves of random reference
anchors, checked at the 41 radii of :data:`PAPER_GRID`.  Two things are wrong with
that rule, and this module gives the repaired versions next to the original:

1. **Multiplicity.**  A pointwise band checked at 41 correlated radii rejects a curve
   that is exchangeable with the references far more often than alpha.
   :func:`global_envelope_test` is the global envelope test of Myllymaki et al. (2017,
   "Global envelope tests for spatial processes", JRSS-B) with either the extreme rank
   length (ERL) ordering or the studentised maximum absolute deviation (MAD) of
   Baddeley et al. (2014).  Its p-value is the Monte Carlo p-value with the observed
   curve counted among the curves, so under exchangeability P(p <= alpha) <= alpha
   exactly; the envelope is the 100(1 - alpha)% *global* envelope.
2. **Selection.**  I_w is an argmax over |A| anchors; comparing it with *random*
   anchors tests something that is true by construction whenever the anchor selection
   and the curve share samples (and says nothing about "collapse" otherwise).
   :func:`null_worst_case_curves` simulates the whole selection pipeline in reference
   ("null") worlds and :func:`worst_case_test` compares the observed worst-case curve
   with the worst-case curves of those worlds, i.e. with the null distribution of a
   maximum.  Why null worlds and not a resampling of the reference anchors: the
   reference anchors come from the *same* generator as A, so "the max over random
   subsets of |A| reference anchors" is by construction distributed like I_w itself,
   whatever the amount of collapse; its p-value would be uniform under every
   alternative.  A null world must be something that is *not* the generator: the real
   data the generator imitates (embedded by the same descriptor), or, for the planted
   sphere, the same sphere without planted identities.

Uncertainty:

* :func:`bootstrap_mccs`: exact nonparametric bootstrap of MCCS(I') over the samples C
  for one anchor.  Only the per-sample similarity contributions ``s(d(I', c))`` are
  needed, and all but a few are 0 (``d >= theta``), so a bootstrap resample is drawn as
  a multinomial over the k non-zero contributions plus one cell for the zeros: exactly
  the distribution of ``mean(s[idx])`` with ``idx`` drawn uniformly with replacement,
  at O(k) per replicate instead of O(|C|).
* :func:`bootstrap_population`: percentile intervals for mu and sigma of MCCS over the
  anchors (resampling A, C held fixed).
* :func:`samples_needed` / :func:`anchors_needed`: normal-approximation sample-size
  planning (delta method on MCCS as a function of the mean similarity; standard
  errors of the mean and of the standard deviation), from a pilot run.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy import stats

from .._validation import check_theta, check_unit_interval
from ..distance import cos_threshold, similarity, validate_unit
from ..neighbors import PAPER_GRID, neighbor_stats
from .mccs import MCCS_FORMS, mccs

__all__ = [
    "neighbor_curves",
    "pointwise_band",
    "PointwiseBand",
    "global_envelope_test",
    "GlobalEnvelopeTest",
    "min_reference_curves",
    "WorstCase",
    "worst_case_curves",
    "null_worst_case_curves",
    "worst_case_test",
    "similarity_contributions",
    "bootstrap_mccs",
    "bootstrap_population",
    "BootstrapCI",
    "PopulationCI",
    "mccs_standard_error",
    "samples_needed",
    "anchors_needed",
    "SamplePlan",
    "AnchorPlan",
]

log = logging.getLogger(__name__)

KINDS = ("erl", "mad")
TRANSFORMS = ("log", "sqrt", None)
ALTERNATIVES = ("two-sided", "greater", "less")


# ---------------------------------------------------------------------------------
# curves and their validation
# ---------------------------------------------------------------------------------
def neighbor_curves(anchors, samples, grid=PAPER_GRID, **engine_kwargs) -> np.ndarray:
    """Cumulative neighbour counts ``N(a, samples, d)`` for every anchor and every d in ``grid``.

    Parameters
    ----------
    anchors : (m, D) unit vectors
    samples : (n, D) unit vectors, or an iterable of shards
    grid : (G,) increasing distances in [0, 1]; default the paper's 0.10..0.50 step 0.01
    **engine_kwargs : passed to :func:`bbcollapse.neighbor_stats` (device, backend, chunk, ...)

    Returns
    -------
    (m, G) int64 array, non-decreasing along the grid.
    """
    grid = _check_grid(grid)
    return neighbor_stats(anchors=anchors, samples=samples, grid=grid, **engine_kwargs).curve


def _check_grid(grid):
    g = check_unit_interval(grid, "grid")
    if g.size == 0:
        raise ValueError("grid must contain at least one distance")
    if (np.diff(g) <= 0).any():
        raise ValueError(f"grid must be strictly increasing; got {g[:8].tolist()}...")
    return g


def _check_curves(obs_curve, ref_curves, grid, monotone):
    """Validate (obs, refs, grid): shapes agree, finite, and (optionally) non-decreasing."""
    obs = None
    if obs_curve is not None:
        obs = np.asarray(obs_curve, dtype=np.float64)
        if obs.ndim != 1:
            raise ValueError(f"obs_curve must be a 1-D curve of shape (G,); got shape {obs.shape}")
    ref = np.asarray(ref_curves, dtype=np.float64)
    if ref.ndim != 2:
        raise ValueError(f"ref_curves must be a 2-D array of shape (s, G), one curve per row; got shape {ref.shape}")
    if obs is not None and ref.shape[1] != obs.shape[0]:
        raise ValueError(
            f"ref_curves has {ref.shape[1]} grid points per curve but obs_curve has {obs.shape[0]}; "
            "both must be evaluated on the same grid"
        )
    if grid is not None:
        grid = _check_grid(grid)
        if grid.shape[0] != ref.shape[1]:
            raise ValueError(f"grid has {grid.shape[0]} points but the curves have {ref.shape[1]}")
    for name, arr in (("obs_curve", obs), ("ref_curves", ref)):
        if arr is None:
            continue
        if not np.isfinite(arr).all():
            raise ValueError(f"{name} contains NaN or inf values")
        if monotone and (np.diff(arr, axis=-1) < 0).any():
            where = np.argwhere(np.diff(np.atleast_2d(arr), axis=-1) < 0)[0]
            raise ValueError(
                f"{name} must be non-decreasing along the grid (cumulative neighbour counts); "
                f"row {where[0]} decreases after grid index {where[1]}. Pass monotone=False for other curves."
            )
    return obs, ref, grid


def _check_alpha(alpha):
    if not (isinstance(alpha, (float, int, np.floating)) and 0 < float(alpha) < 1):
        raise ValueError(f"alpha must be a float in (0, 1); got {alpha!r}")
    return float(alpha)


def min_reference_curves(alpha: float) -> int:
    """Smallest number s of reference curves for which a Monte Carlo test at level alpha can reject.

    The smallest attainable p-value is 1/(s + 1), so s >= ceil(1/alpha) - 1 (19 for 0.05).
    This is a hard floor, not a recommendation: Myllymaki et al. advise s >= 2499 for
    stable ERL p-values; a few hundred suffice for a decision at 0.05 with MAD.
    """
    alpha = _check_alpha(alpha)
    return int(math.ceil(1.0 / alpha - 1e-9)) - 1


# ---------------------------------------------------------------------------------
# the paper's pointwise band (seed 001, Algorithm 1)
# ---------------------------------------------------------------------------------
@dataclass(repr=False)
class PointwiseBand:
    """Pointwise (1 - alpha) band: the alpha/2 and 1 - alpha/2 percentiles at each d.

    Attributes
    ----------
    lo, hi : (G,) float64   band edges (on the scale of the curves)
    alpha : float
    n_ref : int             number of reference curves
    grid : (G,) or None
    """

    lo: np.ndarray
    hi: np.ndarray
    alpha: float
    n_ref: int
    grid: np.ndarray | None = None

    def outside(self, obs_curve) -> np.ndarray:
        """(G,) bool: where ``obs_curve`` lies strictly outside the band."""
        obs = np.asarray(obs_curve, dtype=np.float64)
        if obs.shape != self.lo.shape:
            raise ValueError(f"obs_curve must have shape {self.lo.shape} (the band's grid); got {obs.shape}")
        return (obs < self.lo) | (obs > self.hi)

    def rejects(self, obs_curve) -> bool:
        """The paper's decision: reject "R_obs clusters like R_ref" if the curve leaves the band anywhere."""
        return bool(self.outside(obs_curve).any())

    def __repr__(self):
        return f"PointwiseBand(alpha={self.alpha}, n_ref={self.n_ref}, points={self.lo.shape[0]})"


def pointwise_band(ref_curves, alpha: float = 0.05, *, grid=None, monotone: bool = True) -> PointwiseBand:
    """The paper's pointwise band over reference curves (seed 001, Algorithm 1).

    The lower and upper edges are the ``100 alpha/2`` and ``100 (1 - alpha/2)``
    percentiles at each d (2.5 and 97.5 for alpha = 0.05; the authors' code has a
    2.5/47.5 typo, which we do not copy).  Percentiles use numpy's default linear
    interpolation.  Use :meth:`PointwiseBand.rejects` for the paper's decision rule.

    Parameters
    ----------
    ref_curves : (q, G) curves of the reference anchors R_ref
    alpha : pointwise level
    grid : (G,) optional, only checked against the curves' length
    monotone : require non-decreasing curves (cumulative counts)
    """
    alpha = _check_alpha(alpha)
    _, ref, grid = _check_curves(None, ref_curves, grid, monotone)
    need = int(math.ceil(2.0 / alpha - 1e-9))
    if ref.shape[0] < need:
        raise ValueError(
            f"ref_curves has {ref.shape[0]} curves; a pointwise band at alpha={alpha} needs at least "
            f"{need} (= 2/alpha) so that its alpha/2 percentile is not just the minimum"
        )
    lo, hi = np.percentile(ref, [100 * alpha / 2, 100 * (1 - alpha / 2)], axis=0)
    return PointwiseBand(lo=lo, hi=hi, alpha=alpha, n_ref=int(ref.shape[0]), grid=grid)


# ---------------------------------------------------------------------------------
# global envelope tests (ERL and studentised MAD)
# ---------------------------------------------------------------------------------
@dataclass(repr=False)
class GlobalEnvelopeTest:
    """Result of :func:`global_envelope_test`.

    Attributes
    ----------
    kind : "erl" or "mad"
    transform : "log", "sqrt" or None (variance stabilisation used by MAD; ERL is rank based)
    alternative : "two-sided", "greater" or "less"
    alpha : float
    lo, hi : (G,) float64   the 100(1 - alpha)% global envelope, on the scale of the input curves
    p_value : float         Monte Carlo p-value, the observed curve counted: (1 + #{ref at least as extreme}) / (s + 1)
    reject : bool           p_value <= alpha
    outside : (G,) bool     where the observed curve leaves the envelope
    outside_radii : (k,)    grid values where it does (indices when no grid was given)
    statistic : float       MAD: max studentised deviation of the observed curve; ERL: its extreme rank
    n_ref : int             s, the number of reference curves
    """

    kind: str
    transform: str | None
    alternative: str
    alpha: float
    lo: np.ndarray
    hi: np.ndarray
    p_value: float
    reject: bool
    outside: np.ndarray
    outside_radii: np.ndarray
    statistic: float
    n_ref: int
    grid: np.ndarray | None = None

    def __repr__(self):
        radii = np.round(self.outside_radii, 4).tolist()
        if len(radii) > 6:
            radii = radii[:3] + ["..."] + radii[-2:]
        return (
            f"GlobalEnvelopeTest(kind={self.kind!r}, transform={self.transform!r}, alternative={self.alternative!r}, "
            f"alpha={self.alpha}, n_ref={self.n_ref}, p_value={self.p_value:.4g}, reject={self.reject}, "
            f"outside_radii={radii})"
        )


def _forward(y, transform):
    if transform is None:
        return y
    if (y < 0).any():
        raise ValueError(f"transform={transform!r} needs non-negative curves (counts); use transform=None")
    return np.log1p(y) if transform == "log" else np.sqrt(y)


def _inverse(t, transform):
    if transform is None:
        return t
    t = np.maximum(t, 0.0)  # counts are >= 0: an envelope edge below transform(0) cannot be crossed
    return np.expm1(t) if transform == "log" else t * t


def _pointwise_extreme_ranks(y, alternative):
    """(N, G) pointwise ranks, 1 = most extreme; ties get the average rank (as GET does)."""
    n = y.shape[0]
    up = stats.rankdata(y, method="average", axis=0)  # 1 = smallest
    down = n + 1 - up  # 1 = largest
    if alternative == "greater":
        return down
    if alternative == "less":
        return up
    return np.minimum(up, down)


def _lexicographic_at_least_as_extreme(sorted_ranks):
    """For each row i: #{j : rank vector j <=_lex rank vector i} (ties counted, i included).

    Rows are ascending-sorted pointwise ranks; lexicographically smaller = more extreme
    (ERL: the curve with the longest run of most-extreme ranks comes first).
    """
    uniq, inverse, counts = np.unique(sorted_ranks, axis=0, return_inverse=True, return_counts=True)
    # np.unique orders rows lexicographically (first column is the primary key).
    cum = np.cumsum(counts)
    return cum[np.asarray(inverse).ravel()]


def _erl(raw, alpha, alternative):
    """ERL on the (N, G) curves, observed first -> (lo, hi, outside, p, extreme rank of obs)."""
    n_all = raw.shape[0]
    ranks = np.sort(_pointwise_extreme_ranks(raw, alternative), axis=1)
    p_all = _lexicographic_at_least_as_extreme(ranks) / n_all
    central = raw[p_all > alpha]  # the curves not among the alpha most extreme
    lo, hi = central.min(axis=0), central.max(axis=0)
    obs = raw[0]
    below, above = obs < lo, obs > hi
    outside = {"greater": above, "less": below}.get(alternative, below | above)
    return lo, hi, outside, float(p_all[0]), float(ranks[0, 0])


def _mad(y, alpha, alternative, transform):
    """Studentised MAD on the transformed (N, G) curves, observed first."""
    n_all = y.shape[0]
    centre = y.mean(axis=0)
    sd = y.std(axis=0, ddof=1)
    informative = sd > 0  # all curves equal there (the observed one included): no information
    dev = np.zeros_like(y)
    dev[:, informative] = (y[:, informative] - centre[informative]) / sd[informative]
    signed = {"greater": dev, "less": -dev}.get(alternative, np.abs(dev))
    t = signed.max(axis=1)
    p_value = float((t >= t[0]).sum() / n_all)
    k = int(math.floor(alpha * n_all + 1e-9))
    u = float(np.sort(t)[::-1][k])  # (k+1)-th largest: T_obs > u  <=>  #{T_i >= T_obs} <= k  <=>  p <= alpha
    lo = _inverse(centre - u * sd, transform) if alternative != "greater" else np.full_like(centre, -np.inf)
    hi = _inverse(centre + u * sd, transform) if alternative != "less" else np.full_like(centre, np.inf)
    return lo, hi, signed[0] > u, p_value, float(t[0])


def global_envelope_test(
    obs_curve,
    ref_curves,
    *,
    alpha: float = 0.05,
    kind: str = "erl",
    transform: str | None = "log",
    alternative: str = "two-sided",
    grid=None,
    monotone: bool = True,
) -> GlobalEnvelopeTest:
    """Global envelope test of one curve against s reference curves.

    The s + 1 curves (observed first) are ordered from most to least extreme, the
    observed curve included in every summary so that the test is exact when the curves
    are exchangeable under the null.

    * ``kind="erl"`` (extreme rank length).  Pointwise ranks at each d (1 = most
      extreme; two-sided: ``min(rank from below, rank from above)``; ties: average
      rank).  Each curve's ranks are sorted ascending and the vectors compared
      lexicographically; ``p = #{i : R_i <=_lex R_obs} / (s + 1)``.  Identical rank
      vectors tie and are all counted.  The envelope is the pointwise min/max of the
      curves with ``p_i > alpha``.  Rank based: ``transform`` does not change it.
    * ``kind="mad"`` (studentised maximum absolute deviation).  On the transformed
      curves ``y``: ``T_i = max_d |y_i(d) - mean(d)| / sd(d)`` with mean and sd over all
      s + 1 curves (points with sd = 0 carry no information and are skipped);
      ``p = #{i : T_i >= T_obs} / (s + 1)``; the envelope is ``mean +/- u sd`` with
      ``u`` the (floor(alpha (s+1)) + 1)-th largest T, so the curve leaves it iff p <= alpha.

    Parameters
    ----------
    obs_curve : (G,) the observed curve (e.g. the worst-case anchor's neighbour curve)
    ref_curves : (s, G) reference curves, exchangeable with obs_curve under the null
    alpha : level of the test, in (0, 1); needs s >= ceil(1/alpha) - 1
    kind : "erl" or "mad"
    transform : "log" (log1p), "sqrt" or None; a variance-stabilising map applied before MAD
    alternative : "two-sided" (the paper's band), "greater" (more clustered than the
        references) or "less"
    grid : (G,) optional; used to report ``outside_radii`` and checked against G
    monotone : require non-decreasing curves (cumulative neighbour counts)

    Returns
    -------
    GlobalEnvelopeTest
    """
    alpha = _check_alpha(alpha)
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}; got {kind!r}")
    if transform not in TRANSFORMS:
        raise ValueError(f"transform must be one of {TRANSFORMS}; got {transform!r}")
    if alternative not in ALTERNATIVES:
        raise ValueError(f"alternative must be one of {ALTERNATIVES}; got {alternative!r}")
    obs, ref, grid = _check_curves(obs_curve, ref_curves, grid, monotone)
    s = ref.shape[0]
    need = min_reference_curves(alpha)
    if s < need:
        raise ValueError(
            f"ref_curves has {s} curves; a global test at alpha={alpha} needs at least {need} "
            f"(the smallest p-value is 1/(s+1)); use a few hundred or more for a stable decision"
        )
    raw = np.vstack([obs[None, :], ref])  # (N, G), observed first
    if kind == "erl":
        lo, hi, outside, p_value, statistic = _erl(raw, alpha, alternative)
    else:
        lo, hi, outside, p_value, statistic = _mad(_forward(raw, transform), alpha, alternative, transform)
    where = np.flatnonzero(outside)
    return GlobalEnvelopeTest(
        kind=kind,
        transform=transform,
        alternative=alternative,
        alpha=alpha,
        lo=np.asarray(lo, dtype=np.float64),
        hi=np.asarray(hi, dtype=np.float64),
        p_value=p_value,
        reject=bool(p_value <= alpha),
        outside=outside,
        outside_radii=grid[where] if grid is not None else where.astype(np.float64),
        statistic=statistic,
        n_ref=int(s),
        grid=grid,
    )


# ---------------------------------------------------------------------------------
# the worst case and its selection-aware calibration
# ---------------------------------------------------------------------------------
SELECTIONS = ("anchors", "samples")


@dataclass(repr=False)
class WorstCase:
    """The worst-case anchor I_w, its neighbour curve and reference curves (Algorithm 1).

    Attributes
    ----------
    worst : int                 index of I_w in the anchors
    count : int                 its selection count N(I_w, ., r)
    curve : (G,) int64          N(I_w, samples, d) on the grid
    ref_index : (q,) int64      indices of the random reference anchors R_ref (I_w excluded)
    ref_curves : (q, G) int64   their curves
    grid : (G,) float64
    r : float                   selection radius
    selection : "anchors" or "samples"
    """

    worst: int
    count: int
    curve: np.ndarray
    ref_index: np.ndarray
    ref_curves: np.ndarray
    grid: np.ndarray
    r: float
    selection: str

    def __repr__(self):
        return (
            f"WorstCase(worst={self.worst}, count={self.count}, r={self.r}, selection={self.selection!r}, "
            f"n_ref={len(self.ref_index)}, curve_end={int(self.curve[-1])})"
        )


def worst_case_curves(
    anchors,
    samples,
    *,
    r: float = 0.25,
    n_ref: int | None = None,
    grid=PAPER_GRID,
    selection: str = "anchors",
    seed: int = 0,
    **engine_kwargs,
) -> WorstCase:
    """Select I_w and compute its neighbour curve and those of q random reference anchors.

    ``selection="anchors"`` follows seed 001, Algorithm 1: ``N(I, S minus I, r)`` is
    counted inside the anchor set S = ``anchors`` (self excluded) and the curves are
    counted on the independent ``samples`` T.  ``selection="samples"`` follows paper
    000 and the authors' code: ``I_w = argmax N(I, C, r)`` on the same samples whose
    curves are then compared, so the curve at d = r is a maximum by construction.

    Parameters
    ----------
    anchors : (m, D) unit vectors (S, or A)
    samples : (n, D) unit vectors (T, or C)
    r : selection radius (the authors use 0.25)
    n_ref : number q of reference anchors drawn at random from the anchors other than
        I_w (default: all of them)
    grid : curve grid
    selection : "anchors" or "samples"
    seed : seed of the reference draw
    """
    if selection not in SELECTIONS:
        raise ValueError(f"selection must be one of {SELECTIONS}; got {selection!r}")
    a = validate_unit(anchors, "anchors")
    grid = _check_grid(grid)
    (r,) = check_unit_interval(r, "r")
    m = a.shape[0]
    n_ref = m - 1 if n_ref is None else int(n_ref)
    if not (0 <= n_ref <= m - 1):
        raise ValueError(f"n_ref must be between 0 and len(anchors) - 1 = {m - 1}; got {n_ref}")
    if selection == "anchors":
        counts = neighbor_stats(anchors=a, samples=a, radii=(r,), **engine_kwargs).counts[:, 0] - 1  # minus self
        worst = int(np.lexsort((np.arange(m), -counts))[0])
        rng = np.random.default_rng(seed)
        ref_index = np.sort(rng.choice(np.delete(np.arange(m), worst), size=n_ref, replace=False))
        idx = np.concatenate([[worst], ref_index])
        curves = neighbor_curves(a[idx], samples, grid=grid, **engine_kwargs)
        curve, ref_curves = curves[0], curves[1:]
    else:
        st = neighbor_stats(anchors=a, samples=samples, radii=(r,), grid=grid, **engine_kwargs)
        counts = st.counts[:, 0]
        worst = int(np.lexsort((np.arange(m), -counts))[0])
        rng = np.random.default_rng(seed)
        ref_index = np.sort(rng.choice(np.delete(np.arange(m), worst), size=n_ref, replace=False))
        curve, ref_curves = st.curve[worst], st.curve[ref_index]
    return WorstCase(
        worst=worst,
        count=int(counts[worst]),
        curve=curve,
        ref_index=ref_index.astype(np.int64),
        ref_curves=ref_curves,
        grid=grid,
        r=float(r),
        selection=selection,
    )


def _embeddings(out):
    x = getattr(out, "x", out)
    return np.asarray(x)


def null_worst_case_curves(
    null_world: Callable,
    *,
    n_anchors: int,
    n_samples: int,
    n_worlds: int = 199,
    r: float = 0.25,
    grid=PAPER_GRID,
    selection: str = "anchors",
    seed: int = 0,
    progress: bool | None = None,
    **engine_kwargs,
) -> np.ndarray:
    """Worst-case curves of ``n_worlds`` independent null worlds (the null law of a maximum).

    Each world draws ``n_anchors`` anchors and ``n_samples`` samples from
    ``null_world`` and runs exactly the selection of :func:`worst_case_curves`; the
    curve of its I_w is kept.  Use the same sizes, r, grid and selection as for the
    observed worst case, otherwise the comparison is meaningless.

    Parameters
    ----------
    null_world : callable ``(seed, n) -> (n, D) unit vectors`` (or a Batch, whose ``x``
        is used): a world *without* collapse, e.g. embedded real data, or for the
        planted sphere ``PlantedSphere(dim, masses=())``.
    n_anchors, n_samples : |A| (or |S|) and |C| (or |T|) of the observed run
    n_worlds : number of null worlds s (>= ceil(1/alpha) - 1 for a test at alpha)

    Returns
    -------
    (n_worlds, G) int64 array
    """
    if not callable(null_world):
        raise TypeError(f"null_world must be a callable (seed, n) -> (n, D) unit vectors; got {type(null_world).__name__}")
    if int(n_worlds) < 1:
        raise ValueError(f"n_worlds must be >= 1; got {n_worlds}")
    grid = _check_grid(grid)
    if progress is None:
        import sys

        progress = sys.stderr.isatty()
    worlds = range(int(n_worlds))
    if progress:
        from tqdm.auto import tqdm

        worlds = tqdm(worlds, desc="null worlds")
    out = np.empty((int(n_worlds), grid.shape[0]), dtype=np.int64)
    for i in worlds:
        ss = np.random.SeedSequence([int(seed), i]).generate_state(2)
        anchors = _embeddings(null_world(int(ss[0]), int(n_anchors)))
        samples = _embeddings(null_world(int(ss[1]), int(n_samples)))
        wc = worst_case_curves(anchors, samples, r=r, n_ref=0, grid=grid, selection=selection, **engine_kwargs)
        out[i] = wc.curve
    return out


def worst_case_test(
    worst: WorstCase,
    null_curves,
    *,
    alpha: float = 0.05,
    kind: str = "erl",
    transform: str | None = "log",
    alternative: str = "greater",
) -> GlobalEnvelopeTest:
    """Selection-aware test of the worst case: its curve against null worlds' worst-case curves.

    Under H0 ("the generator's densest anchor is no denser than the densest of |A|
    anchors in a collapse-free world") the observed curve and the null curves are
    i.i.d. draws of the same maximum, hence exchangeable, and the global envelope test
    is exact.  One-sided ("greater": more clustered) by default: collapse only adds
    neighbours.
    """
    if not isinstance(worst, WorstCase):
        raise TypeError(f"worst must be a WorstCase (from worst_case_curves); got {type(worst).__name__}")
    return global_envelope_test(
        worst.curve, null_curves, alpha=alpha, kind=kind, transform=transform, alternative=alternative, grid=worst.grid
    )


# ---------------------------------------------------------------------------------
# bootstrap intervals
# ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class BootstrapCI:
    """A percentile bootstrap interval."""

    estimate: float
    lo: float
    hi: float
    se: float
    level: float
    n_boot: int

    def covers(self, value) -> bool:
        return bool(self.lo <= value <= self.hi)

    def __repr__(self):
        return (
            f"BootstrapCI(estimate={self.estimate:.4f}, {100 * self.level:g}% [{self.lo:.4f}, {self.hi:.4f}], "
            f"se={self.se:.4f}, n_boot={self.n_boot})"
        )


@dataclass(frozen=True)
class PopulationCI:
    """Bootstrap intervals for mu and sigma of MCCS over the anchors."""

    mu: BootstrapCI
    sigma: BootstrapCI

    def __repr__(self):
        return f"PopulationCI(mu={self.mu!r}, sigma={self.sigma!r})"


def _check_level(level):
    if not (0 < float(level) < 1):
        raise ValueError(f"level must be in (0, 1); got {level!r}")
    return float(level)


def _check_n_boot(n_boot):
    if int(n_boot) < 100:
        raise ValueError(f"n_boot must be >= 100 for a percentile interval; got {n_boot}")
    return int(n_boot)


def similarity_contributions(anchor, samples, theta: float) -> np.ndarray:
    """Per-sample similarities ``s(d(anchor, c))`` for one anchor, float64.

    Parameters
    ----------
    anchor : (D,) or (1, D) unit vector
    samples : (n, D) unit vectors, or an iterable of shards
    theta : kernel width

    Returns
    -------
    (n,) float64; its mean is ``neighbor_stats(..., theta=theta).mean_similarity``.
    """
    theta = check_theta(theta)
    a = validate_unit(np.atleast_2d(anchor), "anchor")
    if a.shape[0] != 1:
        raise ValueError(f"anchor must be a single vector; got {a.shape[0]} rows")
    a = a[0].astype(np.float64)
    shards = [samples] if isinstance(samples, np.ndarray) else samples
    out = []
    for j, shard in enumerate(shards):
        c = validate_unit(shard, "samples" if isinstance(samples, np.ndarray) else f"samples shard {j}", a.shape[0])
        cos = c.astype(np.float64) @ a
        s = np.zeros(cos.shape[0])
        near = cos > cos_threshold(theta)  # s = 0 at and beyond theta: skip the arccos
        s[near] = similarity(np.arccos(np.clip(cos[near], -1, 1)) / np.pi, theta)
        out.append(s)
    if not out:
        raise ValueError("samples is empty")
    return np.concatenate(out)


def _bootstrap_means(values, n_boot, rng, batch=256):
    """Exact bootstrap distribution of mean(values) via a multinomial over the non-zero values."""
    n = values.shape[0]
    nz = values[values != 0]
    k = nz.shape[0]
    if k == 0:
        return np.zeros(n_boot)
    pvals = np.append(np.full(k, 1.0 / n), (n - k) / n)
    pvals[-1] = max(0.0, 1.0 - pvals[:-1].sum())
    means = np.empty(n_boot)
    for start in range(0, n_boot, batch):
        b = min(batch, n_boot - start)
        w = rng.multinomial(n, pvals, size=b)[:, :k]
        means[start : start + b] = (w @ nz) / n
    return means


def bootstrap_mccs(
    anchor,
    samples,
    *,
    theta: float,
    form: str = "code",
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> BootstrapCI:
    """Percentile bootstrap interval for MCCS(anchor) over the samples C.

    Resamples C with replacement (exactly, via a multinomial over the non-zero
    similarity contributions).  MCCS is increasing in the mean similarity, so the
    percentile interval of MCCS is MCCS of the percentile interval of the mean.

    The interval is for a *fixed* anchor.  For I_w selected on the same C it can
    under-cover (the winner's curse; small in notebook 02's planted world, where I_w sits
    well inside the planted identity); to be safe, select I_w on the anchors (Algorithm 1)
    or on one half of the samples and bootstrap on the other.
    """
    level, n_boot = _check_level(level), _check_n_boot(n_boot)
    if form not in MCCS_FORMS:
        raise ValueError(f"form must be one of {MCCS_FORMS}; got {form!r}")
    s = similarity_contributions(anchor, samples, theta)
    means = _bootstrap_means(s, n_boot, np.random.default_rng(seed))
    boot = mccs(means, form=form)
    q = (1 - level) / 2
    lo, hi = np.quantile(boot, [q, 1 - q])
    finite = boot[np.isfinite(boot)]
    return BootstrapCI(
        estimate=float(mccs(s.mean(), form=form)),
        lo=float(lo),
        hi=float(hi),
        se=float(finite.std(ddof=1)) if finite.size > 1 else float("nan"),
        level=level,
        n_boot=n_boot,
    )


def bootstrap_population(mccs_values, *, n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> PopulationCI:
    """Percentile bootstrap intervals for mu and sigma (ddof = 1) of per-anchor MCCS, resampling A.

    Parameters
    ----------
    mccs_values : (m,) MCCS of the m anchors (m >= 3)
    """
    level, n_boot = _check_level(level), _check_n_boot(n_boot)
    v = np.asarray(mccs_values, dtype=np.float64).ravel()
    if v.size < 3 or not np.isfinite(v).all():
        raise ValueError(f"mccs_values must hold at least 3 finite values; got {v.size}")
    rng = np.random.default_rng(seed)
    mus, sigmas = np.empty(n_boot), np.empty(n_boot)
    for start in range(0, n_boot, 256):
        b = min(256, n_boot - start)
        sample = v[rng.integers(0, v.size, size=(b, v.size))]
        mus[start : start + b] = sample.mean(axis=1)
        sigmas[start : start + b] = sample.std(axis=1, ddof=1)
    q = (1 - level) / 2

    def ci(est, boot):
        lo, hi = np.quantile(boot, [q, 1 - q])
        return BootstrapCI(float(est), float(lo), float(hi), float(boot.std(ddof=1)), level, n_boot)

    return PopulationCI(mu=ci(v.mean(), mus), sigma=ci(v.std(ddof=1), sigmas))


# ---------------------------------------------------------------------------------
# sample-size planning
# ---------------------------------------------------------------------------------
def _mccs_slope(m, form):
    """d MCCS / d mean_similarity."""
    m = np.asarray(m, dtype=np.float64)
    if form == "paper":
        return 1.0 / (m * (1.0 - np.log(m)) ** 2)
    return np.log(10.0) / (m * np.log(m) ** 2)


def mccs_standard_error(mean_similarity, sd_similarity, n_samples, *, form: str = "code"):
    """Delta-method standard error of MCCS from |C| = n_samples samples.

    ``se = |dMCCS/dm| * sd(s) / sqrt(n)`` with m the mean similarity and sd(s) the
    standard deviation of one sample's similarity contribution.
    """
    if form not in MCCS_FORMS:
        raise ValueError(f"form must be one of {MCCS_FORMS}; got {form!r}")
    m = float(mean_similarity)
    if not (0 < m < 1):
        raise ValueError(f"mean_similarity must be in (0, 1) for the delta method; got {mean_similarity}")
    return float(_mccs_slope(m, form) * float(sd_similarity) / np.sqrt(float(n_samples)))


@dataclass(frozen=True)
class SamplePlan:
    """How many samples |C| give MCCS(I') to +/- half_width at the given level."""

    n_samples: int
    half_width: float
    level: float
    mean_similarity: float
    sd_similarity: float
    mccs: float
    form: str

    def __repr__(self):
        return (
            f"SamplePlan(n_samples={self.n_samples}, MCCS={self.mccs:.4f} +/- {self.half_width} at "
            f"{100 * self.level:g}%, form={self.form!r})"
        )


@dataclass(frozen=True)
class AnchorPlan:
    """How many anchors |A| give mu and sigma of MCCS to the requested half-widths."""

    n_anchors_mu: int | None
    n_anchors_sigma: int | None
    mu: float
    sigma: float
    level: float

    @property
    def n_anchors(self) -> int:
        return int(max(v for v in (self.n_anchors_mu, self.n_anchors_sigma) if v is not None))

    def __repr__(self):
        return (
            f"AnchorPlan(n_anchors={self.n_anchors}, for mu={self.n_anchors_mu}, for sigma={self.n_anchors_sigma}, "
            f"pilot mu={self.mu:.4f}, sigma={self.sigma:.4f}, level={self.level})"
        )


def samples_needed(pilot_similarities, *, half_width: float, level: float = 0.95, form: str = "code") -> SamplePlan:
    """|C| for a (level) interval of half-width ``half_width`` on MCCS(I'), from a pilot.

    Parameters
    ----------
    pilot_similarities : (n0,) per-sample contributions ``s(d(I', c))`` of a pilot run
        (:func:`similarity_contributions`)
    half_width : target half-width of the interval on the MCCS scale

    Notes
    -----
    ``n = (z * |dMCCS/dm| * sd(s) / half_width)^2`` (delta method, normal approximation).
    """
    level = _check_level(level)
    s = np.asarray(pilot_similarities, dtype=np.float64).ravel()
    if s.size < 2 or (s < 0).any() or (s > 1).any():
        raise ValueError("pilot_similarities must hold at least 2 similarity values in [0, 1]")
    if not float(half_width) > 0:
        raise ValueError(f"half_width must be > 0; got {half_width}")
    m, sd = float(s.mean()), float(s.std(ddof=1))
    if not (0 < m < 1):
        raise ValueError(f"the pilot's mean similarity is {m}; need some (but not all) samples within theta of the anchor")
    z = stats.norm.ppf(0.5 + level / 2)
    n = int(math.ceil((z * _mccs_slope(m, form) * sd / float(half_width)) ** 2))
    return SamplePlan(
        n_samples=max(n, 2),
        half_width=float(half_width),
        level=level,
        mean_similarity=m,
        sd_similarity=sd,
        mccs=float(mccs(m, form=form)),
        form=form,
    )


def anchors_needed(
    pilot_mccs, *, mu_half_width: float | None = None, sigma_half_width: float | None = None, level: float = 0.95
) -> AnchorPlan:
    """|A| for intervals of the requested half-widths on mu and/or sigma of MCCS, from a pilot.

    ``se(mu) = sigma / sqrt(n)``; ``se(sigma) = sqrt((m4 - sigma^4) / n) / (2 sigma)``
    (delta method on the sample variance; m4 the fourth central moment of the pilot).
    """
    level = _check_level(level)
    v = np.asarray(pilot_mccs, dtype=np.float64).ravel()
    if v.size < 3 or not np.isfinite(v).all():
        raise ValueError(f"pilot_mccs must hold at least 3 finite values; got {v.size}")
    if mu_half_width is None and sigma_half_width is None:
        raise ValueError("give mu_half_width and/or sigma_half_width")
    z = stats.norm.ppf(0.5 + level / 2)
    mu, sigma = float(v.mean()), float(v.std(ddof=1))
    n_mu = n_sigma = None
    if mu_half_width is not None:
        if not mu_half_width > 0:
            raise ValueError(f"mu_half_width must be > 0; got {mu_half_width}")
        n_mu = max(2, int(math.ceil((z * sigma / mu_half_width) ** 2)))
    if sigma_half_width is not None:
        if not sigma_half_width > 0:
            raise ValueError(f"sigma_half_width must be > 0; got {sigma_half_width}")
        if sigma == 0:
            raise ValueError("the pilot's sigma is 0; cannot plan a relative precision for sigma")
        m4 = float(np.mean((v - v.mean()) ** 4))
        n_sigma = max(3, int(math.ceil(z * z * max(m4 - sigma**4, 0.0) / (4 * sigma**2 * sigma_half_width**2))))
    return AnchorPlan(n_anchors_mu=n_mu, n_anchors_sigma=n_sigma, mu=mu, sigma=sigma, level=level)
