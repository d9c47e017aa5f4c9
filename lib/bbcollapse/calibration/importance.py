"""Self-normalised importance weights for a calibrated law (paper 000, section 3.2).

A calibrated sampler's ``log_density_ratio(z) = log q(z) / p(z)`` (GMM and Voronoi variants of
Algorithm 1) turns an already embedded *prior* sample into an estimate under the calibrated
law q, with no new generator or descriptor call: weight sample i by ``q(z_i) / p(z_i)``,
normalised.  The weights are computed in log space (``logsumexp``) so that ratios far in
the tails neither overflow nor underflow.
"""

from __future__ import annotations

import numpy as np

__all__ = ["importance_weights"]


def importance_weights(log_ratio) -> tuple[np.ndarray, float]:
    """Self-normalised importance weights from log density ratios, in log space.

    Parameters
    ----------
    log_ratio : (n,) ``log q(z_i) - log p(z_i)`` for prior samples z_i ~ p (e.g.
        ``GMMCalibrated.log_density_ratio``); ``-inf`` allowed (zero weight)

    Returns
    -------
    weights : (n,) float64 summing to one, ``exp(l_i - logsumexp(l))``
    ess : effective sample size ``1 / sum w_i^2`` (n for equal weights, 1 for a single one)
    """
    from scipy.special import logsumexp

    lr = np.asarray(log_ratio, dtype=np.float64).ravel()
    if lr.size == 0 or np.isnan(lr).any() or np.isposinf(lr).any():
        raise ValueError("log_ratio must be a non-empty array of finite values or -inf")
    total = logsumexp(lr)
    if not np.isfinite(total):
        raise ValueError("every log_ratio is -inf: no sample has positive weight")
    w = np.exp(lr - total)
    return w, float(1.0 / np.sum(w**2))
