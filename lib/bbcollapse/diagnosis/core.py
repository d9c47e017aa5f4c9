"""Diagnose a black box: MCCS of the worst-case and distinct dense modes, mu and sigma.

Paper 000, section 3.1, as one reduction over pairs of embeddings:

1. :func:`diagnose` draws the anchor set A and the sample set C from the sampler on
   *different seed streams* (A: ``shard_seed(seed, 0, j)``, C: ``shard_seed(seed, 1, j)``),
   so A and C are disjoint as the paper requires, and embeds both with the descriptor;
2. :func:`diagnose_embeddings` (where plain arrays enter) streams C through the engine
   shard by shard; each shard gives one :class:`~bbcollapse.neighbors.NeighborStats` with
   counts at r (Eq. 5), the neighbour curve on the grid, the similarity sums for theta
   (Eq. 4) and the k nearest samples, all from one pass over its tiles, and the shards'
   statistics are merged (the distributed run in :mod:`bbcollapse.diagnosis.distributed`
   merges the same per-shard statistics);
3. :func:`summarize` reduces them: per-anchor MCCS (Eq. 7 or the authors' code form), the
   worst-case mode ``I_w = argmax N(I', C, r)`` and the top distinct modes (Eq. 9),
   (mu, sigma) over A (Eq. 8), the neighbour curves of I_w and of a few random anchors
   (the reference R_ref).

Every entry point takes its parameters from one :class:`~bbcollapse.diagnosis.config.DiagnoseConfig`.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from .._progress import progress_bar
from ..blackbox import identity_of, shard_seed
from ..distance import validate_unit
from ..neighbors import NeighborStats, neighbor_stats
from ..stats import bootstrap_population, distinct_modes, mccs, population
from ..store import EmbeddingStore, embed_shard, shard_sizes
from .config import DiagnoseConfig, resolve_config
from .report import Report, jsonable

__all__ = [
    "diagnose",
    "diagnose_embeddings",
    "reduce_shard",
    "summarize",
    "embed_set",
    "shard_plan",
    "ANCHOR_STREAM",
    "SAMPLE_STREAM",
]

log = logging.getLogger(__name__)

ANCHOR_STREAM = (0,)
SAMPLE_STREAM = (1,)
RANDOM_STREAM = (2,)

#: Identity recorded in a Report for arrays given directly (no sampler or descriptor known).
EMBEDDINGS = "embeddings"


# -- the pieces shared by the local and the distributed runs ---------------------------
def shard_plan(n: int, shard_size: int) -> list[tuple[int, int, int]]:
    """``(j, offset, n_j)`` of the shards holding the first ``n`` samples (offset: global index of its first sample)."""
    sizes = shard_sizes(n, shard_size)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int).tolist()
    return [(j, offsets[j], n_j) for j, n_j in enumerate(sizes)]


def engine_options(config: DiagnoseConfig, engine_kwargs: dict) -> dict:
    """Keyword arguments of :func:`reduce_shard` for ``config`` (radius, grid, theta, k) and the engine."""
    return dict(r=config.r, grid=np.asarray(config.grid), theta=config.theta, k=config.k, **engine_kwargs)


def reduce_shard(
    anchors, embeddings, *, offset: int, r: float, grid, theta: float, k: int, **engine_kwargs
) -> NeighborStats:
    """NeighborStats of one shard of C: one engine pass.

    Parameters
    ----------
    anchors : (m, D) unit vectors
    embeddings : (n_j, D) unit vectors, the shard
    offset : global index in C of the shard's first sample
    r, grid, theta, k : radius of the counts, (G,) curve distances, kernel width, nearest samples kept
    engine_kwargs : passed to :func:`~bbcollapse.neighbor_stats` (device, backend, chunk, anchor_block)
    """
    return neighbor_stats(
        anchors=anchors,
        samples=embeddings,
        radii=(r,),
        grid=grid,
        theta=theta,
        k=k,
        index_offset=offset,
        progress=False,
        **engine_kwargs,
    )


def embed_set(
    sampler, descriptor, *, n: int, seed: int, stream: tuple, shard_size: int, store_dir=None, progress=False
) -> np.ndarray:
    """All embeddings of a stream, (n, D): from a store when ``store_dir`` is given (resumable)."""
    source = dict(sampler=sampler, descriptor=descriptor, seed=seed, stream=stream, shard_size=shard_size)
    if store_dir is not None:
        with EmbeddingStore(store_dir, progress=progress, **source) as st:
            return st.fill(n).embeddings(n)
    return np.concatenate(list(sample_shards(n=n, **source)))


def sample_shards(sampler, descriptor, *, n: int, seed: int, stream: tuple, shard_size: int):
    """Yield the (n_j, D) embeddings of the shards of a stream, sampled and embedded one at a time."""
    for j, _, n_j in shard_plan(n, shard_size):
        yield embed_shard(sampler, descriptor, seed=seed, stream=stream, j=j, n=n_j)[1]


def _bootstrap(values, seed):
    """:func:`bbcollapse.stats.bootstrap_population` on the MCCS values (None below 3 values)."""
    if len(values) < 3:
        return None
    result = bootstrap_population(values, seed=seed)
    return json.loads(json.dumps(result, default=jsonable))


def summarize(
    *,
    anchors,
    stats: NeighborStats,
    sampler_id: str,
    descriptor_id: str,
    config: DiagnoseConfig | dict,
    seconds: float = 0.0,
) -> Report:
    """Turn merged NeighborStats over C into a :class:`Report` (pure; no sampling).

    Parameters
    ----------
    anchors : (m, D) unit vectors, the anchor set A
    stats : NeighborStats of A against all of C, with counts at ``config.r``, curves on ``config.grid``,
        similarity sums for ``config.theta`` and ``config.k`` nearest samples
    sampler_id, descriptor_id : identities recorded in the report
    config : the DiagnoseConfig of the run (or its ``to_json`` dict); missing n_anchors / n_samples
        are taken from ``anchors`` and ``stats``
    seconds : wall time to record
    """
    if isinstance(config, dict):
        config = DiagnoseConfig.from_json(config)
    m = anchors.shape[0]
    config = replace(
        config,
        n_anchors=m if config.n_anchors is None else config.n_anchors,
        n_samples=stats.n_samples if config.n_samples is None else config.n_samples,
    )
    values = mccs(stats, form=config.form)
    counts = stats.counts[:, 0]
    modes = distinct_modes(anchors, counts, r=config.r, top=config.top)  # modes.worst: the one tie rule
    finite = values[np.isfinite(values)]
    if finite.size < values.size:
        log.warning(
            "%d anchors have MCCS = inf (every sample identical to the anchor); excluded from mu and sigma",
            values.size - finite.size,
        )
    pop = population(finite)
    rng = np.random.default_rng(shard_seed(config.seed, *RANDOM_STREAM))
    rand = np.sort(rng.choice(m, size=min(config.n_random, m), replace=False)).astype(np.int64)
    return Report(
        sampler=sampler_id,
        descriptor=descriptor_id,
        config=config.to_json(),
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
        bootstrap=_bootstrap(finite, config.seed),
        seconds=float(seconds),
    )


def check_count(config: DiagnoseConfig, name: str, got: int) -> None:
    """Raise when the config asks for ``name`` = N vectors and the data hold another number."""
    want = getattr(config, name)
    if want is not None and want != got:
        raise ValueError(f"{name}={want} in the config, but {got} were given")


def as_shards(samples, shard_size: int):
    """(n, D) array -> its slices of ``shard_size`` rows; an iterable of (n_j, D) arrays -> itself."""
    if getattr(samples, "ndim", None) == 2:
        return (samples[offset : offset + n_j] for _, offset, n_j in shard_plan(len(samples), shard_size))
    return iter(samples)


def diagnose_embeddings(
    anchors,
    samples,
    *,
    config: DiagnoseConfig | None = None,
    sampler: str = EMBEDDINGS,
    descriptor: str = EMBEDDINGS,
    progress: bool | None = None,
    **overrides,
) -> Report:
    """Diagnosis of intra-mode collapse from embeddings (paper 000, section 3.1, steps after embedding).

    Parameters
    ----------
    anchors : (m, D) unit vectors, the anchor set A (m >= 2)
    samples : (n, D) unit vectors, the sample set C (reduced ``config.shard_size`` rows at a time), or an
        iterable of (n_j, D) arrays, its shards in order (streamed: only one shard is held at a time)
    config : DiagnoseConfig (default: its defaults); n_anchors / n_samples, when set, must match the data
    sampler, descriptor : identities recorded in the report (default "embeddings")
    progress : progress bar with throughput (default: only on a terminal)
    overrides : DiagnoseConfig fields to replace (theta=0.4, r=0.2, ...); other keywords go to
        :func:`~bbcollapse.neighbor_stats` (device, backend, chunk, anchor_block)

    Returns
    -------
    Report, whose ``config`` records n_anchors = m and n_samples = n

    Examples
    --------
    >>> report = diagnose_embeddings(anchors=a, samples=c, theta=0.3, r=0.25)
    >>> report.worst_mccs, report.mu, report.sigma
    """
    t0 = time.perf_counter()
    config, engine_kwargs = resolve_config(config, overrides)
    anchors = validate_unit(anchors, "anchors")
    check_count(config, "n_anchors", anchors.shape[0])
    config = replace(config, n_anchors=anchors.shape[0])
    total = len(samples) if getattr(samples, "ndim", None) == 2 else config.n_samples
    opts = engine_options(config, engine_kwargs)
    stats = None
    with progress_bar(progress, total=total, desc="diagnose", unit="sample") as bar:
        for shard in as_shards(samples, config.shard_size):
            offset = 0 if stats is None else stats.n_samples
            part = reduce_shard(anchors, shard, offset=offset, **opts)
            stats = part if stats is None else stats.merge(part)
            bar.update(len(shard))
    if stats is None:
        raise ValueError("samples is empty: expected at least one (n_j, D) shard of unit vectors")
    check_count(config, "n_samples", stats.n_samples)
    return summarize(
        anchors=anchors,
        stats=stats,
        sampler_id=sampler,
        descriptor_id=descriptor,
        config=config,
        seconds=time.perf_counter() - t0,
    )


def diagnose(
    sampler, descriptor, *, config: DiagnoseConfig | None = None, store=None, progress: bool | None = None, **overrides
) -> Report:
    """Black-box diagnosis of intra-mode collapse (paper 000, section 3.1).

    Parameters
    ----------
    sampler : callable ``(seed, n) -> Batch(z, x)`` (any :class:`~bbcollapse.Sampler`)
    descriptor : callable ``x -> (n, D)`` unit vectors
    config : DiagnoseConfig (n_anchors and n_samples required, here or as keywords)
    store : directory of a resumable :class:`~bbcollapse.store.EmbeddingStore` (subdirectories
        ``anchors`` and ``samples``); None keeps everything in memory
    progress : tqdm bar with throughput (default: only on a terminal)
    overrides : DiagnoseConfig fields (n_anchors, n_samples, seed, theta, r, top, form, grid, k,
        n_random, shard_size; see :class:`DiagnoseConfig` for their meaning and defaults); other
        keywords go to :func:`~bbcollapse.neighbor_stats` (device, backend, chunk, anchor_block)

    Returns
    -------
    Report

    Examples
    --------
    >>> report = diagnose(PlantedSphere(), identity_descriptor, n_anchors=1000, n_samples=20_000)
    """
    config, engine_kwargs = resolve_config(config, overrides)
    config.require_sizes()
    t0 = time.perf_counter()
    store_a = store_c = None
    if store is not None:
        store_a, store_c = Path(store) / "anchors", Path(store) / "samples"
    run = dict(sampler=sampler, descriptor=descriptor, seed=config.seed, shard_size=config.shard_size)
    anchors = embed_set(n=config.n_anchors, stream=ANCHOR_STREAM, store_dir=store_a, progress=progress, **run)
    st = None
    try:
        if store_c is not None:
            st = EmbeddingStore(store_c, stream=SAMPLE_STREAM, progress=False, **run)
            shards = (e for _, _, e in st.iter_shards(config.n_samples))
        else:
            shards = sample_shards(n=config.n_samples, stream=SAMPLE_STREAM, **run)
        report = diagnose_embeddings(
            anchors,
            shards,
            config=config,
            sampler=identity_of(sampler),
            descriptor=identity_of(descriptor),
            progress=progress,
            **engine_kwargs,
        )
    finally:
        if st is not None:
            st.close()
    return replace(report, seconds=time.perf_counter() - t0)  # the time includes sampling the anchors
