"""Select on S, score on a fresh T: the reduction behind every diagnosis (paper 000, section 3.1;
seed 001, Algorithm 1).

The sample set C is streamed once.  With ``scoring="split"`` (the default) its first
``ceil(|C| / 2)`` rows are the selection sample S and the rest the scoring sample T, two
independent samples of the model:

1. the rows of S go through the engine for every anchor; when S is complete the worst case
   ``I_w = argmax N(I', S, r)`` (Eq. 9; or the largest MCCS on S, ``select_by="mccs"``) and the
   distinct dense modes are *selected*, and random reference anchors are drawn;
2. the rows of T go through the engine for every anchor as well, and for the selected modes and
   the random anchors their per-sample similarity contributions are kept, so that MCCS of each
   is *scored* on T with a bootstrap interval (:func:`bbcollapse.stats.bootstrap_mccs`).

Each pass asks the engine only for what the report reads (its *plan*, :func:`select_plan` and
:func:`score_plan`): on S the counts at r and the similarity sums of every anchor (selection,
MCCS); on T the similarity sums of every anchor (MCCS over all of C), and the curves and counts
of the watched anchors and the top-k of I_w only.  Anchors that need no curve then cost one
thresholded comparison per pair (:mod:`bbcollapse.neighbors.plan_reducer`); the numbers are those
of a run that computes everything (``plan=False``), which the tests check.  At |A| = 2000,
|C| = 2e5, D = 128 (planted sphere, one thread, bf16 prefilter) that makes
:func:`~bbcollapse.diagnose_embeddings` 2.4x faster: 4.1 s against 9.8 s.

A maximum scored on the sample that chose it is biased upward (regression to the mean); scored
on T it is not.  Per-anchor MCCS and (mu, sigma) (Eqs. 7-8) are taken over all of C = S + T:
random anchors are not selected, so they need no split.  ``scoring="same"`` is the paper's
way (select and score on all of C), kept for comparison; it reports no interval for the modes.
"""

from __future__ import annotations

import json
import logging
import math

import numpy as np

from ..blackbox import shard_seed
from ..neighbors import NeighborStats, neighbor_stats
from ..stats import (
    Contributions,
    bootstrap_mccs,
    bootstrap_population,
    degenerate,
    distinct_modes,
    mccs,
    population,
    similarity_contributions,
)
from .config import DiagnoseConfig
from .decision import sample_plan, worst_decision
from .report import Report, jsonable

__all__ = [
    "Reduction",
    "n_select",
    "reduce_shard",
    "score_contributions",
    "select_plan",
    "score_plan",
    "summarize",
    "RANDOM_STREAM",
]

log = logging.getLogger(__name__)

RANDOM_STREAM = (2,)
#: Bootstrap replicates of the intervals a Report carries.
N_BOOT = 2000


def n_select(n: int, scoring: str) -> int:
    """|S|: the first ``ceil(n / 2)`` rows of C with ``scoring="split"``, all n with ``"same"``."""
    return n if scoring == "same" else math.ceil(n / 2)


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
    engine_kwargs : passed to :func:`~bbcollapse.neighbor_stats` (device, backend, chunk, anchor_block,
        prefilter, and the plan: curve_anchors, count_anchors, ssum_anchors, topk_anchors)
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


def select_plan() -> dict:
    """Engine plan of the rows of S (``scoring="split"``): counts and s-sums of every anchor, no curve, no top-k.

    Selection reads the counts at r (Eq. 9) or MCCS on S, and the per-anchor MCCS over C the s-sums.
    """
    return dict(curve_anchors=[], topk_anchors=[])


def score_plan(watch, worst: int) -> dict:
    """Engine plan of the rows of T: s-sums of every anchor; curves and counts of ``watch``; top-k of ``worst``."""
    watch = np.asarray(watch, dtype=np.int64)
    return dict(curve_anchors=watch, count_anchors=watch, topk_anchors=[int(worst)])


def score_contributions(anchors, embeddings, watch, theta: float) -> list[Contributions]:
    """The similarity contributions of the anchors ``watch`` (indices) over one shard of T (float64)."""
    return [Contributions.of(similarity_contributions(anchors[i], embeddings, theta)) for i in watch]


def random_anchors(config: DiagnoseConfig, m: int) -> np.ndarray:
    """(q,) sorted indices of the random reference anchors (their own seed stream; data-independent)."""
    rng = np.random.default_rng(shard_seed(config.seed, *RANDOM_STREAM))
    return np.sort(rng.choice(m, size=min(config.n_random, m), replace=False)).astype(np.int64)


