"""The streaming neighbour engine: anchors A x samples C -> NeighborStats.

One GEMM per tile gives the cosines between a block of anchors and a chunk of
samples; every statistic the paper needs is reduced from that tile before it
is dropped:

* ``counts``  - #{c in C : d(a, c) <= r} for each radius r   (N(I', C, r), the count inside Eq. 9)
* ``curve``   - the same cumulative counts on a distance grid (the neighbour function)
* ``ssum``    - sum_c s(d(a, c)) for the similarity kernel of width theta (Eq. 6-7)
* ``topk_*``  - the k nearest samples (distance and global index)

Distances are compared as cosines against ``cos(pi * r)``.  float32 GEMM error
can flip a pair sitting on a threshold, so pairs whose float32 cosine lies within
a rigorous error bound of any threshold are recomputed in float64: counts and
curves therefore equal a float64 brute force exactly (ties count as neighbours).

A *plan* (``curve_anchors``, ``count_anchors``, ``ssum_anchors``, ``topk_anchors``) says which
anchors need which statistic; anchors that need no curve then take a thresholded, low-precision
path (:mod:`.plan_reducer`, :mod:`.prefilter`) that drops pairs beyond every threshold they asked
for with one vectorised test, and recomputes the rest in float64: still exact.

Peak memory depends on the tile size and |A|, never on |C|: ``samples`` may be
an iterable of shards.  Statistics over disjoint shards merge exactly
(:meth:`NeighborStats.merge`), which is what makes streaming, resuming and
distributed reduction the same code path.
"""

from __future__ import annotations

import numpy as np

from .._progress import progress_bar
from .._validation import check_theta, check_unit_interval
from ..distance import validate_unit
from .plan import Plan
from .prefilter import PREFILTERS, resolve_prefilter
from .stats import AnchorScope, NeighborStats

__all__ = ["neighbor_stats", "make_reducer", "make_scoped_reducer", "default_device"]


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def make_reducer(plan: Plan, anchors: np.ndarray, *, device=None, backend="auto", anchor_block=2048):
    if backend not in ("auto", "torch", "numba"):
        raise ValueError(f"backend must be 'auto', 'torch' or 'numba'; got {backend!r}")
    device = device or default_device()
    if backend in ("auto", "numba") and str(device) == "cpu":
        try:
            from .numba_reducer import NumbaReducer  # optional fused CPU kernel
        except ImportError:
            if backend == "numba":
                raise
        else:
            return NumbaReducer(plan, anchors, anchor_block=anchor_block)
    elif backend == "numba":
        raise ValueError("backend='numba' runs on the CPU only; use backend='torch' for CUDA")
    from .torch_reducer import TorchReducer

    return TorchReducer(plan, anchors, device=device, anchor_block=anchor_block)


def make_scoped_reducer(plan: Plan, anchors, scope: AnchorScope, *, device, backend, anchor_block, prefilter):
    """The reducer of a plan-aware run (:class:`.plan_reducer.ScopedReducer`): fused where make_reducer would be."""
    from .plan_reducer import ScopedReducer

    device = device or default_device()
    fused = backend in ("auto", "numba") and str(device) == "cpu"
    if fused:
        try:
            from .numba_reducer import NumbaReducer  # noqa: F401  (optional fused CPU kernel)
        except ImportError:
            if backend == "numba":
                raise
            fused = False
    portable = None if fused else make_reducer(plan, anchors, device=device, backend=backend, anchor_block=anchor_block)
    precision = resolve_prefilter(prefilter, plan.dim) if fused else "float32"
    return ScopedReducer(
        plan, anchors, scope, precision=precision, fused=fused, portable=portable, anchor_block=anchor_block
    )


def iter_chunks(samples, chunk, dim):
    """Yield validated (float32/64) sample chunks from an array or an iterable of shards."""
    if isinstance(samples, np.ndarray) or hasattr(samples, "__array__") and not hasattr(samples, "__next__"):
        arr = np.asarray(samples)
        if arr.ndim != 2:
            raise ValueError(f"samples must be a 2-D array of shape (n, D); got shape {arr.shape}")
        if arr.shape[0] == 0:
            raise ValueError(f"samples is empty: expected at least one vector, got shape {arr.shape}")
        # validate chunk by chunk: checking norms needs a float64 copy, which must not scale with |C|
        for start in range(0, arr.shape[0], chunk):
            name = "samples" if start == 0 and arr.shape[0] <= chunk else f"samples[{start}:{start + chunk}]"
            yield validate_unit(arr[start : start + chunk], name, dim)
        return
    n_seen = 0
    for j, shard in enumerate(samples):
        arr = validate_unit(shard, f"samples shard {j}", dim)
        n_seen += arr.shape[0]
        for start in range(0, arr.shape[0], chunk):
            yield arr[start : start + chunk]
    if n_seen == 0:
        raise ValueError("samples is empty: the iterable yielded no vectors")


