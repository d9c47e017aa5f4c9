"""The report's decision about I_w and its sample-size plan (issue 18, must-deliver 1).

**The decision.**  I_w is the anchor with the most samples of S within r: a maximum over |A|
anchors, so it looks extreme on S even when no anchor is denser than another (the selection
trap).  Its MCCS on the fresh sample T is not biased by that choice, and T also scores every other
anchor.  The test:

    H0: MCCS(I_w) is no larger than the median anchor's MCCS (I_w is a typical anchor);
    z = (m_T(I_w) - median_j m_T(j)) / (sd_T(s_w) / sqrt(|T|)),   p = 1 - Phi(z),

on the scale of the mean similarity m (Eq. 6), of which MCCS (Eq. 7) is an increasing function, so
that the two nulls are the same and the statistic is a plain sample mean over T (no delta method,
no skew from the transform); sd_T(s_w) is the standard deviation of I_w's per-sample similarity
contributions on T.  Because T is independent of the choice of I_w, m_T(I_w) is an unbiased,
asymptotically normal estimate of I_w's mean similarity, and the median over |A| anchors varies far
less than one anchor's estimate (by a factor about sqrt(pi / (2 |A|))), so the test keeps its level
for large |T|; ``tests/test_decision.py`` measures the level on spheres without collapse (every
anchor equally dense) and the power on planted collapse.  What a small p says: the excess density
of I_w is not a selection artefact, it repeats on fresh samples.  How large it is: ``excess``
(MCCS_T(I_w) minus the median anchor's MCCS_T) and its delta-method interval.

The rank of MCCS_T(I_w) among all anchors is reported beside it, as a description: it cannot
separate a mode holding a fraction w of the anchors from its own members (its p-value would be at
least about w), so it is not the decision.

When at least ``ceil(1/alpha) - 1`` random reference anchors were scored, the paper's own
comparison is added: the global envelope test (extreme rank length, one-sided "greater") of
I_w's neighbour curve on T against the random anchors' curves on T (seed 001, Algorithm 1, but
selected on S and scored on T, which is what keeps its level).

**The plan.**  From I_w's similarity contributions on T (the pilot), the delta method gives the
|T| for an interval of half-width ``precision`` on MCCS(I_w), and from the |A| MCCS values the |A|
for that half-width on mu (:mod:`bbcollapse.stats.planning`).  With ``scoring="split"`` |C| is
twice |T|.
"""

from __future__ import annotations

import math

import numpy as np

from ..stats import (
    GlobalEnvelopeTest,
    anchors_needed,
    global_envelope_test,
    mccs_standard_error,
    pilot_moments,
    samples_needed,
)

__all__ = ["worst_decision", "sample_plan"]

#: the null hypothesis and the statistic, as the report states them
NULL = "MCCS(I_w) is no larger than the median anchor's (I_w, chosen on S, is a typical anchor)"
STATISTIC = "z = (m_T(I_w) - median anchor's m_T) / se of I_w's mean similarity on T; one-sided normal"


