"""Figures of a diagnosis :class:`~bbcollapse.diagnosis.report.Report`: neighbour curves and the MCCS histogram.

``curves.png`` shows the neighbour function N(I', T, d) (seed 001's Eq. 2, the count inside paper 000's
Eq. 9, over the d-grid) of
the worst case I_w (Eq. 9), of the other distinct modes and of random reference anchors;
``mccs_hist.png`` the per-anchor MCCS (Eq. 7) with I_w and mu (Eq. 8) marked.  For image
subjects, :func:`save_montages` writes ``worst_neighbours.png`` (I_w and its nearest samples of T,
paper 000's Fig. 4) and ``modes.png`` (the distinct dense modes, Fig. 7), leaving out "modes" with
no sample within r (:meth:`Report.listed_modes`).  matplotlib is imported only here, and only when
a figure is drawn.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from .._atomic import atomic_path

__all__ = ["montage_grid", "plot_curves", "plot_mccs_hist", "save_figures", "save_montages"]


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


def histogram_bins(values) -> tuple[int, tuple[float, float]]:
    """(bins, range) for a histogram of ``values`` that any data can take.

    A totally collapsed model gives every anchor the same MCCS (or values a few ulps apart),
    where numpy's automatic range has no width ("Too many bins for data range"): such data
    get one bin of unit width around their value.
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return 1, (0.0, 1.0)
    lo, hi = float(v.min()), float(v.max())
    bins = min(50, max(10, v.size // 20))
    if hi - lo <= 1e-9 * max(1.0, abs(hi)) * bins:
        return 1, (lo - 0.5, hi + 0.5)
    return bins, (lo, hi)


def plot_mccs_hist(report, ax=None):
    """Histogram of the (m,) per-anchor MCCS of ``report`` with I_w and mu marked.

    Draws on the matplotlib Axes ``ax`` (default: a new figure) and returns its Figure.
    """
    fig, ax = figure_and_axes(ax)
    bins, span = histogram_bins(report.mccs)
    ax.hist(report.mccs, bins=bins, range=span, color="tab:blue", alpha=0.7)
    ax.axvline(report.worst_mccs, color="tab:red", lw=2, label=f"I_w (scored on T): {report.worst_mccs:.3f}")
    ax.axvline(report.mu, color="k", ls="--", lw=1, label=f"mu = {report.mu:.3f}, sigma = {report.sigma:.3f}")
    ax.set_xlabel(f"MCCS (form {report.config['form']!r}, theta = {report.config['theta']})")
    ax.set_ylabel("anchors")
    ax.legend(frameon=False, fontsize=8)
    return fig


def save_atomic(fig, path: Path) -> Path:
    """``fig.savefig(path)`` through a temporary file in the same directory and a rename."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, bbox_inches="tight", format="png")
    return path


def save_figures(report, directory) -> list[Path]:
    """Write ``curves.png`` and ``mccs_hist.png`` of ``report`` into ``directory`` (atomically); returns their paths."""
    d = Path(directory)
    try:
        return [
            save_atomic(plot_curves(report), d / "curves.png"),
            save_atomic(plot_mccs_hist(report), d / "mccs_hist.png"),
        ]
    finally:
        pyplot().close("all")


def montage_grid(images, columns: int = 8, pad: int = 2) -> np.ndarray:
    """(n, H, W, 3) uint8 images as one (rows (H + pad) + pad, columns (W + pad) + pad, 3) white-framed grid.

    Image i sits at row ``i // columns``, column ``i % columns``, its top-left pixel at
    ``(pad + row (H + pad), pad + column (W + pad))``; the pixels are copied unchanged.
    """
    a = np.asarray(images, dtype=np.uint8)
    if a.ndim != 4 or a.shape[-1] != 3 or len(a) == 0:
        raise ValueError(f"images must be a non-empty (n, H, W, 3) uint8 array; got shape {a.shape}")
    n, h, w, _ = a.shape
    cols = min(columns, n)
    rows = -(-n // cols)
    grid = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, 3), 255, np.uint8)
    for i, image in enumerate(a):
        y, x = pad + (i // cols) * (h + pad), pad + (i % cols) * (w + pad)
        grid[y : y + h, x : x + w] = image
    return grid


def save_montages(report, images: dict, directory, *, columns: int = 8) -> list[Path]:
    """``worst_neighbours.png`` (I_w, then its nearest samples) and ``modes.png`` in ``directory``.

    Parameters
    ----------
    report : Report
    images : ``{"worst": (H, W, 3), "nearest": (k, H, W, 3), "modes": (p, H, W, 3)}`` uint8, as
        :func:`bbcollapse.report_images` re-draws them (``modes`` in the order of ``report.modes``)
    columns : images per row (pixels are copied 1:1, see :func:`montage_grid`)

    Returns
    -------
    the paths written: ``worst_neighbours.png`` when I_w has a sample within r, ``modes.png`` when
    at least one mode has (a "mode" with no neighbour is never shown)
    """
    from matplotlib.image import imsave

    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    keep = report.listed_modes()
    out = []
    if len(keep) and keep[0] == 0:  # I_w itself has neighbours
        worst = np.concatenate(
            [np.asarray(images["worst"])[None], np.asarray(images["nearest"]).reshape(-1, *np.shape(images["worst"]))]
        )
        out.append(d / "worst_neighbours.png")
        imsave(out[-1], montage_grid(worst, columns), format="png")
    if len(keep):
        out.append(d / "modes.png")
        imsave(out[-1], montage_grid(np.asarray(images["modes"])[keep], columns), format="png")
    return out
