"""Neighbour curves and envelope tests on them (seed 001, Algorithm 1; paper 000, section 3).

The neighbour curve ``d -> N(I', C, d)`` (the count of paper 000's Eq. 9 over a grid of radii;
seed 001's Eq. 2, its surrogate for Ripley's K) of the worst-case anchor is compared with the
curves of reference anchors.  Seed 001 calls the worst case collapsed when its curve leaves a
*pointwise* 95% band (:func:`pointwise_band`) at the 41 radii of :data:`PAPER_GRID`.  A pointwise
band checked at 41 correlated radii rejects a curve that is exchangeable with the references far
more often than alpha.  :func:`global_envelope_test` is the global envelope test of Myllymaki et
al. (2017, "Global envelope tests for spatial processes", JRSS-B) with either the extreme rank
length (ERL) ordering or the studentised maximum absolute deviation (MAD) of Baddeley et al.
(2014).  Its p-value is the Monte Carlo p-value with the observed curve counted among the curves,
so under exchangeability P(p <= alpha) <= alpha exactly; the envelope is the 100(1 - alpha)%
*global* envelope.  Which references make the test meaningful for a selected worst case is the
business of :mod:`bbcollapse.stats.worst_case`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._validation import check_alpha, check_option, check_unit_interval
from ..neighbors import PAPER_GRID, neighbor_stats

__all__ = [
    "GlobalEnvelopeTest",
    "PointwiseBand",
    "global_envelope_test",
    "min_reference_curves",
    "neighbor_curves",
    "pointwise_band",
]

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
    grid = check_grid(grid)
    return neighbor_stats(anchors=anchors, samples=samples, grid=grid, **engine_kwargs).curve


def check_grid(grid) -> np.ndarray:
    """A curve grid: a non-empty, strictly increasing 1-D sequence of distances in [0, 1].

    Parameters
    ----------
    grid : (G,) distances

    Returns
    -------
    (G,) float64 array
    """
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
        grid = check_grid(grid)
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


def min_reference_curves(alpha: float) -> int:
    """Smallest number s of reference curves for which a Monte Carlo test at level alpha can reject.

    The smallest attainable p-value is 1/(s + 1), so s >= ceil(1/alpha) - 1 (19 for 0.05).
    This is a hard floor, not a recommendation: Myllymaki et al. advise s >= 2499 for
    stable ERL p-values; a few hundred suffice for a decision at 0.05 with MAD.
    """
    alpha = check_alpha(alpha)
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

    Returns
    -------
    PointwiseBand
    """
    alpha = check_alpha(alpha)
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
    from scipy import stats  # imported here: `import bbcollapse` stays free of scipy

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
    alpha = check_alpha(alpha)
    check_option(kind, KINDS, "kind")
    check_option(transform, TRANSFORMS, "transform")
    check_option(alternative, ALTERNATIVES, "alternative")
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