def select_modes(anchors, stats: NeighborStats, config: DiagnoseConfig):
    """The distinct dense modes chosen on the selection sample (by count, Eq. 9, or by MCCS)."""
    order_by = mccs(stats, form=config.form) if config.select_by == "mccs" else None
    return distinct_modes(anchors, stats.counts[:, 0], r=config.r, top=config.top, order_by=order_by)


def merge(a: NeighborStats | None, b: NeighborStats) -> NeighborStats:
    """``a.merge(b)``, or ``b`` when nothing has been reduced yet."""
    return b if a is None else a.merge(b)


class Reduction:
    """Streams the rows of C in order: S through the engine, selection, then T through the engine and scoring.

    Parameters
    ----------
    anchors : (m, D) unit vectors
    config : DiagnoseConfig with n_samples set (|C|, needed to know where S ends)
    opts : keyword arguments of :func:`reduce_shard` (radius, grid, theta, k and engine options), and
        ``plan`` (default True): False computes every statistic for every anchor (the path before the
        plan, kept for checks and benchmarks; the report is the same)
    """

    def __init__(self, anchors, config: DiagnoseConfig, opts: dict):
        opts = dict(opts)
        planned = opts.pop("plan", True)
        if not isinstance(planned, bool):
            raise ValueError(f"plan must be True or False; got {planned!r}")
        self.anchors, self.config, self.opts = anchors, config, opts
        # scoring="same" selects at the end, on all of C: every statistic of every anchor may be read
        self.planned = planned and config.scoring == "split"
        self.n_select = n_select(config.n_samples, config.scoring)
        self.random = random_anchors(config, anchors.shape[0])
        self.select_stats = self.score_stats = self.modes = None
        self.contributions: list[Contributions] | None = None
        self.seen = 0

    @property
    def watch(self) -> np.ndarray:
        """The anchors scored one by one on T: the selected modes, then the random anchors."""
        return np.concatenate([self.modes.indices, self.random])

    @property
    def select_opts(self) -> dict:
        """Keyword arguments of :func:`reduce_shard` for rows of S."""
        return {**self.opts, **select_plan()} if self.planned else self.opts

    @property
    def score_opts(self) -> dict:
        """Keyword arguments of :func:`reduce_shard` for rows of T (once the modes are selected)."""
        return {**self.opts, **score_plan(self.watch, self.modes.worst)} if self.planned else self.opts

    def select(self) -> None:
        """Choose the modes on S (once S is complete)."""
        self.modes = select_modes(self.anchors, self.select_stats, self.config)

    def add(self, shard) -> None:
        """Reduce the next (n_j, D) rows of C."""
        offset, cut = self.seen, max(0, min(len(shard), self.n_select - self.seen))
        self.seen += len(shard)
        if cut:
            part = reduce_shard(self.anchors, shard[:cut], offset=offset, **self.select_opts)
            self.select_stats = merge(self.select_stats, part)
        if cut == len(shard):
            return
        if self.modes is None:
            self.select()
        rest = shard[cut:]
        stats = reduce_shard(self.anchors, rest, offset=offset + cut, **self.score_opts)
        self.add_scored(stats, self.contributions_of(rest))

    def contributions_of(self, rows) -> list[Contributions]:
        """The watched anchors' contributions over rows of T."""
        return score_contributions(self.anchors, rows, self.watch, self.config.theta)

    def add_scored(self, stats: NeighborStats, contributions: list[Contributions]) -> None:
        """Merge the statistics and the watched anchors' contributions of rows of T."""
        self.score_stats = merge(self.score_stats, stats)
        prev = self.contributions
        self.contributions = contributions if prev is None else [a.merge(b) for a, b in zip(prev, contributions)]

    def finish(self) -> Report:
        """The Report (call after all |C| rows were added)."""
        if self.select_stats is None:
            raise ValueError("samples is empty: expected at least one (n_j, D) shard of unit vectors")
        if self.seen != self.config.n_samples:
            raise ValueError(f"n_samples={self.config.n_samples} in the config, but {self.seen} were given")
        if self.modes is None:  # scoring="same": select at the end, on all of C
            self.select()
        return summarize(
            anchors=self.anchors,
            select=self.select_stats,
            score=self.score_stats,
            contributions=self.contributions,
            modes=self.modes,
            random=self.random,
            config=self.config,
        )


def intervals(contributions, config: DiagnoseConfig, p: int):
    """(p, 2) and (q, 2) bootstrap intervals of MCCS of the modes and the random anchors on T (None: same)."""
    if contributions is None:
        return None, None
    ci = [
        bootstrap_mccs(None, contributions=c, form=config.form, n_boot=N_BOOT, seed=config.seed + i)
        for i, c in enumerate(contributions)
    ]
    lohi = np.array([[c.lo, c.hi] for c in ci], dtype=np.float64).reshape(-1, 2)
    return lohi[:p], lohi[p:]


