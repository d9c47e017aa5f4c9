"""The same diagnosis on a Dask cluster: shards are sampled, embedded and reduced on workers.

Each task draws shard j of C from ``sampler(shard_seed(seed, 1, j), n_j)``, embeds it and
reduces it against the anchors into a :class:`~bbcollapse.neighbors.NeighborStats` whose
sample indices start at the shard's global offset; the client merges the statistics as
they arrive.  Only the anchors (m, D) travel to the workers and only NeighborStats
(m x (G + 2k + 2) numbers) travel back, never the samples.  Counts, curves and top-k
are exactly those of :func:`bbcollapse.diagnose`; similarity sums agree to rounding
(they are added in another order).

Usage::

    from dask.distributed import Client
    client = Client("tcp://scheduler:8786")          # or Client(LocalCluster(...))
    report = diagnose_distributed(sampler, descriptor, client=client,
                                  n_anchors=10_000, n_samples=1_000_000)

The sampler and descriptor are pickled (cloudpickle) to the workers, so they must be
importable or defined in a way cloudpickle can ship; the adapters in
:mod:`bbcollapse.blackbox.adapters` are (an ONNX session is reopened on each worker, a model
file or command must exist at the same path there).
"""

from __future__ import annotations

import logging
import time

import numpy as np

from ..blackbox import identity_of
from ..neighbors import NeighborStats
from ..store import embed_shard
from .config import DiagnoseConfig, resolve_config
from .core import ANCHOR_STREAM, SAMPLE_STREAM, Report, engine_options, reduce_shard, shard_plan, summarize

__all__ = ["diagnose_distributed", "shard_task"]

log = logging.getLogger(__name__)


def embed_task(sampler, descriptor, seed: int, stream: tuple, j: int, n_j: int) -> np.ndarray:
    """(n_j, D) embeddings of shard j of a stream (runs on a worker)."""
    return embed_shard(sampler, descriptor, seed=seed, stream=stream, j=j, n=n_j)[1]


def shard_task(sampler, descriptor, anchors, *, seed: int, j: int, n_j: int, offset: int, opts: dict) -> NeighborStats:
    """Sample, embed and reduce shard j of C against the (m, D) anchors (runs on a worker)."""
    e = embed_task(sampler, descriptor, seed, SAMPLE_STREAM, j, n_j)
    return reduce_shard(anchors, e, offset=offset, **opts)


def diagnose_distributed(
    sampler,
    descriptor,
    *,
    client,
    config: DiagnoseConfig | None = None,
    max_in_flight: int | None = None,
    **overrides,
) -> Report:
    """:func:`bbcollapse.diagnose` with shards computed on a ``dask.distributed`` Client.

    Parameters
    ----------
    sampler, descriptor : as in :func:`bbcollapse.diagnose` (no ``store``: each worker recomputes its shards)
    client : dask.distributed.Client
    config : DiagnoseConfig (n_anchors and n_samples required, here or as keywords)
    max_in_flight : shards submitted at once (default 2 per worker thread), which bounds
        the memory held by finished-but-unmerged NeighborStats.
    overrides : DiagnoseConfig fields, then engine options, as in :func:`bbcollapse.diagnose`

    Returns
    -------
    Report, equal to :func:`bbcollapse.diagnose`'s (similarity sums to rounding)
    """
    from dask.distributed import as_completed

    config, engine_kwargs = resolve_config(config, overrides)
    config.require_sizes()
    t0 = time.perf_counter()
    sampler_f, descriptor_f = client.scatter([sampler, descriptor], broadcast=True, hash=False)

    a_futs = [
        client.submit(embed_task, sampler_f, descriptor_f, config.seed, ANCHOR_STREAM, j, n_j, pure=False)
        for j, _, n_j in shard_plan(config.n_anchors, config.shard_size)
    ]
    anchors = np.concatenate(client.gather(a_futs))
    del a_futs
    anchors_f = client.scatter(anchors, broadcast=True, hash=False)

    opts = engine_options(config, engine_kwargs)
    if max_in_flight is None:
        max_in_flight = 2 * max(1, sum(client.nthreads().values()))
    todo = shard_plan(config.n_samples, config.shard_size)[::-1]

    def submit():
        j, offset, n_j = todo.pop()
        return client.submit(
            shard_task,
            sampler_f,
            descriptor_f,
            anchors_f,
            seed=config.seed,
            j=j,
            n_j=n_j,
            offset=offset,
            opts=opts,
            pure=False,
        )

    running = as_completed([submit() for _ in range(min(max_in_flight, len(todo)))])
    stats = None
    for fut in running:
        part = fut.result()
        fut.release()
        stats = part if stats is None else stats.merge(part)
        if todo:
            running.add(submit())
    if stats is None or stats.n_samples != config.n_samples:
        got = 0 if stats is None else stats.n_samples
        raise RuntimeError(f"distributed run reduced {got} samples; expected {config.n_samples}")
    return summarize(
        anchors=anchors,
        stats=stats,
        sampler_id=identity_of(sampler),
        descriptor_id=identity_of(descriptor),
        config=config,
        seconds=time.perf_counter() - t0,
    )
