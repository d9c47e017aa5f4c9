"""The result of a diagnosis: the :class:`Report` data, its JSON file and its summary text.

A Report holds what paper 000, section 3.1 reports for a black box: per-anchor MCCS (Eq. 7),
the worst case I_w (Eq. 9) and the distinct dense modes with their neighbour curves, and
(mu, sigma) over A (Eq. 8), each with a bootstrap interval.  The modes are selected on the
sample S and scored on the independent sample T (:mod:`bbcollapse.diagnosis.scoring`).
``report.json`` is strict JSON written atomically (:mod:`bbcollapse.diagnosis.jsonfile`); its
figures are drawn by :mod:`bbcollapse.diagnosis.plots`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path

import numpy as np

from .jsonfile import write_json

__all__ = ["Report", "jsonable"]

# Array fields and their dtypes when a report is read back from JSON.
ARRAY_DTYPES = {
    "grid": float,
    "mccs": float,
    "counts": np.int64,
    "modes": np.int64,
    "mode_curves": np.int64,
    "random_anchors": np.int64,
    "random_curves": np.int64,
    "nearest_index": np.int64,
    "nearest_dist": float,
    "mode_mccs": float,
    "mode_counts": np.int64,
    "mode_ci": float,
    "random_mccs": float,
    "random_ci": float,
}


def jsonable(value):
    """``json.dumps`` fallback: arrays to lists, numpy scalars to Python, dataclasses to dicts, else str."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if is_dataclass(value):
        return asdict(value)
    return str(value)


def p_text(p: float | None) -> str:
    """``"= 0.0123"``, ``"< 1e-15"`` where the normal tail is below double precision's resolution of 1 - p,
    or ``"n/a"`` (no test possible: too few samples of T near I_w to estimate its standard error)."""
    if p is None:
        return "n/a (too few samples of T near I_w for a standard error)"
    return "< 1e-15" if p < 1e-15 else f"= {p:.3g}"


