"""Diagnose a black box: MCCS of the worst-case and distinct dense modes, mu and sigma.

Paper 000, section 3.1, as one reduction over pairs of embeddings:

1. :func:`diagnose` draws the anchor set A and the sample set C from the sampler on
   *different seed streams* (A: ``shard_seed(seed, 0, j)``, C: ``shard_seed(seed, 1, j)``),
   so A and C are disjoint as the paper requires, and embeds both with the descriptor;
2. :func:`diagnose_embeddings` (where plain arrays enter) streams C through the engine
   shard by shard: each shard gives one :class:`~bbcollapse.neighbors.NeighborStats` with
   counts at r (inside Eq. 9), the neighbour curve on the grid, the similarity sums for theta
   (Eqs. 3 and 6) and the k nearest samples, all from one pass over its tiles, each only for
   the anchors the report needs it for (the plan of :mod:`~bbcollapse.diagnosis.scoring`);
3. :class:`~bbcollapse.diagnosis.scoring.Reduction` selects the worst case
   ``I_w = argmax N(I', S, r)`` and the distinct modes (Eq. 9) on the first half S of C and
   scores them on the rest T, and :func:`~bbcollapse.diagnosis.scoring.summarize` gives
   per-anchor MCCS (Eq. 7), (mu, sigma) over A (Eq. 8) and the curves of I_w and of random
   anchors (the reference R_ref), with bootstrap intervals.

Every entry point takes its parameters from one :class:`~bbcollapse.diagnosis.config.DiagnoseConfig`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from .._progress import progress_bar
from ..blackbox import identity_of
from ..distance import validate_unit
from ..store import EmbeddingStore, embed_shard, iter_shard_sizes
from .config import DiagnoseConfig, resolve_config
from .defaults import with_subject_theta_r
from .report import Report
from .scoring import Reduction, reduce_shard, summarize

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

#: Identity recorded in a Report for arrays given directly (no sampler or descriptor known).
EMBEDDINGS = "embeddings"


# -- the pieces shared by the local and the distributed runs ---------------------------
def iter_shard_plan(n: int, shard_size: int):
    """``(j, offset, n_j)`` of the shards holding the first ``n`` samples, lazily (nothing held per shard)."""
    offset = 0
    for j, n_j in enumerate(iter_shard_sizes(n, shard_size)):
        yield j, offset, n_j
        offset += n_j


def shard_plan(n: int, shard_size: int) -> list[tuple[int, int, int]]:
    """``(j, offset, n_j)`` of the shards holding the first ``n`` samples (offset: global index of its first sample).

    A list, one entry per shard; streams of unbounded length go through :func:`iter_shard_plan`.
    """
    return list(iter_shard_plan(n, shard_size))


def engine_options(config: DiagnoseConfig, engine_kwargs: dict) -> dict:
    """Keyword arguments of :func:`reduce_shard` for ``config`` (radius, grid, theta, k) and the engine."""
    return dict(r=config.r, grid=np.asarray(config.grid), theta=config.theta, k=config.k, **engine_kwargs)


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
    for j, _, n_j in iter_shard_plan(n, shard_size):
        yield embed_shard(sampler, descriptor, seed=seed, stream=stream, j=j, n=n_j)[1]


def check_count(config: DiagnoseConfig, name: str, got: int) -> None:
    """Raise when the config asks for ``name`` = N vectors and the data hold another number."""
    want = getattr(config, name)
    if want is not None and want != got:
        raise ValueError(f"{name}={want} in the config, but {got} were given")


def as_shards(samples, shard_size: int):
    """(n, D) array -> its slices of ``shard_size`` rows; an iterable of (n_j, D) arrays -> itself."""
    if getattr(samples, "ndim", None) == 2:
        return (samples[offset : offset + n_j] for _, offset, n_j in iter_shard_plan(len(samples), shard_size))
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
        iterable of (n_j, D) arrays, its shards in order (streamed: only one shard is held at a time;
        give ``n_samples`` so that C can be split into S and T)
    config : DiagnoseConfig (default: its defaults); n_anchors / n_samples, when set, must match the data
    sampler, descriptor : identities recorded in the report (default "embeddings")
    progress : progress bar with throughput (default: only on a terminal)
    overrides : DiagnoseConfig fields to replace (theta=0.4, r=0.2, ...); other keywords go to
        :func:`~bbcollapse.neighbor_stats` (device, backend, chunk, anchor_block, prefilter), except
        ``plan=False``, which has the engine compute every statistic for every anchor instead of only
        what the report reads (the same report, slower; for checks and benchmarks)

    Returns
    -------
    Report, whose ``config`` records n_anchors = m and n_samples = n; the modes are selected on the
    first ceil(n/2) samples and scored on the rest (``scoring="split"``, the default)

    Examples
    --------
    >>> report = diagnose_embeddings(anchors=a, samples=c, theta=0.3, r=0.25)
    >>> report.worst_mccs, report.mu, report.sigma
    """
    t0 = time.perf_counter()
    given = {"theta", "r"} if config is not None else {k for k in ("theta", "r") if k in overrides}
    config, engine_kwargs = resolve_config(config, overrides)
    _, theta_r_source = with_subject_theta_r(config, given, None, None)  # arrays carry no subject: given or generic
    anchors = validate_unit(anchors, "anchors")
    check_count(config, "n_anchors", anchors.shape[0])
    config = replace(config, n_anchors=anchors.shape[0])
    if getattr(samples, "ndim", None) == 2:
        check_count(config, "n_samples", len(samples))
        config = replace(config, n_samples=len(samples))
    elif config.n_samples is None:
        if config.scoring == "split":
            raise ValueError(
                "give n_samples (|C|) with an iterable of shards, so that C can be split into the selection "
                "sample S and the scoring sample T (or scoring='same')"
            )
        samples = list(samples)  # scoring="same" on shards of unknown total: hold them to count
        n = sum(len(x) for x in samples)
        if n == 0:
            raise ValueError("samples is empty: expected at least one (n_j, D) shard of unit vectors")
        config = replace(config, n_samples=n)
    reduction = Reduction(anchors, config, engine_options(config, engine_kwargs))
    with progress_bar(progress, total=config.n_samples, desc="diagnose", unit="sample") as bar:
        for shard in as_shards(samples, config.shard_size):
            reduction.add(shard)
            bar.update(len(shard))
    report = reduction.finish()
    seconds = time.perf_counter() - t0
    return replace(report, sampler=sampler, descriptor=descriptor, seconds=seconds, theta_r_source=theta_r_source)


