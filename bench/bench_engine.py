"""Benchmark of the neighbour engine against the roofline and its peers.

One run, one set of inputs.  The engine computes *all* statistics at once
(counts at r = 0.25, the 41-point PAPER_GRID curve, the s-sum with theta = 0.3,
the top-10) and is compared with

* the bare torch float32 GEMM of the same shape, chunked (the roofline),
* faiss ``IndexFlatIP.range_search`` at one radius (counts only),
* scikit-learn ``NearestNeighbors(metric="cosine")`` radius counting (counts only),
* a naive numpy reduction (float32 GEMM, arccos of the tile, comparisons, argpartition),
* the eager torch tile reducer of this package (``backend="torch"``),
* the paper-workflow plan of issue 20: curves for 11% of the anchors (R_obs and R_ref), top-k for
  10, counts and s-sums for all (``curve_anchors=``, ``topk_anchors=``), with the bf16 prefilter
  where the CPU has AVX512_BF16/AMX and with the float32 one,
* the bare bf16 GEMM of the same tiles (torch / oneDNN).

The machine's ISA flags (from /proc/cpuinfo) and the prefilter ``"auto"`` picks are printed first.

Every method is timed on the same subset of the samples, round after round
(interleaved, best of the rounds: robust to other load on a shared machine),
and its time extrapolated linearly to all of |C| (the cost is linear in the
number of pairs); the engine and the GEMM are also timed on all of |C|.  Both
wall-clock and process CPU time are reported.  Peak memory is the RSS increase
during one engine call in a fresh process, for |C|/4 and |C|, with the samples
streamed as shards and passed as one array.

``BENCH_THREADS`` (environment) sets the torch / numba / faiss / sklearn threads
(default: all cores).

Inputs: anchors and samples from :class:`bbcollapse.subjects.synthetic.PlantedSphere`
(D = 128, two planted identities of mass 5% and 2%, the rest uniform), float32.

This module runs the benchmark; the inputs and the methods timed are in :mod:`engine_cases`,
the table and the targets in :mod:`engine_report`.
"""

from __future__ import annotations

import math
import os
import time

import numpy as np

from engine_cases import (
    PLAN_WHAT,
    RADIUS,
    THETA,
    K,
    PeakRSS,
    cone_data,
    isa_description,
    machine_description,
    memory_probe_subprocess,
    planted_data,
    run_engine,
    run_faiss,
    run_gemm,
    run_gemm_bf16,
    run_naive_numpy,
    run_plan,
    run_sklearn,
    timed,
)
from engine_ceiling import ceiling_benchmark
from engine_report import format_table

SCALES = {
    # m anchors, n samples, D; pairs of the common subset on which every method is timed,
    # repetitions of the full-size timings, interleaved rounds on the subset
    "smoke": dict(m=256, n=32768, dim=128, peer_pairs=2_000_000, reps=1, rounds=2, faiss_full=True),
    "default": dict(m=2000, n=400_000, dim=128, peer_pairs=40_000_000, reps=1, rounds=3, faiss_full=True),
    "paper": dict(m=10_000, n=1_000_000, dim=128, peer_pairs=100_000_000, reps=1, rounds=2, faiss_full=True),
}


def _row(name, what, wall, cpu, pairs_timed, pairs_full, extrapolated):
    f = pairs_full / pairs_timed
    return dict(
        method=name,
        computes=what,
        wall_s=wall * f,
        cpu_s=cpu * f,
        ns_per_pair=wall / pairs_timed * 1e9,
        cpu_ns_per_pair=cpu / pairs_timed * 1e9,
        pairs_timed=int(pairs_timed),
        extrapolated=bool(extrapolated),
    )