def population_intervals(values, seed: int):
    """:func:`bbcollapse.stats.bootstrap_population` on the MCCS values as a JSON dict (None below 3)."""
    if len(values) < 3:
        return None
    return json.loads(json.dumps(bootstrap_population(values, n_boot=N_BOOT, seed=seed), default=jsonable))


def require(stats: NeighborStats, statistic: str, anchors, what: str) -> None:
    """Raise if ``stats`` lacks ``statistic`` for some of ``anchors`` (a plan that left out what the report reads)."""
    if stats.scope is None:
        return
    idx = np.asarray(anchors, dtype=np.int64).ravel()
    missing = idx[~getattr(stats.scope, statistic)[idx]]
    if missing.size:
        raise ValueError(f"{what} needs the {statistic} of anchors {missing[:5].tolist()}, which were not computed")


def summarize(
    *,
    anchors,
    select: NeighborStats,
    score: NeighborStats | None,
    contributions,
    modes,
    random,
    config: DiagnoseConfig,
    sampler_id: str = "embeddings",
    descriptor_id: str = "embeddings",
    seconds: float = 0.0,
) -> Report:
    """Turn the statistics of S and T into a :class:`Report` (pure; no sampling).

    Parameters
    ----------
    anchors : (m, D) unit vectors, the anchor set A
    select : NeighborStats of A against S (all of C with ``scoring="same"``)
    score : NeighborStats of A against T (None with ``scoring="same"``: T = S)
    contributions : the watched anchors' :class:`~bbcollapse.stats.Contributions` over T (modes, then
        random anchors), or None with ``scoring="same"``
    modes : DenseModes selected on S; random : (q,) indices of the random reference anchors
    config : the DiagnoseConfig of the run, n_anchors and n_samples set
    sampler_id, descriptor_id, seconds : recorded in the report
    """
    whole = select if score is None else select.merge(score)
    scored = select if score is None else score
    m = select.n_anchors
    idx, watched = modes.indices, np.concatenate([modes.indices, random])
    require(select, "counts", np.arange(m), "the selection counts")
    require(whole, "ssum", np.arange(m), "MCCS over C")
    require(scored, "ssum", watched, "MCCS on T")
    require(scored, "counts", idx, "mode_counts")
    require(scored, "curve", watched, "mode_curves and random_curves")
    require(scored, "topk", [modes.worst], "the nearest samples of I_w")
    values = mccs(whole, form=config.form)
    flat = int(np.count_nonzero(degenerate(whole)))
    if flat:
        log.warning(
            "%d of %d anchors are degenerate (every sample coincides with the anchor up to float rounding): "
            "MCCS %s each, kept in mu and sigma",
            flat,
            len(values),
            f"{values[degenerate(whole)][0]:.4g}",
        )
    pop = population(values)
    scored_mccs = mccs(scored, form=config.form)
    mode_ci, random_ci = intervals(contributions, config, len(idx))
    decision = plan = None
    if score is not None:  # split: I_w chosen on S, every anchor scored on T
        decision = worst_decision(
            scored_mccs,
            scored.mean_similarity,
            modes.worst,
            contributions[0],
            alpha=config.alpha,
            form=config.form,
            worst_curve=scored.curve[modes.worst],
            random_curves=scored.curve[random],
            random=random,
        )
        plan = sample_plan(
            contributions[0],
            values,
            precision=config.precision,
            level=0.95,
            form=config.form,
            n_score=int(scored.n_samples),
            split=True,
        )
    found = scored.topk_index[modes.worst] >= 0  # fewer than k samples in T: keep only those found
    return Report(
        sampler=sampler_id,
        descriptor=descriptor_id,
        config=config.to_json(),
        grid=scored.grid.copy(),
        mccs=np.asarray(values, dtype=np.float64),
        counts=select.counts[:, 0].astype(np.int64),
        worst=modes.worst,
        modes=idx,
        mode_curves=scored.curve[idx],
        random_anchors=random,
        random_curves=scored.curve[random],
        nearest_index=scored.topk_index[modes.worst][found],
        nearest_dist=scored.topk_dist[modes.worst][found],
        mu=pop.mu,
        sigma=pop.sigma,
        bootstrap=population_intervals(values, config.seed),
        seconds=float(seconds),
        mode_mccs=np.asarray(scored_mccs[idx], dtype=np.float64),
        mode_counts=scored.counts[idx, 0].astype(np.int64),
        mode_ci=mode_ci,
        random_mccs=np.asarray(scored_mccs[random], dtype=np.float64),
        random_ci=random_ci,
        n_select=int(select.n_samples),
        n_score=int(scored.n_samples),
        n_degenerate=flat,
        decision=decision,
        plan=plan,
    )
