"""Detection power of a metric from replicate draws: Monte Carlo tests against null replicates.

Not an equation of paper 000: how the book asks "does this metric see collapse of this strength?"
(issue 17).  A metric is computed on R0 replicate sample sets of the uncollapsed model (the null)
and on R replicate sets at a collapse strength.  Each collapsed set is tested against the null
replicates by the Monte Carlo p-value (Barnard 1963; Davison and Hinkley 1997, Sec. 4.2)::

    p = (1 + #{null values at least as extreme}) / (R0 + 1)

in the direction in which collapse is declared to push the metric (+1: up, -1: down, 0: either way,
``p = min(1, 2 min(p_up, p_down))``), and rejected when ``p <= alpha``.  Ties count as "at least as
extreme", so the level is at most alpha for exchangeable draws whatever the metric's law (a discrete
count included).  The false-alarm rate is measured by the same rule on each null replicate against
the other R0 - 1 (leave one out).  The effect is ``(mean_alt - mean_null) / sd_null``, signed so that
a positive effect is a move in the declared direction: the effect in units of the metric's own
sampling noise.

:func:`replicate_values` evaluates read-outs on replicate sets drawn from one seed stream each, and
:func:`power_table` tests every condition's read-outs against the null's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .._progress import progress_bar
from .._validation import check_alpha, check_int, check_option
from ..blackbox import shard_seed
from .result import MetricResult

__all__ = [
    "DetectionPower",
    "detection_power",
    "monte_carlo_p_values",
    "standardized_effect",
    "effect_per_unit",
    "replicate_values",
    "power_table",
]

DIRECTIONS = (1, -1, 0)


def _values(x, name, minimum):
    v = np.asarray(x, dtype=np.float64).ravel()
    if v.size < minimum or not np.isfinite(v).all():
        raise ValueError(f"{name} must hold at least {minimum} values, all finite; got {v.size}")
    return v


def monte_carlo_p_values(null, values, *, direction: int) -> np.ndarray:
    """Monte Carlo p-value of each of ``values`` against the ``null`` replicates, in ``direction``."""
    check_option(direction, DIRECTIONS, "direction")
    null = np.sort(_values(null, "null", 1))
    v = _values(values, "values", 1)
    r0 = len(null)
    up = (1 + r0 - np.searchsorted(null, v, side="left")) / (r0 + 1)  # null >= v
    down = (1 + np.searchsorted(null, v, side="right")) / (r0 + 1)  # null <= v
    if direction == 1:
        return up
    if direction == -1:
        return down
    return np.minimum(1.0, 2.0 * np.minimum(up, down))


def _leave_one_out_p_values(null: np.ndarray, direction: int) -> np.ndarray:
    """Each null value's Monte Carlo p-value against the other R0 - 1 (itself counted once in the "1 +")."""
    s, r0 = np.sort(null), len(null)
    up = (r0 - np.searchsorted(s, null, side="left")) / r0  # (1 + #{others >= v}) / R0
    down = np.searchsorted(s, null, side="right") / r0
    if direction == 1:
        return up
    if direction == -1:
        return down
    return np.minimum(1.0, 2.0 * np.minimum(up, down))


def _clopper_pearson(k: int, n: int) -> tuple[float, float]:
    from scipy import stats

    ci = stats.binomtest(int(k), int(n)).proportion_ci(0.95)
    return float(ci.low), float(ci.high)


@dataclass(frozen=True, repr=False)
class DetectionPower(MetricResult):
    """Power and false-alarm rate of a Monte Carlo test at level alpha, and the standardised effect."""

    power: float
    power_ci95: tuple
    false_alarm: float
    false_alarm_ci95: tuple
    effect: float
    n_null: int
    n_alternative: int
    alpha: float
    direction: int

    @property
    def name(self) -> str:
        side = {1: "upper", -1: "lower", 0: "two-sided"}[self.direction]
        return f"Monte Carlo test ({side}, alpha={self.alpha:g}, {self.n_null} null replicates)"


def standardized_effect(null, alternative, *, direction: int) -> float:
    """``(mean_alt - mean_null) / sd_null`` (ddof = 1), times ``direction`` when it is +-1.

    ``inf`` (or ``-inf``) when the null replicates do not vary but the mean moved; 0 when neither moved.
    """
    check_option(direction, DIRECTIONS, "direction")
    n, a = _values(null, "null", 2), _values(alternative, "alternative", 1)
    shift = (a.mean() - n.mean()) * (direction if direction else 1)
    sd = n.std(ddof=1)
    if sd > 0:
        return float(shift / sd)
    return 0.0 if shift == 0 else float(np.copysign(np.inf, shift))