def clustered_benchmark(cfg, threads, log=print):
    """Engine / GEMM when (nearly) all pairs are inside the kernel: the s-sum's float64 path
    is then taken by every pair, which is the engine's worst case."""
    m, dim = cfg["m"], cfg["dim"]
    # A pass of several tiles per anchor block (5x the peers' pairs): the first tile of each
    # block also pays the float32 density probe and a loose top-k filter, which a pass of
    # only 2-3 tiles would over-weight (10^4 x 10^4 measured 5.5x the GEMM against 3.5x at
    # 10^4 x 5 10^4 on the 2-core VM).
    n = int(min(cfg["n"], max(4096, 5 * cfg["peer_pairs"] // m)))
    anchors, samples = cone_data(m, n, dim)
    run_engine(anchors[:64], samples[:5000])
    frac = float(
        (anchors[:200].astype(np.float64) @ samples[:2000].T.astype(np.float64) > math.cos(math.pi * THETA)).mean()
    )
    run_plan(anchors[:64], samples[:5000])
    we, ce, _ = timed(lambda: run_engine(anchors, samples), 2)
    wg, cg, _ = timed(lambda: run_gemm(anchors, samples), 2)
    wp, cp, _ = timed(lambda: run_plan(anchors, samples), 2)
    res = dict(
        m=m,
        n=n,
        dim=dim,
        fraction_inside_theta=frac,
        engine_s=we,
        gemm_s=wg,
        x_gemm_wall=we / wg,
        x_gemm_cpu=ce / cg,
        engine_ns_per_pair=we / (m * n) * 1e9,
        plan_s=wp,
        plan_x_gemm_wall=wp / wg,
        plan_x_gemm_cpu=cp / cg,
    )
    log(
        f"  clustered samples ({100 * frac:.0f}% of pairs inside theta={THETA}), |A|={m}, |C|={n}: engine "
        f"{res['engine_ns_per_pair']:.2f} ns/pair = {res['x_gemm_wall']:.2f}x the bare GEMM (wall), "
        f"{res['x_gemm_cpu']:.2f}x (CPU); paper-workflow plan {res['plan_x_gemm_wall']:.2f}x (wall), "
        f"{res['plan_x_gemm_cpu']:.2f}x (CPU)"
    )
    return res


def cpu_benchmark(cfg, threads, log=print):
    import torch

    m, n, dim = cfg["m"], cfg["n"], cfg["dim"]
    t0 = time.perf_counter()
    anchors, samples = planted_data(m, n, dim)
    log(
        f"inputs: PlantedSphere D={dim}, |A|={m}, |C|={n} ({m * n:.3g} pairs), float32; "
        f"generated in {time.perf_counter() - t0:.1f} s"
    )
    pairs = m * n
    # warm up (numba compilation, torch/MKL/faiss initialisation) on a small input
    run_engine(anchors[:64], samples[:5000])
    run_engine(anchors[:64], samples[:5000], backend="torch")
    run_gemm(anchors[:64], samples[:5000])
    run_gemm_bf16(anchors[:64], samples[:5000])
    for pf in ("float32", "auto"):
        run_plan(anchors[:64], samples[:5000], pf)
    try:
        run_faiss(anchors[:64], samples[:5000], threads)
    except Exception:  # reported when timed
        pass

    # 1. Full size: the engine and the bare GEMM on all of C.
    full = {}
    w, c, st = timed(lambda: run_engine(anchors, samples), cfg["reps"])
    full["engine"] = dict(wall_s=w, cpu_s=c)
    log(f"  full size: engine {w:.2f} s wall")
    w, c, _ = timed(lambda: run_gemm(anchors, samples), cfg["reps"])
    full["gemm"] = dict(wall_s=w, cpu_s=c)
    log(f"  full size: bare GEMM {w:.2f} s wall")
    w, c, _ = timed(lambda: run_plan(anchors, samples), cfg["reps"])
    full["plan"] = dict(wall_s=w, cpu_s=c)
    log(f"  full size: paper-workflow plan {w:.2f} s wall")
    w, c, _ = timed(lambda: run_gemm_bf16(anchors, samples), cfg["reps"])
    full["gemm_bf16"] = dict(wall_s=w, cpu_s=c)
    log(f"  full size: bare bf16 GEMM {w:.2f} s wall")
    for v in full.values():
        v["ns_per_pair"] = v["wall_s"] / pairs * 1e9
        v["gflops"] = 2.0 * dim * pairs / v["wall_s"] / 1e9
    full["engine_x_gemm_wall"] = full["engine"]["wall_s"] / full["gemm"]["wall_s"]
    full["engine_x_gemm_cpu"] = full["engine"]["cpu_s"] / full["gemm"]["cpu_s"]
    for key in ("plan", "gemm_bf16"):
        full[f"{key}_x_gemm_wall"] = full[key]["wall_s"] / full["gemm"]["wall_s"]
        full[f"{key}_x_gemm_cpu"] = full[key]["cpu_s"] / full["gemm"]["cpu_s"]
    # faiss on all of C too: its cost is not only the GEMM but the range-search results it
    # stores (and the index copy), which an extrapolation from a subset can under-state.
    if cfg.get("faiss_full", False):
        try:
            with PeakRSS() as pk:
                w, c, fc = timed(lambda: run_faiss(anchors, samples, threads))
        except Exception as exc:  # faiss is an optional peer
            log(f"  full size: faiss FAILED ({type(exc).__name__}: {exc})")
        else:
            exact = st.counts[:, 0]
            full["faiss"] = dict(
                wall_s=w,
                cpu_s=c,
                ns_per_pair=w / pairs * 1e9,
                gflops=2.0 * dim * pairs / w / 1e9,
                results=int(fc.sum()),
                result_fraction=float(fc.sum() / pairs),
                peak_rss_delta_mb=round(pk.delta_mb, 1),
                anchors_count_differs=int((fc != exact).sum()),
                max_abs_count_diff=int(np.abs(fc - exact).max()),
            )
            full["faiss_x_gemm_wall"] = w / full["gemm"]["wall_s"]
            full["engine_speedup_vs_faiss_wall"] = w / full["engine"]["wall_s"]
            full["plan_speedup_vs_faiss_wall"] = w / full["plan"]["wall_s"]
            log(
                f"  full size: faiss range_search {w:.2f} s wall, {int(fc.sum())} results, "
                f"peak RSS +{pk.delta_mb:.0f} MiB; its float32 counts differ from the engine's exact counts "
                f"on {full['faiss']['anchors_count_differs']} of {m} anchors"
            )

    # 2. All methods on the same subset of C, interleaved round after round; the minimum over
    #    rounds per method is robust to other load on a shared machine.
    n_sub = int(min(n, max(4096, cfg["peer_pairs"] // m)))
    sub = samples[:n_sub]
    methods = [
        ("engine (all statistics)", "counts r=0.25 + 41-pt curve + s-sum + top-10", lambda: run_engine(anchors, sub)),
        ("bare torch GEMM (roofline)", "float32 cosine tiles only", lambda: run_gemm(anchors, sub)),
        ("faiss IndexFlatIP.range_search", "counts at r=0.25 only", lambda: run_faiss(anchors, sub, threads)),
        ("sklearn NearestNeighbors(cosine)", "counts at r=0.25 only", lambda: run_sklearn(anchors, sub, threads)),
        ("naive numpy (arccos of the tile)", "all statistics", lambda: run_naive_numpy(anchors, sub)),
        ("eager torch reducer (backend='torch')", "all statistics", lambda: run_engine(anchors, sub, backend="torch")),
        ("plan: paper workflow, prefilter auto", PLAN_WHAT, lambda: run_plan(anchors, sub)),
        ("plan: paper workflow, prefilter float32", PLAN_WHAT, lambda: run_plan(anchors, sub, "float32")),
        ("bf16 GEMM (torch/oneDNN)", "bf16 cosine tiles only", lambda: run_gemm_bf16(anchors, sub)),
    ]
    best = {}
    for rnd in range(cfg["rounds"]):
        for name, _what, fn in methods:
            if best.get(name) == "failed":
                continue
            try:
                w, c, _ = timed(fn)
            except Exception as exc:  # a missing optional peer must not stop the benchmark
                log(f"  {name}: FAILED ({type(exc).__name__}: {exc})")
                best[name] = "failed"
                continue
            if name not in best or w < best[name][0]:
                best[name] = (w, min(c, best.get(name, (0, math.inf))[1]))
            else:
                best[name] = (best[name][0], min(c, best[name][1]))
        log(
            f"  round {rnd + 1}/{cfg['rounds']} on |C|={n_sub}: "
            + ", ".join(f"{k.split(' ')[0]} {v[0]:.2f}s" for k, v in best.items() if v != "failed")
        )
    rows = []
    for name, what, _ in methods:
        if best.get(name, "failed") == "failed":
            continue
        w, c = best[name]
        rows.append(_row(name, what, w, c, m * n_sub, pairs, n_sub < n))
    gemm = next(r for r in rows if r["method"].startswith("bare"))
    eng = next(r for r in rows if r["method"].startswith("engine"))
    faiss_row = next((r for r in rows if r["method"].startswith("faiss")), None)
    for r in rows:
        r["x_faiss_wall"] = r["wall_s"] / faiss_row["wall_s"] if faiss_row else float("nan")
        r["x_gemm_wall"] = r["wall_s"] / gemm["wall_s"]
        r["x_gemm_cpu"] = r["cpu_s"] / gemm["cpu_s"]
        r["engine_speedup_wall"] = r["wall_s"] / eng["wall_s"]
        r["engine_speedup_cpu"] = r["cpu_s"] / eng["cpu_s"]
        r["gflops"] = 2.0 * dim * pairs / r["wall_s"] / 1e9

    # Peak memory: RSS increase during the engine call, for |C|/4 and |C|, each in a fresh
    # process (so that memory freed by earlier calls cannot hide or fake growth); the inputs
    # are loaded into memory before the baseline is taken.
    memory, memory_plan = [], []
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        np.save(f"{tmp}/a.npy", anchors)
        np.save(f"{tmp}/c.npy", samples)
        for mode in ("shards", "array", "plan"):
            for n_mem in (n // 4, n):
                try:
                    delta = memory_probe_subprocess(f"{tmp}/a.npy", f"{tmp}/c.npy", n_mem, threads, mode)
                except Exception as exc:
                    log(f"  memory probe FAILED: {exc}")
                    continue
                row = dict(samples_as="shards" if mode == "plan" else mode, n_samples=int(n_mem))
                (memory_plan if mode == "plan" else memory).append(dict(row, rss_delta_mb=round(delta, 1)))
                log(
                    f"  memory: {'plan, ' if mode == 'plan' else ''}samples as {row['samples_as']}, |C|={n_mem}: "
                    f"+{delta:.1f} MiB"
                )
    return dict(
        shape=dict(m=m, n=n, dim=dim, pairs=pairs, peer_subset_n=n_sub, rounds=cfg["rounds"]),
        rows=rows,
        full=full,
        memory=memory,
        memory_plan=memory_plan,
        torch_threads=torch.get_num_threads(),
    )


def cuda_benchmark(log=print, m=10_000, n=10_000_000, dim=512, shard=1_000_000):
    """Engine (TorchReducer on the GPU) vs the GPU's own GEMM, |A| = 1e4, |C| = 1e7, D = 512."""
    import torch

    g = torch.Generator(device="cuda").manual_seed(0)

    def unit(x):
        return x / x.norm(dim=1, keepdim=True)

    centres = unit(torch.randn(8, dim, device="cuda", generator=g))
    anchors = unit(centres[torch.arange(m, device="cuda") % 8] + 0.05 * torch.randn(m, dim, device="cuda", generator=g))
    shards = []
    for _ in range(0, n, shard):
        x = torch.randn(shard, dim, device="cuda", generator=g)
        x[: shard // 10] += 8.0 * centres[torch.arange(shard // 10, device="cuda") % 8]  # 10% clustered
        shards.append(unit(x).cpu().numpy())
    a_np = anchors.cpu().numpy()
    pairs = m * n
    run_engine(a_np, shards[0][:10000], backend="torch", device="cuda")  # warm up
    w0 = time.perf_counter()
    from bbcollapse import PAPER_GRID, neighbor_stats

    neighbor_stats(
        anchors=a_np,
        samples=iter(shards),
        radii=[RADIUS],
        grid=PAPER_GRID,
        theta=THETA,
        k=K,
        backend="torch",
        device="cuda",
        chunk=65536,
        progress=False,
        total=n,
    )
    torch.cuda.synchronize()
    w_eng = time.perf_counter() - w0
    w0 = time.perf_counter()
    for s in shards:
        run_gemm(a_np, s, device="cuda", rows=m, cols=65536)
    torch.cuda.synchronize()
    w_gemm = time.perf_counter() - w0
    log(f"  cuda engine {w_eng:.2f} s, GEMM (incl. host->device copies) {w_gemm:.2f} s")
    return dict(
        device=torch.cuda.get_device_name(0),
        m=m,
        n=n,
        dim=dim,
        engine_s=w_eng,
        gemm_s=w_gemm,
        x_gemm=w_eng / w_gemm,
        engine_ns_per_pair=w_eng / pairs * 1e9,
        gemm_gflops=2.0 * dim * pairs / w_gemm / 1e9,
    )


def main(scale: str = "default", log=print) -> dict:
    import torch

    if scale not in SCALES:
        raise ValueError(f"scale must be one of {sorted(SCALES)}; got {scale!r}")
    threads = int(os.environ.get("BENCH_THREADS", min(os.cpu_count() or 1, 16)))
    torch.set_num_threads(threads)
    try:
        import numba

        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    except ImportError:
        pass
    cfg = SCALES[scale]
    out = dict(scale=scale, machine=machine_description(threads), config=cfg)
    out["cpu"] = cpu_benchmark(cfg, threads, log=log)
    out["cpu"]["fma_peak_gflops"] = out["machine"]["fp32_fma_peak_gflops"]
    out["cpu"]["clustered"] = clustered_benchmark(cfg, threads, log=log)
    out["cpu"]["ceiling"] = ceiling_benchmark(scale, log=log)
    out["cpu"]["isa"] = isa_description()
    log("")
    isa = out["cpu"]["isa"]
    log(
        f"machine: {out['machine']['cpu_model']}; ISA flags: {' '.join(isa['isa_flags'])}"
        + (
            f" (capped at {isa['isa_cap'].upper()} on a CPU with {' '.join(isa['cpu_isa_flags'])})"
            if isa.get("isa_cap")
            else ""
        )
        + "; torch CPU capability "
        f"{isa['torch_cpu_capability']}; prefilter 'auto' -> {isa['prefilter_auto']}; {threads} threads; load average "
        f"at start {', '.join(f'{x:.2f}' for x in out['machine']['load_average_at_start'])}, at end "
        f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    log(format_table(out["cpu"]))
    if scale == "paper" and torch.cuda.is_available():
        log("\nCUDA: |A|=1e4, |C|=1e7, D=512")
        try:
            out["cuda"] = cuda_benchmark(log=log)
        except Exception as exc:
            log(f"  CUDA benchmark FAILED: {type(exc).__name__}: {exc}")
            out["cuda"] = dict(error=f"{type(exc).__name__}: {exc}")
    return out
