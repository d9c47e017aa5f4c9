"""The result of a diagnosis: the :class:`Report` data, its JSON file and its summary text.

A Report holds what paper 000, section 3.1 reports for a black box: per-anchor MCCS (Eq. 7),
the worst case I_w (Eq. 9) and the distinct dense modes with their neighbour curves, and
(mu, sigma) over A (Eq. 8).  Its figures are drawn by :mod:`bbcollapse.diagnosis.plots`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path

import numpy as np

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


@dataclass(repr=False)
class Report:
    """The result of :func:`~bbcollapse.diagnose` or :func:`~bbcollapse.diagnose_embeddings`.

    Attributes
    ----------
    sampler, descriptor : identities of the black box and the descriptor ("embeddings" for arrays)
    config : the parameters of the run, :meth:`DiagnoseConfig.to_json` (n_anchors, n_samples, seed,
        theta, r, top, form, grid, k, shard_size, n_random)
    grid : (G,) distances of the neighbour curves
    mccs : (m,) MCCS of every anchor in A
    counts : (m,) N(I', C, r) of every anchor
    worst : index of I_w in A
    modes : (p,) indices of the distinct dense modes, by decreasing count (modes[0] == worst)
    mode_curves : (p, G) neighbour curves N(I', C, d) of the modes
    random_anchors : (q,) indices of random reference anchors
    random_curves : (q, G) their neighbour curves
    nearest_index, nearest_dist : (k,) the k samples of C nearest to I_w (global index, distance)
    mu, sigma : population statistics of MCCS over A (sigma with ddof = 1)
    bootstrap : confidence intervals from ``bbcollapse.stats.bootstrap_population`` (None below 3 anchors)
    seconds : wall time of the run
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

    # -- derived ---------------------------------------------------------------------
    @property
    def worst_mccs(self) -> float:
        """MCCS(I_w)."""
        return float(self.mccs[self.worst])

    @property
    def worst_count(self) -> int:
        """N(I_w, C, r)."""
        return int(self.counts[self.worst])

    @property
    def worst_curve(self) -> np.ndarray:
        """(G,) neighbour curve of I_w."""
        return self.mode_curves[0]

    @property
    def mode_mccs(self) -> np.ndarray:
        """(p,) MCCS of the distinct dense modes."""
        return self.mccs[self.modes]

    @property
    def samples_per_second(self) -> float | None:
        """Throughput of the run (None when no time was recorded)."""
        return self.config["n_samples"] / self.seconds if self.seconds > 0 else None

    def __repr__(self):
        c = self.config
        return (
            f"Report(MCCS(I_w)={self.worst_mccs:.4f}, mu={self.mu:.4f}, sigma={self.sigma:.4f}, "
            f"worst={self.worst} with {self.worst_count} of {c['n_samples']} samples within r={c['r']}, "
            f"modes={len(self.modes)}, m={len(self.mccs)}, form={c['form']!r})"
        )

    def summary(self) -> str:
        """A few lines for a terminal."""
        c = self.config
        modes = zip(self.modes.tolist(), self.mode_mccs.tolist(), self.counts[self.modes].tolist())
        lines = [
            f"sampler     {self.sampler}",
            f"descriptor  {self.descriptor}",
            f"|A|={c['n_anchors']}  |C|={c['n_samples']}  seed={c['seed']}  theta={c['theta']}  r={c['r']}  "
            f"MCCS form={c['form']!r}",
            f"MCCS(I_w) = {self.worst_mccs:.4f}   (anchor {self.worst}: {self.worst_count} samples within r)",
            f"mu, sigma = {self.mu:.4f}, {self.sigma:.4f}",
        ]
        if self.bootstrap:
            lines.append(f"bootstrap   {json.dumps(self.bootstrap)[:200]}")
        lines.append("top modes   " + ", ".join(f"#{i}: MCCS {v:.3f} (N={n})" for i, v, n in modes))
        if self.seconds:
            lines.append(f"time        {self.seconds:.1f} s ({self.samples_per_second:.0f} samples/s)")
        return "\n".join(lines)

    # -- persistence -----------------------------------------------------------------
    def to_dict(self) -> dict:
        """The JSON-able content of ``report.json``: every field, then worst_mccs, worst_count, mode_mccs."""
        out = {}
        for f in fields(self):
            v = getattr(self, f.name)
            out[f.name] = v.tolist() if isinstance(v, np.ndarray) else v
        out["worst_mccs"] = self.worst_mccs
        out["worst_count"] = self.worst_count
        out["mode_mccs"] = self.mode_mccs.tolist()
        return out

    @classmethod
    def from_dict(cls, doc: dict) -> Report:
        """Inverse of :meth:`to_dict` (derived keys are ignored)."""
        kw = {f.name: doc[f.name] for f in fields(cls) if f.name in doc}
        for name, dtype in ARRAY_DTYPES.items():
            kw[name] = np.asarray(kw[name], dtype=dtype)
        return cls(**kw)

    @classmethod
    def load(cls, path) -> Report:
        """Read a report saved by :meth:`save` (a directory or the report.json file)."""
        path = Path(path)
        if path.is_dir():
            path = path / "report.json"
        return cls.from_dict(json.loads(path.read_text()))

    def save(self, directory, *, figures: bool = True) -> Path:
        """Write ``report.json`` (and ``curves.png``, ``mccs_hist.png``) into ``directory``; returns the JSON path."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        path = d / "report.json"
        path.write_text(json.dumps(self.to_dict(), indent=1, default=jsonable))
        if figures:
            from .plots import save_figures  # matplotlib only when figures are asked for

            save_figures(self, d)
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
