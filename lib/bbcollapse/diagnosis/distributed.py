"""The same diagnosis on a Dask cluster: shards are sampled, embedded and reduced on workers.

Each task draws shard j of C from ``sampler(shard_seed(seed, 1, j), n_j)``, embeds it and
reduces its rows in one part of C against the anchors into a
:class:`~bbcollapse.neighbors.NeighborStats` whose sample indices start at the rows' global
offset; the client merges the statistics as they arrive.  The run has the two phases of
:mod:`bbcollapse.diagnosis.scoring`: the rows of the selection sample S first; then, once the
modes are selected, the rows of the scoring sample T, whose tasks also return the similarity
contributions of the selected and random anchors (the one shard straddling S and T is drawn
in both phases).  Each phase's tasks carry its engine plan (:func:`~.scoring.select_plan`,
:func:`~.scoring.score_plan`): curves and top-k are computed on T only, for the anchors the
report shows.  Only the anchors (m, D) travel to the workers and only NeighborStats
(m x (G + 2k + 2) numbers) and a few contributions travel back, never the samples.  Counts,
curves and top-k are exactly those of :func:`bbcollapse.diagnose`; similarity sums agree to
rounding (they are added in another order).

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
from dataclasses import replace

import numpy as np

from ..blackbox import identity_of
from ..neighbors import NeighborStats
from ..store import embed_shard
from .config import DiagnoseConfig, resolve_config
from .core import ANCHOR_STREAM, SAMPLE_STREAM, Report, engine_options, shard_plan
from .defaults import with_subject_theta_r
from .scoring import Reduction, reduce_shard, score_contributions

__all__ = ["diagnose_distributed", "shard_task"]

log = logging.getLogger(__name__)


def embed_task(sampler, descriptor, seed: int, stream: tuple, j: int, n_j: int) -> np.ndarray:
    """(n_j, D) embeddings of shard j of a stream (runs on a worker)."""
    return embed_shard(sampler, descriptor, seed=seed, stream=stream, j=j, n=n_j)[1]


def shard_task(
    sampler,
    descriptor,
    anchors,
    *,
    seed: int,
    j: int,
    n_j: int,
    offset: int,
    opts: dict,
    rows: tuple[int, int] | None = None,
    watch=None,
):
    """Sample, embed and reduce rows ``lo:hi`` of shard j of C against the (m, D) anchors (runs on a worker).

    Returns the NeighborStats of those rows, and with ``watch`` (anchor indices: rows of T) also the
    watched anchors' similarity contributions, as ``(stats, contributions)``.
    """
    e = embed_task(sampler, descriptor, seed, SAMPLE_STREAM, j, n_j)
    lo, hi = (0, n_j) if rows is None else rows
    stats = reduce_shard(anchors, e[lo:hi], offset=offset + lo, **opts)
    if watch is None:
        return stats
    return stats, score_contributions(anchors, e[lo:hi], watch, opts["theta"])


def parts(config: DiagnoseConfig, n_select: int):
    """The tasks of each phase: ``(j, offset, n_j, lo, hi)`` for the rows of S, then for the rows of T."""
    select, score = [], []
    for j, offset, n_j in shard_plan(config.n_samples, config.shard_size):
        cut = max(0, min(n_j, n_select - offset))
        if cut:
            select.append((j, offset, n_j, 0, cut))
        if cut < n_j:
            score.append((j, offset, n_j, cut, n_j))
    return select, score


def run_tasks(client, tasks, submit_one, max_in_flight: int, on_result) -> None:
    """Submit ``tasks`` with at most ``max_in_flight`` running; ``on_result`` each result as it arrives."""
    from dask.distributed import as_completed

    todo = list(tasks)[::-1]
    if not todo:
        return
    running = as_completed([submit_one(todo.pop()) for _ in range(min(max_in_flight, len(todo)))])
    for fut in running:
        result = fut.result()
        fut.release()
        on_result(result)
        if todo:
            running.add(submit_one(todo.pop()))


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
    given = {"theta", "r"} if config is not None else {k for k in ("theta", "r") if k in overrides}
    config, engine_kwargs = resolve_config(config, overrides)
    config.require_sizes()
    config, theta_r_source = with_subject_theta_r(config, given, sampler, descriptor)  # as diagnose does
    t0 = time.perf_counter()
    sampler_f, descriptor_f = client.scatter([sampler, descriptor], broadcast=True, hash=False)

    a_futs = [
        client.submit(embed_task, sampler_f, descriptor_f, config.seed, ANCHOR_STREAM, j, n_j, pure=False)
        for j, _, n_j in shard_plan(config.n_anchors, config.shard_size)
    ]
    anchors = np.concatenate(client.gather(a_futs))
    del a_futs
    anchors_f = client.scatter(anchors, broadcast=True, hash=False)

    if max_in_flight is None:
        max_in_flight = 2 * max(1, sum(client.nthreads().values()))
    reduction = Reduction(anchors, config, engine_options(config, engine_kwargs))
    select, score = parts(config, reduction.n_select)

    def submitter(opts, watch):
        def submit_one(task):
            j, offset, n_j, lo, hi = task
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
                rows=(lo, hi),
                watch=watch,
                pure=False,
            )

        return submit_one

    def on_select(stats: NeighborStats):
        reduction.select_stats = stats if reduction.select_stats is None else reduction.select_stats.merge(stats)
        reduction.seen += stats.n_samples

    run_tasks(client, select, submitter(reduction.select_opts, None), max_in_flight, on_select)
    if score:
        reduction.select()

        def on_score(result):
            stats, contributions = result
            reduction.add_scored(stats, contributions)
            reduction.seen += stats.n_samples

        run_tasks(client, score, submitter(reduction.score_opts, reduction.watch), max_in_flight, on_score)
    if reduction.seen != config.n_samples:
        raise RuntimeError(f"distributed run reduced {reduction.seen} samples; expected {config.n_samples}")
    report = reduction.finish()
    return replace(
        report,
        sampler=identity_of(sampler),
        descriptor=identity_of(descriptor),
        seconds=time.perf_counter() - t0,
        theta_r_source=theta_r_source,
    )
