"""Where the all-statistics engine's wall-clock time goes end to end: its GEMMs, its reductions, and the rest.

``python bench/engine_profile.py [ANCHORS] [SAMPLES]`` runs :class:`NumbaReducer` over planted samples (the
bench's statistics: counts at RADIUS, the paper's grid, the s-sum at THETA, top-K) with ``torch.mm`` and
``reduce_tile`` wrapped by timers, then times the bare float32 GEMM of the same tiles in the same process.
Wrapping changes no result (tests/test_engine_ceiling.py checks it).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def profile(m=2048, n=262_144, warm=8192, dim=128, log=print):
    """ns per pair of wall-clock time (GEMM, reduction, rest, total, the bare GEMM of the same tiles) and the
    reducer's statistics over all ``n`` samples."""
    import torch

    from bbcollapse import PAPER_GRID
    from bbcollapse.neighbors import numba_reducer as nr
    from bbcollapse.neighbors.plan import Plan
    from engine_cases import RADIUS, THETA, K, planted_data, run_gemm

    anchors, samples = planted_data(m, n, dim)
    plan = Plan(radii=np.array([RADIUS]), grid=np.asarray(PAPER_GRID), theta=THETA, k=K, dim=dim)
    red = nr.NumbaReducer(plan, anchors)
    red.add(samples[:warm], 0)  # kernels compiled, top-k filled, dense/sparse decided
    spent = dict(gemm=0.0, reduce=0.0)
    mm, reduce_tile = torch.mm, nr.reduce_tile

    def timed(key, fn):
        def wrapper(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[key] += time.perf_counter() - t0

        return wrapper

    torch.mm, nr.reduce_tile = timed("gemm", mm), timed("reduce", reduce_tile)
    try:
        t0 = time.perf_counter()
        red.add(samples[warm:], warm)
        total = time.perf_counter() - t0
    finally:
        torch.mm, nr.reduce_tile = mm, reduce_tile
    t0 = time.perf_counter()
    run_gemm(np.ascontiguousarray(anchors), samples[warm:], rows=red.rows, cols=red.cols)
    bare = time.perf_counter() - t0
    ns = 1e9 / (m * (n - warm))
    res = dict(
        gemm=spent["gemm"] * ns,
        reduce=spent["reduce"] * ns,
        rest=(total - spent["gemm"] - spent["reduce"]) * ns,
        total=total * ns,
        bare_gemm=bare * ns,
        threads=torch.get_num_threads(),
        tiles=red.tiles,
        dense_tiles=red.tiles_dense,
        stats=red.result(n),
    )
    log(
        f"|A| = {m}, |C| = {n - warm} after {warm} warm-up samples, {res['threads']} threads, {res['tiles']} tiles "
        f"({res['dense_tiles']} float64); wall-clock ns per pair: GEMM {res['gemm']:.3f}, reduction "
        f"{res['reduce']:.3f}, rest {res['rest']:.3f}, total {res['total']:.3f}; the bare GEMM of the same tiles "
        f"{res['bare_gemm']:.3f}, so the engine takes {res['total'] / res['bare_gemm']:.2f}x it and its reduction "
        f"{res['reduce'] / res['bare_gemm']:.2f}x"
    )
    return res


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    profile(*args)