def neighbor_stats(
    anchors,
    samples,
    *,
    radii=(),
    grid=None,
    theta=None,
    k: int = 0,
    device: str | None = None,
    backend: str = "auto",
    index_offset: int = 0,
    chunk: int = 8192,
    anchor_block: int = 2048,
    progress: bool | None = None,
    total: int | None = None,
    curve_anchors=None,
    count_anchors=None,
    ssum_anchors=None,
    topk_anchors=None,
    prefilter: str = "auto",
) -> NeighborStats:
    """Reduce every anchor-sample pair in one streaming pass.

    Parameters
    ----------
    anchors : array (m, D)
        Unit vectors (the anchor set A).
    samples : array (n, D) or iterable of arrays (n_j, D)
        Unit vectors (the sample set C), possibly streamed shard by shard.
    radii : sequence of float in [0, 1]
        Radii r for ``counts`` (d <= r).
    grid : sequence of float in [0, 1], optional
        Distance grid for the cumulative ``curve``; :data:`PAPER_GRID` is the paper's.
    theta : float in (0, 1], optional
        Width of the similarity kernel; enables ``ssum``.
    k : int
        Number of nearest samples to keep per anchor.
    device : "cpu", "cuda", ...; default cuda when available, else cpu.
    backend : "auto", "torch" or "numba" (CPU only; fused one-pass tile reduction).
    index_offset : int
        Global index of the first sample (for shards reduced separately, then merged).
    chunk, anchor_block : tile shape (samples per chunk, anchors per block).
    progress : show a tqdm bar (default: only when stderr is a terminal).
    total : number of samples, for the progress bar when ``samples`` is an iterable.
    curve_anchors, count_anchors, ssum_anchors, topk_anchors : the plan, optional
        Anchor indices (or (m,) boolean masks) that need the ``curve``, the ``counts``, the
        ``ssum`` and the top-k; None (the default) means every anchor.  When any is given the
        result carries an :class:`AnchorScope` and holds each statistic only for its anchors
        (0, or inf / -1 for top-k, elsewhere); pairs beyond every threshold an anchor asked for
        cost one vectorised comparison.  With all four None the run is the default one.
    prefilter : "auto", "bf16" or "float32"
        GEMM of the plan's threshold path: "auto" takes bf16 where the CPU has AVX512_BF16 or
        AMX and torch's bf16 GEMM passes a self-check against the proven error bound
        (:func:`~.prefilter.bf16_error_bound`), float32 elsewhere.  Results do not depend on it.

    Returns
    -------
    NeighborStats
    """
    a = validate_unit(anchors, "anchors")
    m, dim = a.shape
    radii = check_unit_interval(radii, "radii") if len(np.atleast_1d(radii)) else np.zeros(0)
    grid = check_unit_interval(grid, "grid") if grid is not None and len(np.atleast_1d(grid)) else np.zeros(0)
    if theta is not None:
        theta = check_theta(theta)
    if not isinstance(k, (int, np.integer)) or k < 0:
        raise ValueError(f"k must be a non-negative integer; got {k!r}")
    if chunk < 1 or anchor_block < 1:
        raise ValueError("chunk and anchor_block must be positive")
    if prefilter not in PREFILTERS:
        raise ValueError(f"prefilter must be one of {PREFILTERS}; got {prefilter!r}")
    plan = Plan(radii=radii, grid=grid, theta=theta, k=int(k), dim=dim)
    which = dict(counts=count_anchors, curve=curve_anchors, ssum=ssum_anchors, topk=topk_anchors)
    if all(v is None for v in which.values()):
        reducer = make_reducer(plan, a, device=device, backend=backend, anchor_block=anchor_block)
    else:
        reducer = make_scoped_reducer(
            plan,
            a,
            AnchorScope.of(m, **which),
            device=device,
            backend=backend,
            anchor_block=anchor_block,
            prefilter=prefilter,
        )
    if total is None and isinstance(samples, np.ndarray):
        total = samples.shape[0]
    offset = int(index_offset)
    n = 0
    with progress_bar(progress, total=total, unit="sample", desc="neighbours") as bar:
        for c in iter_chunks(samples, chunk, dim):
            reducer.add(c, offset)
            offset += c.shape[0]
            n += c.shape[0]
            bar.update(c.shape[0])
    return reducer.result(n)
