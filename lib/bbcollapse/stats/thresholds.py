"""theta and r for any descriptor, read off distances: the documented rule, and how well distances separate.

The paper's two distances (paper 000, Sec. 3) need values for each descriptor: ``theta``, the
width of the similarity kernel ``s(d)`` (Eq. 3), and ``r``, the radius of the neighbour count
``N(I0, S, r)`` (Eq. 5).  Both are read off two samples of normalised angular distances:

* *same*: between an output and identity-preserving views of it (a face flipped or shifted, an
  image augmented as in training; :func:`bbcollapse.choose_theta` makes them for any sampler);
* *diff*: between different outputs of the model.

:func:`choose_theta_r` is the rule (r = the 95% quantile of *same*, theta = the 5% quantile of
*diff*, at least r) and :func:`separation` scores how well the two samples separate (d', AUC, equal
error rate).  The rule is the same for every subject: the book applies it to the face descriptors
(chapter 3), the lab's descriptors (chapter 6), and ``bbcollapse choose-theta`` to a user's own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import check_fraction

__all__ = ["ThetaR", "choose_theta_r", "equal_error", "separation"]


@dataclass(frozen=True)
class ThetaR:
    """The similarity width ``theta`` and neighbour radius ``r`` with the evidence behind them.

    Attributes
    ----------
    theta, r : chosen values (normalised angular distances)
    same_q : quantile ``q_same`` of same-identity view distances (= r)
    diff_q : quantile ``q_diff`` of distances between different samples (theta unless below r)
    eer_distance : distance where the false-match and false-non-match rates are equal
    eer : that error rate
    rule : the rule in words, with its quantiles
    """

    theta: float
    r: float
    same_q: float
    diff_q: float
    eer_distance: float
    eer: float
    rule: str

    def __repr__(self):
        return (
            f"ThetaR(theta={self.theta:.3f}, r={self.r:.3f}, eer_distance={self.eer_distance:.3f}, eer={self.eer:.3f})"
        )


def _distances(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float64).ravel()


def equal_error(same, diff) -> tuple[float, float]:
    """(distance, rate) where same pairs farther than d and different pairs within d are equally frequent."""
    same, diff = _distances(same), _distances(diff)
    grid = np.unique(np.concatenate([same, diff]))
    fnmr = 1.0 - np.searchsorted(np.sort(same), grid, side="right") / len(same)  # same pairs farther than d
    fmr = np.searchsorted(np.sort(diff), grid, side="right") / len(diff)  # different pairs within d
    i = int(np.argmin(np.abs(fnmr - fmr)))
    return float(grid[i]), float((fnmr[i] + fmr[i]) / 2)


def separation(same, diff) -> dict:
    """How well distances separate identities: d', AUC and the equal error rate.

    ``d' = (mean diff - mean same) / sqrt((var same + var diff) / 2)``; AUC is
    P(a same-identity distance < a different-sample distance) (ties count one half).
    """
    same, diff = _distances(same), _distances(diff)
    dprime = (diff.mean() - same.mean()) / np.sqrt((same.var(ddof=1) + diff.var(ddof=1)) / 2)
    ds = np.sort(diff)
    less = len(ds) - np.searchsorted(ds, same, side="right")
    ties = np.searchsorted(ds, same, side="right") - np.searchsorted(ds, same, side="left")
    auc = float((less + 0.5 * ties).sum() / (len(same) * len(ds)))
    eer_d, eer = equal_error(same, diff)
    return {
        "dprime": float(dprime),
        "auc": auc,
        "eer": eer,
        "eer_distance": eer_d,
        "same_median": float(np.median(same)),
        "same_q95": float(np.quantile(same, 0.95)),
        "diff_q05": float(np.quantile(diff, 0.05)),
        "diff_median": float(np.median(diff)),
    }


def choose_theta_r(same, diff, *, q_same: float = 0.95, q_diff: float = 0.05) -> ThetaR:
    """Data-driven theta and r for a descriptor (the rule every subject uses).

    Rule (the paper's roles for r and theta, read off two distance samples):

    * ``r`` (the neighbourhood of a mode, "is this the same identity?") is the
      ``q_same`` quantile of distances between views of one identity, so a mode's own
      views fall within r with probability q_same;
    * ``theta`` (where the similarity kernel vanishes) is the ``q_diff`` quantile of
      distances between different samples, so the kernel only credits pairs closer
      than all but a fraction q_diff of unrelated pairs; if that is below r, theta = r.

    The equal-error distance is reported beside them.

    Parameters
    ----------
    same : (p,) distances between views of the same identity (p >= 10)
    diff : (q,) distances between different samples (q >= 10)
    q_same, q_diff : quantiles in (0, 1)

    Returns
    -------
    ThetaR
    """
    same, diff = _distances(same), _distances(diff)
    if same.size < 10 or diff.size < 10:
        raise ValueError(f"need at least 10 same and 10 different distances; got {same.size} and {diff.size}")
    check_fraction(q_same, "q_same")
    check_fraction(q_diff, "q_diff")
    r = float(np.quantile(same, q_same))
    dq = float(np.quantile(diff, q_diff))
    eer_d, eer = equal_error(same, diff)
    return ThetaR(
        theta=max(dq, r),
        r=r,
        same_q=r,
        diff_q=dq,
        eer_distance=eer_d,
        eer=eer,
        rule=f"r = q{q_same:g} of same-identity view distances; "
        f"theta = max(r, q{q_diff:g} of different-sample distances)",
    )