@dataclass(repr=False)
class Report:
    """The result of :func:`~bbcollapse.diagnose` or :func:`~bbcollapse.diagnose_embeddings`.

    With ``scoring="split"`` (the default) C is split into a selection sample S (its first half)
    and a scoring sample T (the rest): the modes are chosen on S and every number reported *for
    a selected or random anchor* comes from T; per-anchor MCCS and (mu, sigma) use all of C.
    With ``scoring="same"`` S = T = C (the paper's way; no intervals for the modes).

    Attributes
    ----------
    sampler, descriptor : identities of the black box and the descriptor ("embeddings" for arrays)
    config : the parameters of the run, :meth:`DiagnoseConfig.to_json` (n_anchors, n_samples, seed,
        theta, r, top, form, grid, k, shard_size, n_random, scoring, select_by)
    grid : (G,) distances of the neighbour curves
    mccs : (m,) MCCS of every anchor in A over all of C (always finite; see :func:`bbcollapse.mccs`)
    counts : (m,) N(I', S, r) of every anchor: the selection counts (Eq. 9)
    worst : index of I_w in A (selected on S)
    modes : (p,) indices of the distinct dense modes, in selection order (modes[0] == worst)
    mode_curves : (p, G) neighbour curves N(I', T, d) of the modes
    random_anchors : (q,) indices of random reference anchors
    random_curves : (q, G) their neighbour curves on T
    nearest_index, nearest_dist : (k',) the k' <= k samples of T nearest to I_w (global index in C, distance)
    mu, sigma : population statistics of MCCS over A (sigma with ddof = 1)
    bootstrap : 95% intervals of mu and sigma (``bbcollapse.stats.bootstrap_population``; None below 3 anchors)
    seconds : wall time of the run
    mode_mccs : (p,) MCCS of the modes on T; mode_counts : (p,) their N(I', T, r)
    mode_ci : (p, 2) 95% bootstrap intervals of mode_mccs over T (None with scoring="same")
    random_mccs, random_ci : (q,) and (q, 2): the same for the random anchors
    n_select, n_score : |S| and |T|
    n_degenerate : anchors whose samples all coincide with them up to float rounding (MCCS at its
        cap; kept in mu and sigma)
    metrics : peer metrics added by ``bbcollapse diagnose --metrics`` (name -> the result's ``as_dict()``),
        or None
    theta_r_source : where ``bbcollapse diagnose`` took theta and r from ({"theta": text, "r": text}: given,
        the subject's default with its provenance, or the generic default), or None
    decision : the selection-aware test of I_w (:func:`bbcollapse.diagnosis.decision.worst_decision`: p_value,
        rank, reject at config alpha, excess over the median anchor, and the curve envelope test when enough
        random anchors were scored); None with scoring="same" (selected and scored on the same samples)
    plan : the sample-size plan for 95% intervals of half-width config precision on MCCS(I_w) and mu
        (:func:`bbcollapse.diagnosis.decision.sample_plan`: n_samples_needed, n_anchors_needed), or None
    """

    sampler: str
    descriptor: str
    config: dict
    grid: np.ndarray
    mccs: np.ndarray
    counts: np.ndarray
    worst: int
    modes: np.ndarray
    mode_curves: np.ndarray
    random_anchors: np.ndarray
    random_curves: np.ndarray
    nearest_index: np.ndarray
    nearest_dist: np.ndarray
    mu: float
    sigma: float
    bootstrap: dict | None = None
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)
    mode_mccs: np.ndarray | None = None
    mode_counts: np.ndarray | None = None
    mode_ci: np.ndarray | None = None
    random_mccs: np.ndarray | None = None
    random_ci: np.ndarray | None = None
    n_select: int | None = None
    n_score: int | None = None
    n_degenerate: int = 0
    metrics: dict | None = None
    theta_r_source: dict | None = None
    decision: dict | None = None
    plan: dict | None = None

    def __post_init__(self):
        if self.mode_mccs is None:  # a report of an earlier release: scored on the selection sample
            self.mode_mccs = np.asarray(self.mccs)[np.asarray(self.modes)]

    # -- derived ---------------------------------------------------------------------
    @property
    def worst_mccs(self) -> float:
        """MCCS(I_w), scored on T."""
        return float(self.mode_mccs[0])

    @property
    def worst_ci(self) -> tuple[float, float] | None:
        """95% bootstrap interval of MCCS(I_w) over T (None when scored on the selection sample)."""
        return None if self.mode_ci is None else (float(self.mode_ci[0][0]), float(self.mode_ci[0][1]))

    @property
    def worst_count(self) -> int:
        """N(I_w, S, r), the count that selected it."""
        return int(self.counts[self.worst])

    def listed_modes(self) -> np.ndarray:
        """Positions in ``modes`` of the modes worth showing: those with a neighbour within r in S.

        An anchor with no sample within r is a peak of the count only in name (nothing lies near
        it); summaries and montages leave such "modes" out.
        """
        return np.flatnonzero(np.asarray(self.counts)[np.asarray(self.modes, dtype=np.int64)] > 0)

    @property
    def worst_curve(self) -> np.ndarray:
        """(G,) neighbour curve of I_w."""
        return self.mode_curves[0]

    @property
    def samples_per_second(self) -> float | None:
        """Throughput of the run (None when no time was recorded)."""
        return self.config["n_samples"] / self.seconds if self.seconds > 0 else None

    def _worst_text(self) -> str:
        ci = self.worst_ci
        return f"{self.worst_mccs:.4f}" + ("" if ci is None else f" [{ci[0]:.4f}, {ci[1]:.4f}]")

    def _population_text(self) -> str:
        b = self.bootstrap or {}
        if "mu" not in b:
            return f"mu={self.mu:.4f}, sigma={self.sigma:.4f}"
        mu, sd = b["mu"], b["sigma"]
        return (
            f"mu={self.mu:.4f} [{mu['lo']:.4f}, {mu['hi']:.4f}], "
            f"sigma={self.sigma:.4f} [{sd['lo']:.4f}, {sd['hi']:.4f}]"
        )

    def _scoring_text(self) -> str:
        if self.config.get("scoring", "same") == "same":
            return f"selected and scored on the same {self.config['n_samples']} samples"
        return f"selected on |S|={self.n_select}, scored on a fresh |T|={self.n_score}"

    def __repr__(self):
        c = self.config
        return (
            f"Report(MCCS(I_w)={self._worst_text()}, {self._population_text()} (95% intervals), "
            f"worst={self.worst} with {self.worst_count} samples of S within r={c['r']}, {self._scoring_text()}, "
            f"modes={len(self.modes)}, m={len(self.mccs)}, degenerate={self.n_degenerate}, form={c['form']!r})"
        )

    def _theta_r_source_lines(self) -> list[str]:
        src = self.theta_r_source
        if not src:
            return []
        if src.get("theta") == src.get("r"):
            return [f"theta, r    {src.get('theta')}"]
        return [f"theta from  {src.get('theta')}", f"r from      {src.get('r')}"]

    def _decision_lines(self) -> list[str]:
        d, p = self.decision, self.plan
        lines = []
        if d is None:
            lines.append("decision    none: I_w was selected and scored on the same samples (use scoring='split')")
        else:
            verdict = "denser than the median anchor" if d["reject"] else "not shown denser than the median anchor"
            ci = d.get("excess_ci")
            excess = f"{d['excess']:+.4f}" + ("" if ci is None else f" [{ci[0]:+.4f}, {ci[1]:+.4f}]")
            lines.append(
                f"decision    I_w {verdict} at {100 * d['alpha']:g}%: p {p_text(d['p_value'])}, "
                f"excess MCCS {excess} on T (rank {d['rank']} of {d['n_anchors']} anchors)"
            )
            ct = d.get("curve_test")
            if ct:
                lines.append(f"{'':12}curve envelope test vs {ct['n_ref']} random anchors: p {p_text(ct['p_value'])}")
        if p is not None:
            h, lvl = p["precision"], 100 * p["level"]
            ns, na = p.get("n_samples_needed"), p.get("n_anchors_needed")
            c = self.config
            parts = [
                f"MCCS(I_w) needs |C| >= {ns:,} (now {c['n_samples']:,})" if ns else "MCCS(I_w): n/a (no pilot)",
                f"mu needs |A| >= {na:,} (now {c['n_anchors']:,})" if na else "mu: n/a",
            ]
            lines.append(f"plan        +/-{h:g} at {lvl:g}%: " + "; ".join(parts))
        return lines

    def summary(self) -> str:
        """A few lines for a terminal."""
        c = self.config
        keep = self.listed_modes()
        modes = zip(self.modes[keep].tolist(), self.mode_mccs[keep].tolist(), self.counts[self.modes[keep]].tolist())
        lines = [
            f"sampler     {self.sampler}",
            f"descriptor  {self.descriptor}",
            f"|A|={c['n_anchors']}  |C|={c['n_samples']}  seed={c['seed']}  theta={c['theta']}  r={c['r']}  "
            f"MCCS form={c['form']!r}",
            *self._theta_r_source_lines(),
            f"scoring     {self._scoring_text()}, I_w selected by {c.get('select_by', 'count')}",
            f"MCCS(I_w) = {self._worst_text()}   (anchor {self.worst}: {self.worst_count} samples of S within r)",
            f"mu, sigma   {self._population_text()}  (95% bootstrap intervals)",
        ]
        if self.n_degenerate:
            lines.append(
                f"degenerate  {self.n_degenerate} of {len(self.mccs)} anchors: every sample coincides with the anchor "
                "(total collapse)"
            )
        lines.extend(self._decision_lines())
        listed = ", ".join(f"#{i}: MCCS {v:.3f} (N={n})" for i, v, n in modes)
        lines.append("top modes   " + (listed or f"none: no anchor has a sample of S within r={c['r']}"))
        for name, result in (self.metrics or {}).items():
            scalars = {k: v for k, v in result.items() if isinstance(v, float)}
            if isinstance(result.get("value"), float):
                scalars = {"value": result["value"]}
            shown = ", ".join(f"{k} {v:.4g}" for k, v in scalars.items())
            lines.append(f"{'metric':<12}{result.get('name', name)}: {shown}")
        if self.seconds:
            lines.append(f"time        {self.seconds:.1f} s ({self.samples_per_second:.0f} samples/s)")
        return "\n".join(lines)

    # -- persistence -----------------------------------------------------------------
    def to_dict(self) -> dict:
        """The JSON-able content of ``report.json``: every field, then worst_mccs, worst_count, worst_ci."""
        out = {}
        for f in fields(self):
            v = getattr(self, f.name)
            out[f.name] = v.tolist() if isinstance(v, np.ndarray) else v
        out["worst_mccs"] = self.worst_mccs
        out["worst_count"] = self.worst_count
        out["worst_ci"] = None if self.worst_ci is None else list(self.worst_ci)
        return out

    @classmethod
    def from_dict(cls, doc: dict) -> Report:
        """Inverse of :meth:`to_dict` (derived keys are ignored)."""
        kw = {f.name: doc[f.name] for f in fields(cls) if f.name in doc}
        for name, dtype in ARRAY_DTYPES.items():
            if kw.get(name) is not None:
                kw[name] = np.asarray(kw[name], dtype=dtype)
        for name in ("mode_ci", "random_ci"):
            if kw.get(name) is not None:
                kw[name] = kw[name].reshape(-1, 2)
        return cls(**kw)

    @classmethod
    def load(cls, path) -> Report:
        """Read a report saved by :meth:`save` (a directory or the report.json file)."""
        path = Path(path)
        if path.is_dir():
            path = path / "report.json"
        return cls.from_dict(json.loads(path.read_text()))

    def save(self, directory, *, figures: bool = True, images: dict | None = None) -> Path:
        """Write ``report.json`` (and ``curves.png``, ``mccs_hist.png``, ``report.html``) into ``directory``.

        The JSON is strict (no NaN or Infinity); every file replaces an earlier one atomically.
        ``images`` (from :func:`bbcollapse.report_images`) adds montages to the HTML page.
        Returns the JSON path.
        """
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        path = write_json(d / "report.json", self.to_dict())
        if figures:
            from .html import write_html  # matplotlib only when figures are asked for
            from .plots import save_figures

            save_figures(self, d)
            write_html(self, d / "report.html", images=images)
        return path

    # -- figures (drawn by bbcollapse.diagnosis.plots) -------------------------------
    def plot_curves(self, ax=None):
        """Neighbour curves of I_w, the other modes and the random anchors; see :func:`.plots.plot_curves`."""
        from .plots import plot_curves

        return plot_curves(self, ax=ax)

    def plot_mccs_hist(self, ax=None):
        """Histogram of per-anchor MCCS; see :func:`.plots.plot_mccs_hist`."""
        from .plots import plot_mccs_hist

        return plot_mccs_hist(self, ax=ax)
