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
from .core import ANCHOR_STREAM, SAMPLE_STREAM, Report, check_config, reduce_shard, summarize
from ..neighbors import PAPER_GRID, NeighborStats
from ..store import embed_shard, shard_sizes

__all__ = ["diagnose_distributed", "shard_task"]

log = logging.getLogger(__name__)


def _embed_task(sampler, descriptor, seed, stream, j, n_j):
    return embed_shard(sampler, descriptor, seed=seed, stream=stream, j=j, n=n_j)[1]


def shard_task(sampler, descriptor, anchors, *, seed: int, j: int, n_j: int, offset: int, opts: dict) -> NeighborStats:
    """Sample, embed and reduce shard j of C (runs on a worker)."""
    e = embed_shard(sampler, descriptor, seed=seed, stream=SAMPLE_STREAM, j=j, n=n_j)[1]
    return reduce_shard(anchors, e, offset=offset, **opts)


def diagnose_distributed(
    sampler,
    descriptor,
    *,
    client,
    n_anchors: int,
    n_samples: int,
    seed: int = 0,
    theta: float = 0.3,
    r: float = 0.25,
    top: int = 10,
    form: str = "code",
    grid=PAPER_GRID,
    k: int = 8,
    n_random: int = 5,
    shard_size: int = 4096,
    max_in_flight: int | None = None,
    **engine_kwargs,
) -> Report:
    """:func:`bbcollapse.diagnose` with shards computed on a ``dask.distributed`` Client.

    Parameters are those of :func:`bbcollapse.diagnose` (no ``store``: each worker
    recomputes its shards), plus

    client : dask.distributed.Client
    max_in_flight : shards submitted at once (default 2 per worker thread), which bounds
        the memory held by finished-but-unmerged NeighborStats.
    """
    from dask.distributed import as_completed

    config = check_config(n_anchors=n_anchors, n_samples=n_samples, seed=seed, theta=theta, r=r, top=top, form=form, grid=grid, k=k, shard_size=shard_size, n_random=n_random)
    t0 = time.perf_counter()
    sampler_f, descriptor_f = client.scatter([sampler, descriptor], broadcast=True, hash=False)

    a_sizes = shard_sizes(n_anchors, shard_size)
    a_futs = [client.submit(_embed_task, sampler_f, descriptor_f, config["seed"], ANCHOR_STREAM, j, n_j, pure=False) for j, n_j in enumerate(a_sizes)]
    anchors = np.concatenate(client.gather(a_futs))
    del a_futs
    anchors_f = client.scatter(anchors, broadcast=True, hash=False)

    opts = dict(r=config["r"], grid=np.asarray(config["grid"]), theta=config["theta"], k=config["k"], **engine_kwargs)
    sizes = shard_sizes(n_samples, shard_size)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int).tolist()
    if max_in_flight is None:
        max_in_flight = 2 * max(1, sum(client.nthreads().values()))
    todo = list(enumerate(sizes))[::-1]

    def submit():
        j, n_j = todo.pop()
        return client.submit(shard_task, sampler_f, descriptor_f, anchors_f, seed=config["seed"], j=j, n_j=n_j, offset=offsets[j], opts=opts, pure=False)

    running = as_completed([submit() for _ in range(min(max_in_flight, len(todo)))])
    stats = None
    for fut in running:
        part = fut.result()
        fut.release()
        stats = part if stats is None else stats.merge(part)
        if todo:
            running.add(submit())
    if stats is None or stats.n_samples != n_samples:
        raise RuntimeError(f"distributed run reduced {0 if stats is None else stats.n_samples} samples; expected {n_samples}")
    return summarize(anchors=anchors, stats=stats, sampler_id=identity_of(sampler), descriptor_id=identity_of(descriptor), config=config, n_random=n_random, seconds=time.perf_counter() - t0)