def worst_decision(
    scored_mccs,
    scored_mean,
    worst: int,
    contribution,
    *,
    alpha: float,
    form: str,
    worst_curve=None,
    random_curves=None,
    random=None,
):
    """The selection-aware decision on I_w: a JSON-able dict (see the module docstring).

    Parameters
    ----------
    scored_mccs : (m,) MCCS of every anchor on T
    scored_mean : (m,) mean similarity of every anchor on T (the argument of MCCS)
    worst : index of I_w (chosen on S)
    contribution : I_w's :class:`~bbcollapse.stats.Contributions` on T
    alpha : level of the decision; form : the MCCS form of the run
    worst_curve, random_curves, random : I_w's (G,) curve on T, the (q, G) curves of the random
        anchors on T and their (q,) indices; the envelope test runs when enough of them (I_w left out)

    ``p_value`` is 1 when I_w is no denser on T than the median anchor and no standard error exists
    (no sample of T within theta, all at one similarity, or |T| < 2), and None when it is denser but
    cannot be tested; ``reject`` is then False.
    """
    from scipy import stats  # imported here: `import bbcollapse` stays free of scipy

    v = np.asarray(scored_mccs, dtype=np.float64)
    m = v.shape[0]
    x = float(v[worst])
    others = np.delete(v, worst)
    median = float(np.median(others)) if others.size else float("nan")
    try:
        n, mean_s, sd_s = pilot_moments(contribution)
    except ValueError:  # fewer than 2 samples in T: nothing to estimate a standard error from
        n, mean_s, sd_s = 0, 0.0, 0.0
    if 0 < mean_s < 1 and sd_s > 0 and others.size:
        m_median = float(np.median(np.delete(np.asarray(scored_mean, dtype=np.float64), worst)))
        z = (mean_s - m_median) / (sd_s / np.sqrt(n))
        p = float(stats.norm.sf(z))
        se = mccs_standard_error(mean_s, sd_s, n, form=form)  # of MCCS(I_w): the excess's interval
        half = float(stats.norm.ppf(0.975)) * se
        lohi = [x - median - half, x - median + half]
    else:  # no sample of T within theta of I_w (MCCS 0), or all of them at one similarity: nothing to test
        se = z = None
        p = 1.0 if x <= median else None  # None: no test possible (strict JSON has no NaN)
        lohi = None
    at_least = int(np.count_nonzero(others >= x))
    out = {
        "null": NULL,
        "statistic": STATISTIC,
        "alpha": float(alpha),
        "p_value": p,
        "reject": p is not None and p <= alpha,
        "z": None if z is None else float(z),
        "se": None if se is None else float(se),
        "worst_mccs": x,
        "median_mccs": median,
        "excess": x - median,
        "excess_ci": lohi,
        "rank": 1 + at_least,
        "n_anchors": int(m),
        "curve_test": None,
    }
    if worst_curve is not None and random_curves is not None and random is not None:
        keep = np.asarray(random) != worst
        refs = np.asarray(random_curves)[keep]
        if refs.shape[0] >= math.ceil(1 / alpha) - 1:
            t: GlobalEnvelopeTest = global_envelope_test(
                np.asarray(worst_curve), refs, alpha=alpha, kind="erl", alternative="greater"
            )
            out["curve_test"] = {
                "test": "global envelope (extreme rank length, one-sided) of I_w's curve on T vs random anchors'",
                "p_value": float(t.p_value),
                "n_ref": int(refs.shape[0]),
                "reject": bool(t.p_value <= alpha),
            }
    return out


def sample_plan(contribution, mccs_values, *, precision: float, level: float, form: str, n_score: int, split: bool):
    """The sample-size plan for half-width ``precision`` at ``level``: a JSON-able dict.

    ``contribution`` is I_w's :class:`~bbcollapse.stats.Contributions` on T (the pilot); ``mccs_values``
    the (m,) MCCS of every anchor.  Each part is None with a ``*_why`` text when the pilot cannot plan it.
    """
    out = {"precision": float(precision), "level": float(level), "n_score": int(n_score), "split": bool(split)}
    try:
        sp = samples_needed(contribution, half_width=precision, level=level, form=form)
        out["n_score_needed"] = sp.n_samples
        out["n_samples_needed"] = sp.n_samples * (2 if split else 1)
    except ValueError as exc:
        out["n_score_needed"] = out["n_samples_needed"] = None
        out["samples_why"] = str(exc)
    values = np.asarray(mccs_values, dtype=np.float64)
    out["n_anchors"] = int(values.size)
    try:
        out["n_anchors_needed"] = anchors_needed(values, mu_half_width=precision, level=level).n_anchors_mu
    except ValueError as exc:
        out["n_anchors_needed"] = None
        out["anchors_why"] = str(exc)
    return out
