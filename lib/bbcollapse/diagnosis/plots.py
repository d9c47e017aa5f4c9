"""Figures of a diagnosis :class:`~bbcollapse.diagnosis.report.Report`: neighbour curves and the MCCS histogram.

``curves.png`` shows the neighbour function N(I', C, d) (paper 000, Eq. 5 over the d-grid) of
the worst case I_w (Eq. 9), of the other distinct modes and of random reference anchors;
``mccs_hist.png`` the per-anchor MCCS (Eq. 7) with I_w and mu (Eq. 8) marked.  matplotlib is
imported only here, and only when a figure is drawn.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

__all__ = ["plot_curves", "plot_mccs_hist", "save_figures"]


def pyplot():
    """matplotlib.pyplot, on the Agg backend unless the caller already chose one."""
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def figure_and_axes(ax):
    """(Figure, Axes): those of ``ax``, or a new 6 x 4 inch figure when ``ax`` is None."""
    return (ax.figure, ax) if ax is not None else pyplot().subplots(figsize=(6, 4))


def log_count(curve) -> np.ndarray:
    """log10(max(N, 1)): empty neighbourhoods drawn at 0 instead of -inf."""
    return np.log10(np.maximum(np.asarray(curve, dtype=float), 1.0))


def plot_curves(report, ax=None):
    """Neighbour curves log10(max(N(I', C, d), 1)) of I_w, the other modes and the random anchors.

    Parameters
    ----------
    report : Report (grid (G,), mode_curves (p, G), random_curves (q, G))
    ax : matplotlib Axes to draw on (default: a new figure)

    Returns
    -------
    matplotlib Figure
    """
    fig, ax = figure_and_axes(ax)
    for i, curve in enumerate(report.random_curves):
        ax.plot(report.grid, log_count(curve), color="0.6", lw=1, label="random anchors" if i == 0 else None)
    for i, curve in enumerate(report.mode_curves[1:]):
        label = "other distinct modes" if i == 0 else None
        ax.plot(report.grid, log_count(curve), color="tab:orange", lw=1, alpha=0.8, label=label)
    ax.plot(
        report.grid, log_count(report.worst_curve), color="tab:red", lw=2, label=f"I_w (MCCS {report.worst_mccs:.3f})"
    )
    ax.axvline(report.config["r"], color="k", ls=":", lw=1)
    ax.set_xlabel("normalised angular distance d")
    ax.set_ylabel("log10 N(I', C, d)")
    ax.set_title(f"Neighbour curves, |C| = {report.config['n_samples']}")
    ax.legend(frameon=False, fontsize=8)
    return fig


def plot_mccs_hist(report, ax=None):
    """Histogram of the (m,) per-anchor MCCS of ``report`` with I_w and mu marked.

    Draws on the matplotlib Axes ``ax`` (default: a new figure) and returns its Figure.
    """
    fig, ax = figure_and_axes(ax)
    finite = report.mccs[np.isfinite(report.mccs)]
    ax.hist(finite, bins=min(50, max(10, len(finite) // 20)), color="tab:blue", alpha=0.7)
    ax.axvline(report.worst_mccs, color="tab:red", lw=2, label=f"I_w: {report.worst_mccs:.3f}")
    ax.axvline(report.mu, color="k", ls="--", lw=1, label=f"mu = {report.mu:.3f}, sigma = {report.sigma:.3f}")
    ax.set_xlabel(f"MCCS (form {report.config['form']!r}, theta = {report.config['theta']})")
    ax.set_ylabel("anchors")
    ax.legend(frameon=False, fontsize=8)
    return fig


def save_figures(report, directory) -> list[Path]:
    """Write ``curves.png`` and ``mccs_hist.png`` of ``report`` into ``directory``; returns their paths."""
    d = Path(directory)
    paths = [d / "curves.png", d / "mccs_hist.png"]
    plot_curves(report).savefig(paths[0], dpi=120, bbox_inches="tight")
    plot_mccs_hist(report).savefig(paths[1], dpi=120, bbox_inches="tight")
    pyplot().close("all")
    return paths