def diagnose(
    sampler, descriptor, *, config: DiagnoseConfig | None = None, store=None, progress: bool | None = None, **overrides
) -> Report:
    """Black-box diagnosis of intra-mode collapse (paper 000, section 3.1).

    Parameters
    ----------
    sampler : callable ``(seed, n) -> Batch(z, x)`` (any :class:`~bbcollapse.Sampler`)
    descriptor : callable ``x -> (n, D)`` unit vectors
    config : DiagnoseConfig (n_anchors and n_samples required, here or as keywords); when neither
        ``config`` nor the keyword theta (or r) is given, the subject's own value is used if it carries
        one (built-in subjects, served models; :func:`bbcollapse.diagnosis.defaults.subject_theta_r`),
        and ``report.theta_r_source`` says where each came from
    store : directory of a resumable :class:`~bbcollapse.store.EmbeddingStore` (subdirectories
        ``anchors`` and ``samples``); None keeps everything in memory
    progress : tqdm bar with throughput (default: only on a terminal)
    overrides : DiagnoseConfig fields (n_anchors, n_samples, seed, theta, r, top, form, grid, k,
        n_random, shard_size; see :class:`DiagnoseConfig` for their meaning and defaults); other
        keywords go to :func:`~bbcollapse.neighbor_stats` (device, backend, chunk, anchor_block,
        prefilter), or are ``plan=False`` (see :func:`diagnose_embeddings`)

    Returns
    -------
    Report

    Examples
    --------
    >>> report = diagnose(PlantedSphere(), identity_descriptor, n_anchors=1000, n_samples=20_000)
    """
    given = {"theta", "r"} if config is not None else {k for k in ("theta", "r") if k in overrides}
    config, engine_kwargs = resolve_config(config, overrides)
    config.require_sizes()
    config, theta_r_source = with_subject_theta_r(config, given, sampler, descriptor)
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
    # the time includes sampling the anchors
    return replace(report, seconds=time.perf_counter() - t0, theta_r_source=theta_r_source)
