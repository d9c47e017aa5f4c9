"""Diagnose a black box: MCCS of the worst-case and distinct dense modes, mu and sigma.

:func:`diagnose` is the paper's whole black-box procedure (000, section 3.1) in one call:

1. draw the anchor set A and the sample set C from the sampler on *different seed
   streams* (A: ``shard_seed(seed, 0, j)``, C: ``shard_seed(seed, 1, j)``), so A and C
   are disjoint as the paper requires, and embed both with the descriptor;
2. stream C through the engine shard by shard; each shard gives one
   :class:`~bbcollapse.neighbors.NeighborStats` with counts at r, the neighbour curve on
   the grid, the similarity sums for theta and the k nearest samples, all from one
   pass over its tiles, and the shards' statistics are merged (the distributed run in
   :mod:`bbcollapse.diagnosis.distributed` merges the same per-shard statistics);
3. reduce: per-anchor MCCS (Eq. 7 or the authors' code form), the worst-case mode
   ``I_w = argmax N(I', C, r)`` and the top distinct modes, (mu, sigma) over A, the
   neighbour curves of I_w and of a few random anchors (the reference R_ref).

The :class:`Report` saves itself as ``report.json`` and draws its figures.
"""
from __future__ import annotations

import importlib
import inspect
import json
import logging
import sys
import time
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path

import numpy as np

from ..blackbox import identity_of, shard_seed
from .._validation import check_theta, check_unit_interval
from ..neighbors import PAPER_GRID, NeighborStats, neighbor_stats
from ..stats.hypothesis import bootstrap_population
from ..stats.mccs import MCCS_FORMS, distinct_modes, mccs, population
from ..store import EmbeddingStore, embed_shard, shard_sizes

__all__ = ["diagnose", "Report", "reduce_shard", "summarize", "ANCHOR_STREAM", "SAMPLE_STREAM"]

log = logging.getLogger(__name__)

ANCHOR_STREAM = (0,)
SAMPLE_STREAM = (1,)
RANDOM_STREAM = (2,)


