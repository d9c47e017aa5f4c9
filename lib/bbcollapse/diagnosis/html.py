"""``report.html``: a diagnosis on one offline page (paper 000, section 3.1; seed 001, Algorithm 1).

The page holds the summary table of a :class:`~bbcollapse.diagnosis.report.Report` (every scalar
it records, intervals included), its text summary, the neighbour curves N(I', C, d) (Eq. 5 over
the d-grid) of I_w (Eq. 9), the other modes and the random anchors with the pointwise band and
the global envelope of the random anchors' curves, the histogram of per-anchor MCCS (Eq. 7) and,
for image subjects, montages of I_w with its nearest samples and of the top distinct modes.

Everything is inline: figures and images are base64 PNG ``data:`` URIs and the style sheet is in
the page, so it opens with no network.  The images are not stored in the report (it holds indices
and seeds); :func:`bbcollapse.report_images` re-draws them from the sampler.

This module imports nothing from the rest of :mod:`bbcollapse.diagnosis` but the figures and the
JSON writer (a report is used through its attributes), so that ``Report.save`` can call it.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import numpy as np

from .jsonfile import write_text_atomic
from .plots import figure_and_axes, log_count, plot_mccs_hist, pyplot

__all__ = ["image_batch", "plot_curves_envelope", "render_html", "write_html"]

#: report fields that are arrays over anchors, samples or the grid (drawn, not tabulated)
ARRAYS = {
    "grid",
    "mccs",
    "counts",
    "modes",
    "mode_curves",
    "random_anchors",
    "random_curves",
    "nearest_index",
    "nearest_dist",
    "mode_mccs",
    "mode_counts",
    "mode_ci",
    "random_mccs",
    "random_ci",
    "worst_embedding",
    "worst_latent",
}
MAX_ROWS = 80  # summary-table rows at most (nested dicts are flattened)
ALPHA = 0.05

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;max-width:980px;
color:#1a1a1a;background:#fff;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.2em;margin-top:1.8em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.9em}td,th{padding:.2em .8em;border-bottom:1px solid #eee;text-align:left}
td.v{font-family:ui-monospace,Menlo,Consolas,monospace}
pre{background:#f6f6f6;padding:1em;overflow-x:auto;font-size:.85em}
figure{display:inline-block;margin:.3em;text-align:center;font-size:.75em;vertical-align:top}
figure img{width:96px;height:96px;image-rendering:pixelated;border:1px solid #ccc}
figure.worst img{border:3px solid #c0392b}img.plot{max-width:100%}.note{color:#555;font-size:.9em}
"""