def detection_power(null, alternative, *, direction: int, alpha: float = 0.05) -> DetectionPower:
    """Power of the Monte Carlo test at level ``alpha`` and its false-alarm rate (leave-one-out on the null).

    Parameters
    ----------
    null : (R0,) metric values on replicate sets of the uncollapsed model (R0 >= 1/alpha - 1 for any power)
    alternative : (R,) metric values on replicate sets of the collapsed model
    direction : +1 (collapse raises the metric), -1 (lowers it) or 0 (either way, two-sided)
    alpha : level of the test

    Returns
    -------
    DetectionPower
    """
    alpha = check_alpha(alpha)
    n, a = _values(null, "null", 2), _values(alternative, "alternative", 1)
    k = int((monte_carlo_p_values(n, a, direction=direction) <= alpha).sum())
    fa = int((_leave_one_out_p_values(n, direction) <= alpha).sum())
    return DetectionPower(
        power=k / len(a),
        power_ci95=_clopper_pearson(k, len(a)),
        false_alarm=fa / len(n),
        false_alarm_ci95=_clopper_pearson(fa, len(n)),
        effect=standardized_effect(n, a, direction=direction),
        n_null=len(n),
        n_alternative=len(a),
        alpha=alpha,
        direction=direction,
    )


def effect_per_unit(strengths: Sequence[float], effects: Sequence[float]) -> float:
    """Least-squares slope through the origin of ``effects`` on ``strengths``: effect per unit of collapse.

    Infinite effects (a metric whose null does not vary) give ``inf``; NaN when no strength is nonzero.
    """
    s, e = np.asarray(strengths, np.float64), np.asarray(effects, np.float64)
    if s.shape != e.shape or s.ndim != 1:
        raise ValueError(f"strengths and effects must be 1-D of one length; got {s.shape} and {e.shape}")
    if np.isinf(e).any():
        return float(np.sign(e[np.isinf(e)][0]) * np.inf)
    den = float((s * s).sum())
    return float((s * e).sum() / den) if den > 0 else float("nan")


def replicate_values(
    draw: Callable[[int], object],
    evaluate: Callable[[object, int], Mapping[str, float]],
    *,
    reps: int,
    seed: int,
    stream: int,
    progress: bool | None = None,
) -> dict:
    """Read-outs of ``reps`` replicate sets: ``evaluate(draw(s), s)`` for ``s = shard_seed(seed, stream, i)``.

    Parameters
    ----------
    draw : seed -> one replicate set (anything ``evaluate`` takes)
    evaluate : (set, seed) -> {read-out name: float}; every call must give the same names
    reps : number of replicate sets
    seed, stream : the seed stream of this condition (one stream per condition keeps them independent)
    progress : progress bar (default: only on a terminal)

    Returns
    -------
    dict name -> (reps,) float64
    """
    reps = check_int(reps, "reps", minimum=1)
    rows = []
    with progress_bar(progress, total=reps, desc="replicates", unit="set") as bar:
        for i in range(reps):
            s = int(shard_seed(seed, stream, i))
            rows.append(dict(evaluate(draw(s), s)))
            bar.update(1)
    names = list(rows[0])
    if any(list(r) != names for r in rows):
        raise ValueError("evaluate returned different read-outs on different sets")
    return {k: np.array([r[k] for r in rows], dtype=np.float64) for k in names}


def power_table(
    null: Mapping[str, np.ndarray],
    conditions: Mapping[object, Mapping[str, np.ndarray]],
    *,
    directions: Mapping[str, int],
    alpha: float = 0.05,
) -> dict:
    """:func:`detection_power` of every read-out of every condition against the null's replicates.

    Parameters
    ----------
    null : read-out name -> (R0,) values on null replicate sets
    conditions : condition key -> (read-out name -> (R,) values)
    directions : read-out name -> +1, -1 or 0 (see :func:`monte_carlo_p_values`)
    alpha : level of every test

    Returns
    -------
    dict condition key -> (read-out name -> DetectionPower)
    """
    missing = sorted(set(null) - set(directions))
    if missing:
        raise ValueError(f"no declared direction for read-out(s) {missing}")
    return {
        key: {k: detection_power(null[k], vals[k], direction=directions[k], alpha=alpha) for k in null}
        for key, vals in conditions.items()
    }