@dataclass(repr=False)
class Report:
    """The result of :func:`diagnose`.

    Attributes
    ----------
    sampler, descriptor : identities of the black box and the descriptor
    config : the parameters of the run (n_anchors, n_samples, seed, theta, r, top, form, k, shard_size)
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
    bootstrap : confidence intervals from ``bbcollapse.stats.bootstrap_population`` when available
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
        return int(self.counts[self.worst])

    @property
    def worst_curve(self) -> np.ndarray:
        return self.mode_curves[0]

    @property
    def mode_mccs(self) -> np.ndarray:
        return self.mccs[self.modes]

    @property
    def samples_per_second(self) -> float | None:
        return self.config["n_samples"] / self.seconds if self.seconds > 0 else None

    def __repr__(self):
        return (
            f"Report(MCCS(I_w)={self.worst_mccs:.4f}, mu={self.mu:.4f}, sigma={self.sigma:.4f}, "
            f"worst={self.worst} with {self.worst_count} of {self.config['n_samples']} samples within r={self.config['r']}, "
            f"modes={len(self.modes)}, m={len(self.mccs)}, form={self.config['form']!r})"
        )

    def summary(self) -> str:
        """A few lines for a terminal."""
        c = self.config
        lines = [
            f"sampler     {self.sampler}",
            f"descriptor  {self.descriptor}",
            f"|A|={c['n_anchors']}  |C|={c['n_samples']}  seed={c['seed']}  theta={c['theta']}  r={c['r']}  MCCS form={c['form']!r}",
            f"MCCS(I_w) = {self.worst_mccs:.4f}   (anchor {self.worst}: {self.worst_count} samples within r)",
            f"mu, sigma = {self.mu:.4f}, {self.sigma:.4f}",
        ]
        if self.bootstrap:
            lines.append(f"bootstrap   {json.dumps(self.bootstrap)[:200]}")
        lines.append("top modes   " + ", ".join(f"#{i}: MCCS {v:.3f} (N={n})" for i, v, n in zip(self.modes.tolist(), self.mode_mccs.tolist(), self.counts[self.modes].tolist())))
        if self.seconds:
            lines.append(f"time        {self.seconds:.1f} s ({self.samples_per_second:.0f} samples/s)")
        return "\n".join(lines)

    # -- persistence -----------------------------------------------------------------
    def to_dict(self) -> dict:
        out = {}
        for f in fields(self):
            v = getattr(self, f.name)
            out[f.name] = v.tolist() if isinstance(v, np.ndarray) else v
        out["worst_mccs"] = self.worst_mccs
        out["worst_count"] = self.worst_count
        out["mode_mccs"] = self.mode_mccs.tolist()
        return out

    @classmethod
    def from_dict(cls, doc: dict) -> "Report":
        kw = {f.name: doc[f.name] for f in fields(cls) if f.name in doc}
        for name, dtype in [("grid", float), ("mccs", float), ("counts", np.int64), ("modes", np.int64), ("mode_curves", np.int64),
                            ("random_anchors", np.int64), ("random_curves", np.int64), ("nearest_index", np.int64), ("nearest_dist", float)]:
            kw[name] = np.asarray(kw[name], dtype=dtype)
        return cls(**kw)

    @classmethod
    def load(cls, path) -> "Report":
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
        path.write_text(json.dumps(self.to_dict(), indent=1, default=_json_default))
        if figures:
            self.plot_curves().savefig(d / "curves.png", dpi=120, bbox_inches="tight")
            self.plot_mccs_hist().savefig(d / "mccs_hist.png", dpi=120, bbox_inches="tight")
            import matplotlib.pyplot as plt

            plt.close("all")
        return path

    # -- figures ---------------------------------------------------------------------
    def plot_curves(self, ax=None):
        """Neighbour curves log10(max(N(I', C, d), 1)) of I_w, the other modes and the random anchors."""
        plt = _pyplot()
        fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(6, 4))
        logc = lambda c: np.log10(np.maximum(np.asarray(c, dtype=float), 1.0))
        for i, curve in enumerate(self.random_curves):
            ax.plot(self.grid, logc(curve), color="0.6", lw=1, label="random anchors" if i == 0 else None)
        for i, curve in enumerate(self.mode_curves[1:]):
            ax.plot(self.grid, logc(curve), color="tab:orange", lw=1, alpha=0.8, label="other distinct modes" if i == 0 else None)
        ax.plot(self.grid, logc(self.worst_curve), color="tab:red", lw=2, label=f"I_w (MCCS {self.worst_mccs:.3f})")
        ax.axvline(self.config["r"], color="k", ls=":", lw=1)
        ax.set_xlabel("normalised angular distance d")
        ax.set_ylabel("log10 N(I', C, d)")
        ax.set_title(f"Neighbour curves, |C| = {self.config['n_samples']}")
        ax.legend(frameon=False, fontsize=8)
        return fig

    def plot_mccs_hist(self, ax=None):
        """Histogram of per-anchor MCCS with I_w and mu marked."""
        plt = _pyplot()
        fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(6, 4))
        finite = self.mccs[np.isfinite(self.mccs)]
        ax.hist(finite, bins=min(50, max(10, len(finite) // 20)), color="tab:blue", alpha=0.7)
        ax.axvline(self.worst_mccs, color="tab:red", lw=2, label=f"I_w: {self.worst_mccs:.3f}")
        ax.axvline(self.mu, color="k", ls="--", lw=1, label=f"mu = {self.mu:.3f}, sigma = {self.sigma:.3f}")
        ax.set_xlabel(f"MCCS (form {self.config['form']!r}, theta = {self.config['theta']})")
        ax.set_ylabel("anchors")
        ax.legend(frameon=False, fontsize=8)
        return fig


def _pyplot():
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _json_default(v):
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    if is_dataclass(v):
        return asdict(v)
    return str(v)


# -- the pieces shared by the local and the distributed runs ---------------------------
def reduce_shard(anchors, embeddings, *, offset: int, r: float, grid, theta: float, k: int, **engine_kwargs) -> NeighborStats:
    """NeighborStats of one shard of C (global indices start at ``offset``): one engine pass."""
    return neighbor_stats(anchors=anchors, samples=embeddings, radii=(r,), grid=grid, theta=theta, k=k, index_offset=offset, progress=False, **engine_kwargs)


def embed_set(sampler, descriptor, *, n: int, seed: int, stream: tuple, shard_size: int, store_dir=None, progress=False):
    """All embeddings of a stream, (n, D): from a store when ``store_dir`` is given (resumable)."""
    if store_dir is not None:
        with EmbeddingStore(store_dir, sampler=sampler, descriptor=descriptor, seed=seed, stream=stream, shard_size=shard_size, progress=progress) as st:
            return st.fill(n).embeddings(n)
    return np.concatenate([embed_shard(sampler, descriptor, seed=seed, stream=stream, j=j, n=n_j)[1] for j, n_j in enumerate(shard_sizes(n, shard_size))])


def _bootstrap(values, seed):
    """:func:`bbcollapse.stats.bootstrap_population` on the MCCS values (None below 3 values)."""
    if len(values) < 3:
        return None
    result = bootstrap_population(values, seed=seed)
    return json.loads(json.dumps(result, default=_json_default))


def summarize(*, anchors, stats: NeighborStats, sampler_id: str, descriptor_id: str, config: dict, n_random: int, seconds: float = 0.0) -> Report:
    """Turn merged NeighborStats over C into a :class:`Report` (pure; no sampling)."""
    r, top, form, seed = config["r"], config["top"], config["form"], config["seed"]
    values = mccs(stats, form=form)
    counts = stats.counts[:, 0]
    modes = distinct_modes(anchors, counts, r=r, top=top)
    finite = values[np.isfinite(values)]
    if finite.size < values.size:
        log.warning("%d anchors have MCCS = inf (every sample identical to the anchor); excluded from mu and sigma", values.size - finite.size)
    pop = population(finite)
    m = anchors.shape[0]
    rng = np.random.default_rng(shard_seed(seed, *RANDOM_STREAM))
    rand = np.sort(rng.choice(m, size=min(n_random, m), replace=False)).astype(np.int64)
    return Report(
        sampler=sampler_id,
        descriptor=descriptor_id,
        config=config,
        grid=stats.grid.copy(),
        mccs=np.asarray(values, dtype=np.float64),
        counts=counts.astype(np.int64),
        worst=modes.worst,
        modes=modes.indices,
        mode_curves=stats.curve[modes.indices],
        random_anchors=rand,
        random_curves=stats.curve[rand],
        nearest_index=stats.topk_index[modes.worst],
        nearest_dist=stats.topk_dist[modes.worst],
        mu=pop.mu,
        sigma=pop.sigma,
        bootstrap=_bootstrap(finite, seed),
        seconds=float(seconds),
    )


def check_config(*, n_anchors, n_samples, seed, theta, r, top, form, grid, k, shard_size, n_random) -> dict:
    """Validate diagnose() arguments at the boundary; returns the JSON-able config."""
    for name, value, low in [("n_anchors", n_anchors, 2), ("n_samples", n_samples, 1), ("top", top, 1), ("shard_size", shard_size, 1), ("k", k, 0), ("n_random", n_random, 0)]:
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}; got {value!r}")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer; got {seed!r}")
    if form not in MCCS_FORMS:
        raise ValueError(f"form must be one of {MCCS_FORMS}; got {form!r}")
    (r,) = check_unit_interval(r, "r")
    grid = check_unit_interval(grid, "grid")
    return dict(
        n_anchors=int(n_anchors), n_samples=int(n_samples), seed=int(seed), theta=check_theta(theta), r=float(r),
        top=int(top), form=form, grid=grid.tolist(), k=int(k), shard_size=int(shard_size), n_random=int(n_random),
    )


def diagnose(
    sampler,
    descriptor,
    *,
    n_anchors: int,
    n_samples: int,
    seed: int = 0,
    theta: float = 0.3,
    r: float = 0.25,
    top: int = 10,
    form: str = "code",
    store=None,
    grid=PAPER_GRID,
    k: int = 8,
    n_random: int = 5,
    shard_size: int = 4096,
    progress: bool | None = None,
    **engine_kwargs,
) -> Report:
    """Black-box diagnosis of intra-mode collapse (paper 000, section 3.1).

    Parameters
    ----------
    sampler : callable ``(seed, n) -> Batch(z, x)`` (any :class:`~bbcollapse.Sampler`)
    descriptor : callable ``x -> (n, D)`` unit vectors
    n_anchors : |A|, the anchors scored (>= 2)
    n_samples : |C|, the samples each anchor is compared with
    seed : base seed; A, C and the random reference anchors use disjoint sub-streams
    theta : width of the similarity kernel (the authors use 0.3 or 0.4)
    r : radius of the neighbour counts that pick I_w and of mode distinctness (0.25 in the authors' code)
    top : number of distinct dense modes to report
    form : "code" (1/(-log10 m), default) or "paper" (Eq. 7, 1/(1 - ln m))
    store : directory of a resumable :class:`~bbcollapse.store.EmbeddingStore` (subdirectories
        ``anchors`` and ``samples``); None keeps everything in memory
    grid : distances of the neighbour curves (default the paper's 0.10..0.50)
    k : nearest samples of I_w to report
    n_random : random anchors whose curves are reported
    shard_size : samples per shard (memory and resume granularity)
    progress : tqdm bar with throughput (default: only on a terminal)
    engine_kwargs : passed to :func:`~bbcollapse.neighbor_stats` (device, backend, chunk, anchor_block)

    Returns
    -------
    Report
    """
    config = check_config(n_anchors=n_anchors, n_samples=n_samples, seed=seed, theta=theta, r=r, top=top, form=form, grid=grid, k=k, shard_size=shard_size, n_random=n_random)
    show = sys.stderr.isatty() if progress is None else bool(progress)
    t0 = time.perf_counter()
    store_a = store_c = None
    if store is not None:
        store_a, store_c = Path(store) / "anchors", Path(store) / "samples"
    anchors = embed_set(sampler, descriptor, n=n_anchors, seed=seed, stream=ANCHOR_STREAM, shard_size=shard_size, store_dir=store_a, progress=show)

    opts = dict(r=config["r"], grid=np.asarray(config["grid"]), theta=config["theta"], k=config["k"], **engine_kwargs)
    sizes = shard_sizes(n_samples, shard_size)
    bar = None
    if show:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_samples, unit="sample", unit_scale=True, desc="diagnose", smoothing=0.1)
    stats = st = None
    try:
        if store_c is not None:
            st = EmbeddingStore(store_c, sampler=sampler, descriptor=descriptor, seed=seed, stream=SAMPLE_STREAM, shard_size=shard_size, progress=False)
            shards = ((offset, e) for offset, _, e in st.iter_shards(n_samples))
        else:
            offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int)
            shards = ((int(offsets[j]), embed_shard(sampler, descriptor, seed=seed, stream=SAMPLE_STREAM, j=j, n=n_j)[1]) for j, n_j in enumerate(sizes))
        for offset, e in shards:
            part = reduce_shard(anchors, e, offset=offset, **opts)
            stats = part if stats is None else stats.merge(part)
            if bar is not None:
                bar.update(len(e))
    finally:
        if bar is not None:
            bar.close()
        if st is not None:
            st.close()
    return summarize(anchors=anchors, stats=stats, sampler_id=identity_of(sampler), descriptor_id=identity_of(descriptor), config=config, n_random=n_random, seconds=time.perf_counter() - t0)