# -- images -------------------------------------------------------------------------------------
def image_batch(x) -> np.ndarray | None:
    """Outputs (n, ...) as (n, H, W, 3) uint8 RGB when they are images, else None.

    Images are (n, H, W, C) with C in {1, 3, 4}, (n, C, H, W) with C in {1, 3}, or (n, H, W) grey,
    with H, W >= 8.  uint8 is taken as is; floats in [-1, 1] (a tanh output) or [0, 1] are scaled.
    """
    a = np.asarray(x)
    if a.ndim == 3 and min(a.shape[1:]) >= 8:
        a = a[..., None]
    if a.ndim != 4:
        return None
    if a.shape[-1] not in (1, 3, 4) and a.shape[1] in (1, 3):
        a = np.moveaxis(a, 1, -1)
    if a.shape[-1] not in (1, 3, 4) or min(a.shape[1:3]) < 8 or a.dtype.kind not in "fiub":
        return None
    a = a[..., :3] if a.shape[-1] >= 3 else np.repeat(a, 3, axis=-1)
    if a.dtype != np.uint8:
        f = a.astype(np.float64)
        lo = -1.0 if f.min() < 0 else 0.0
        hi = 255.0 if f.max() > 1.0 + 1e-6 else 1.0
        a = np.clip(np.round((f - lo) / (hi - lo) * 255.0), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(a)


def png_uri(image: np.ndarray) -> str:
    """A ``data:image/png;base64`` URI of one (H, W, 3) uint8 image."""
    from matplotlib.image import imsave

    buf = io.BytesIO()
    imsave(buf, image, format="png")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def figure_uri(fig) -> str:
    """A ``data:image/png;base64`` URI of a matplotlib figure (closed afterwards)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    pyplot().close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


# -- figures ------------------------------------------------------------------------------------
def envelope_of(report):
    """(band, test, note): the pointwise band and global envelope test of the random anchors' curves.

    Either is None, and the note says why, when there are too few random curves (the band needs
    2/alpha, the global test 1/alpha - 1 of them; ``n_random`` in the config sets their number).
    """
    from ..stats import global_envelope_test, pointwise_band

    ref = np.asarray(report.random_curves)
    band = test = None
    notes = []
    if len(report.grid) == 0 or ref.ndim != 2:
        return None, None, "no neighbour curves in this report (empty grid)"
    try:
        band = pointwise_band(ref, ALPHA, grid=report.grid)
    except ValueError as exc:
        notes.append(f"no pointwise band: {exc}")
    try:
        test = global_envelope_test(report.worst_curve, ref, alpha=ALPHA, alternative="greater", grid=report.grid)
    except ValueError as exc:
        notes.append(f"no global envelope: {exc}")
    if test is not None:
        notes.append(
            f"global envelope test (ERL, one-sided, alpha={ALPHA}): p = {test.p_value:.3g} against {test.n_ref} random "
            "anchors. I_w was chosen as the densest anchor, so this p-value says how far its curve lies from typical "
            "anchors' curves; it is not a selection-aware test of collapse."
        )
    return band, test, " ".join(notes)


def plot_curves_envelope(report, band=None, test=None, ax=None):
    """Neighbour curves log10 N(I', C, d) with the random anchors' pointwise band and global envelope.

    Parameters
    ----------
    report : Report (grid (G,), mode_curves (p, G), random_curves (q, G))
    band : PointwiseBand of the random curves, or None
    test : GlobalEnvelopeTest of I_w's curve against them, or None
    ax : matplotlib Axes (default: a new figure)

    Returns
    -------
    matplotlib Figure
    """
    fig, ax = figure_and_axes(ax)
    g = report.grid
    if test is not None:
        hi = np.where(np.isfinite(test.hi), test.hi, np.nan)
        ax.fill_between(g, log_count(test.lo), log_count(hi), color="tab:blue", alpha=0.12, label="global envelope")
    if band is not None:
        ax.fill_between(g, log_count(band.lo), log_count(band.hi), color="tab:blue", alpha=0.25, label="pointwise band")
    for i, curve in enumerate(report.random_curves):
        ax.plot(g, log_count(curve), color="0.6", lw=0.7, label="random anchors" if i == 0 else None)
    for i, curve in enumerate(report.mode_curves[1:]):
        ax.plot(g, log_count(curve), color="tab:orange", lw=1, alpha=0.8, label="other modes" if i == 0 else None)
    ax.plot(g, log_count(report.worst_curve), color="tab:red", lw=2, label=f"I_w (MCCS {report.worst_mccs:.3f})")
    ax.axvline(report.config["r"], color="k", ls=":", lw=1)
    ax.set_xlabel("normalised angular distance d")
    ax.set_ylabel("log10 N(I', C, d)")
    ax.legend(frameon=False, fontsize=8)
    return fig


# -- the page -----------------------------------------------------------------------------------
def flat_rows(doc: dict, prefix: str = "") -> list[tuple[str, str]]:
    """(name, value) rows of the scalars of ``doc`` (nested dicts flattened, short lists kept)."""
    rows = []
    for key, value in doc.items():
        name = f"{prefix}{key}"
        if key in ARRAYS or key == "config":
            continue
        if isinstance(value, dict):
            rows += flat_rows(value, f"{name}.")
        elif (
            isinstance(value, (list, tuple)) and len(value) <= 4 and all(not isinstance(v, (list, dict)) for v in value)
        ):
            rows.append((name, "[" + ", ".join(fmt(v) for v in value) + "]"))
        elif value is None or isinstance(value, (bool, int, float, str)):
            rows.append((name, fmt(value)))
    return rows


def fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return "—" if value is None else str(value)


def table(rows) -> str:
    body = "".join(f"<tr><th>{html.escape(k)}</th><td class='v'>{html.escape(v)}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


def montage(images, captions, css: str = "") -> str:
    return "".join(
        f"<figure class='{css if i == 0 else ''}'><img alt='{html.escape(c)}' src='{png_uri(im)}'>"
        f"<figcaption>{html.escape(c)}</figcaption></figure>"
        for i, (im, c) in enumerate(zip(images, captions))
    )


def image_sections(report, images: dict) -> str:
    """The montages: I_w and its nearest samples, then the distinct modes with their MCCS.

    Modes with no sample within r in S (:meth:`Report.listed_modes`) are not shown.
    """
    keep = report.listed_modes()
    if not len(keep):
        return f"<h2>Modes</h2><p class='note'>No anchor has a sample within r = {report.config['r']}.</p>"
    dist = np.asarray(report.nearest_dist, dtype=float)
    near = ["I_w"] + [f"d = {d:.3f}" for d in dist[: len(images["nearest"])]]
    select = report.counts[report.modes]
    scored = getattr(report, "mode_counts", None)
    scored = select if scored is None else scored
    modes = [f"#{report.modes[j]}: MCCS {report.mode_mccs[j]:.3f}, N(S)={select[j]}, N(T)={scored[j]}" for j in keep]
    worst = ""
    if keep[0] == 0:
        worst = "<h2>I<sub>w</sub> and its nearest samples</h2>" + montage(
            [images["worst"], *images["nearest"]], near, "worst"
        )
    return (
        worst
        + "<h2>Top distinct dense modes</h2>"
        + montage([images["modes"][j] for j in keep], modes, "worst" if keep[0] == 0 else "")
    )


def decision_section(report) -> str:
    """The decision on I_w (its test, p-value, excess with interval) and the sample-size plan, as tables."""
    if report.decision is None:
        return (
            "<h2>Decision</h2><p class='note'>None: I_w was selected and scored on the same samples "
            "(scoring='same'), where its MCCS is biased upward; run with scoring='split'.</p>"
        )
    out = "<h2>Decision on I_w</h2>" + table(flat_rows(report.decision))
    if report.plan is not None:
        out += "<h3>Sample-size plan</h3>" + table(flat_rows(report.plan))
    return out


def render_html(report, *, images: dict | None = None, title: str | None = None) -> str:
    """The offline HTML page of a :class:`~bbcollapse.Report` (``bb.Report.load(path)`` reads a report.json).

    Parameters
    ----------
    report : Report
    images : ``{"worst", "nearest", "modes"}`` arrays from :func:`bbcollapse.report_images`, or None
    title : page title (default names the sampler)

    Returns
    -------
    str, a complete HTML document with every figure inline (no network access needed or made)
    """
    if isinstance(report, (str, Path)):
        raise TypeError(f"render_html takes a Report; read {str(report)!r} with bb.Report.load(path) first")
    c = report.config
    title = title or f"bbcollapse report: {report.sampler}"
    band, test, note = envelope_of(report)
    config_rows = [(k, fmt(v) if not isinstance(v, list) else f"{len(v)} values") for k, v in c.items()]
    parts = [
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>Intra-mode collapse report</h1><p class='note'>sampler <b>{html.escape(report.sampler)}</b>, "
        f"descriptor <b>{html.escape(report.descriptor)}</b></p>",
        "<h2>Summary</h2><pre>" + html.escape(report.summary()) + "</pre>",
    ]
    if len(report.grid):
        parts.append(
            "<h2>Neighbour curves</h2>"
            f"<img class='plot' alt='neighbour curves' src='{figure_uri(plot_curves_envelope(report, band, test))}'>"
            f"<p class='note'>{html.escape(note)}</p>"
        )
    hist = figure_uri(plot_mccs_hist(report))
    parts.append(f"<h2>MCCS of every anchor</h2><img class='plot' alt='MCCS histogram' src='{hist}'>")
    if images is not None:
        parts.append(image_sections(report, images))
    parts.append(decision_section(report))
    numbers = {k: v for k, v in report.to_dict().items() if k not in ("decision", "plan")}  # shown above
    parts.append("<h2>Numbers</h2>" + table(flat_rows(numbers)[:MAX_ROWS]))
    parts.append("<h2>Configuration</h2>" + table(config_rows))
    parts.append("<p class='note'>Written by bbcollapse; every figure is inline, the page needs no network.</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_html(report, path, *, images: dict | None = None) -> Path:
    """Write :func:`render_html` of ``report`` to ``path`` atomically; returns the path."""
    return write_text_atomic(path, render_html(report, images=images))
