"""The ceiling of issue 13's throughput target: FLOPs per face, this machine's GEMM roofline, and the best ratio.

Issue 13 asks the ArcFace pipeline for >= 3x the dlib-port pipeline end to end.  Both pipelines run
the same generator, so the ratio is

    (gen + dlib alignment + dlib-port network) / (gen + resize + ArcFace network)      (CPU ms per face)

and it grows as the generator and the ArcFace network get faster.  Its ceiling puts both at the
float32 peak of one core (FLOPs per face over the rate of ``torch.mm`` of 2048 x 2048 matrices on
one thread, timed in the same interleaved repetitions as the stages, so that other programs' load
slows both alike; the clock's 2 FMA x 16 lanes x 2 FLOP is printed beside it) and keeps the dlib
side as measured.  No float32 kernel of these networks beats that rate: their FLOPs are
convolutions (1x1 and dense ones, i.e. GEMMs, and depthwise ones, slower than GEMMs).
The section also gives the ratio with both networks at the best rate any of the three networks
reaches here (a practical ceiling), and the ArcFace network's speed the target needs.
"""

from __future__ import annotations

import threading
import time

import torch

GEMM_N = 2048  # torch.mm of GEMM_N x GEMM_N matrices: large enough to run at the kernel's peak


def flops_per_face(gan, arcface, dlib_port) -> dict:
    """FLOPs per face of each network (``torch.utils.flop_counter.FlopCounterMode``, 2 per multiply-add).

    Also splits the ArcFace network's by convolution kind (1x1, depthwise, dense k x k).
    """
    from torch.utils.flop_counter import FlopCounterMode

    def count(net, x):
        with FlopCounterMode(display=False) as fc, torch.inference_mode():
            net(x)
        return fc.get_total_flops() / len(x)

    out = {
        "generator": count(gan.net, torch.zeros(4, gan.latent_dim, 1, 1)),
        "arcface_net": count(arcface.net, torch.zeros(4, 3, 112, 112)),
        "dlib_port_net": count(dlib_port.net, torch.zeros(4, 3, 150, 150)),
    }
    kinds = {"1x1": 0.0, "depthwise": 0.0, "dense": 0.0}
    conv = torch.nn.functional.conv2d

    def tally(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
        y = conv(x, w, b, stride, padding, dilation, groups)
        kind = "depthwise" if groups > 1 and groups == x.shape[1] else ("1x1" if w.shape[-1] == 1 else "dense")
        kinds[kind] += 2.0 * y.numel() * w[0].numel() / len(x)
        return y

    torch.nn.functional.conv2d = tally
    try:
        with torch.inference_mode():
            arcface.net(torch.zeros(2, 3, 112, 112))
    finally:
        torch.nn.functional.conv2d = conv
    out["arcface_by_kind"] = kinds
    return out


def _mm_rate(dtype, threads: int, workers: int, seconds: float) -> float:
    """GFLOP/s of ``workers`` Python threads each running torch.mm on ``threads`` torch threads, summed."""
    g = torch.Generator().manual_seed(0)
    a = torch.randn(GEMM_N, GEMM_N, generator=g).to(dtype)
    b = torch.randn(GEMM_N, GEMM_N, generator=g).to(dtype)
    counts = [0] * workers

    def spin(k):
        # In a new thread, torch.mm runs on OpenMP's default team (every core) until torch's thread
        # count is set in that thread: setting it only in the caller timed 2 threads as "1 thread".
        torch.set_num_threads(threads)
        torch.mm(a, b)  # first call packs and allocates
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            torch.mm(a, b)
            counts[k] += 1

    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        t0 = time.perf_counter()
        pool = [threading.Thread(target=spin, args=(k,)) for k in range(workers)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        wall = time.perf_counter() - t0
    finally:
        torch.set_num_threads(old)
    return 2.0 * GEMM_N**3 * sum(counts) / wall / 1e9


def gemm_roofline(reps: int = 3, seconds: float = 0.5, dtypes=("float32", "bf16")) -> dict:
    """Best GFLOP/s of torch.mm (each of ``dtypes``) on 1 thread, 2 threads and two 1-thread workers.

    The best of ``reps`` interleaved runs: the least disturbed by other load, and a ceiling is
    what the machine can reach.
    """
    configs = {"1 thread": (1, 1), "2 threads": (2, 1), "2 workers x 1 thread": (1, 2)}
    out = {dt: {name: 0.0 for name in configs} for dt in dtypes}
    torch_dtype = {"float32": torch.float32, "bf16": torch.bfloat16}
    for _ in range(reps):
        for dt in dtypes:
            dtype = torch_dtype[dt]
            for name, (threads, workers) in configs.items():
                out[dt][name] = max(out[dt][name], _mm_rate(dtype, threads, workers, seconds))
    out["float32_fma_peak"] = float32_fma_peak()
    return out


def float32_fma_peak() -> float:
    """GFLOP/s one core's AVX-512 units can give in float32: 2 FMA ports x 16 lanes x 2 FLOP x the clock.

    0 where the CPU has no AVX-512 or its clock is unknown (printed for reference).
    """
    try:
        with open("/proc/cpuinfo") as f:
            text = f.read()
    except OSError:
        return 0.0
    mhz = [float(ln.split(":")[1]) for ln in text.splitlines() if ln.startswith("cpu MHz")]
    return 2 * 16 * 2 * max(mhz) / 1e3 if mhz and " avx512f" in text else 0.0


def per_core_peak(roofline: dict, dtype: str) -> float:
    """GFLOP/s of one core for the ceiling.

    ``roofline["interleaved"][dtype]`` where given: torch.mm on one thread timed in the same
    interleaved repetitions as the stages, so that the ceiling and the stage times see the same
    load (other programs slow both alike); else the best of 1 thread and half of 2 threads or 2 workers.
    """
    if "interleaved" in roofline:
        return roofline["interleaved"][dtype]
    r = roofline[dtype]
    return max(r["1 thread"], r["2 threads"] / 2, r["2 workers x 1 thread"] / 2)


def ceiling(stage_ms: dict, flops: dict, roofline: dict, target: float = 3.0) -> dict:
    """Lowest ms per face of each network at the roofline, and the ratio's ceilings (CPU ms per face).

    Parameters
    ----------
    stage_ms : measured ms per face: generator, arcface_resize, arcface_net, dlib_alignment, dlib_port_net
    flops : :func:`flops_per_face`
    roofline : :func:`gemm_roofline`
    """
    dlib = stage_ms["dlib_alignment"] + stage_ms["dlib_port_net"]
    resize = stage_ms["arcface_resize"]

    def ratio(g, a):
        return (g + dlib) / (g + resize + a)

    def needed(g):  # ms per face of the ArcFace network for the target, with the generator at g
        return (g + dlib) / target - g - resize

    nets = ("generator", "arcface_net", "dlib_port_net")
    out = {"gflops_measured": {k: flops[k] / stage_ms[k] / 1e6 for k in nets}}
    for dt in ("float32", "bf16"):
        if dt not in roofline:  # bf16 is timed only where the CPU has it natively
            continue
        peak = per_core_peak(roofline, dt)
        low = {k: flops[k] / peak / 1e6 for k in nets}
        out[dt] = {"peak_gflops": peak, "min_ms": low, "ratio": ratio(low["generator"], low["arcface_net"])}
    p32 = out["float32"]["peak_gflops"]
    # the best float32 rate any of the three networks reaches here, given to the generator and ArcFace net
    best = max(out["gflops_measured"].values())
    out["best_measured_gflops"] = best
    out["ratio_at_best_measured"] = ratio(flops["generator"] / best / 1e6, flops["arcface_net"] / best / 1e6)
    out["measured_ratio"] = ratio(stage_ms["generator"], stage_ms["arcface_net"])
    if "e2e_dlib_port_wall" in stage_ms:
        # wall clock as the bench runs them: the generator on one thread before the descriptor, the ArcFace
        # network on ``arcface_workers`` threads (at best that many times faster), the dlib port as measured
        g_min, w = out["float32"]["min_ms"]["generator"], stage_ms["arcface_workers"]
        port = stage_ms["e2e_dlib_port_wall"] - stage_ms["generator"] + g_min
        out["wall"] = {"measured": stage_ms["e2e_dlib_port_wall"] / stage_ms["e2e_arcface_wall"],
                       "ceiling": port / (g_min + (resize + out["float32"]["min_ms"]["arcface_net"]) / w)}  # fmt: skip
    for key, g in (
        ("needed_now", stage_ms["generator"]),
        ("needed_gen_at_peak", out["float32"]["min_ms"]["generator"]),
    ):
        ms = needed(g)
        out[key] = {"generator_ms": g, "arcface_ms": ms,
                    "fraction_of_peak": flops["arcface_net"] / ms / 1e6 / p32 if ms > 0 else float("inf")}  # fmt: skip
    return out


def print_ceiling(flops: dict, roofline: dict, ceil: dict, stage_ms: dict, target: float = 3.0):
    """The 'ceiling' section of the face benchmark's report."""
    print(f"  ceiling (issue 13's target ArcFace >= {target:g}x dlib port; the generator is shared by both pipelines):")
    r32, c16 = roofline["float32"], ceil.get("bf16")  # bf16 is timed only where the CPU has it natively
    r16 = {k: f"{roofline['bf16'][k]:.0f}" if c16 else "n/a" for k in r32}
    min16 = {k: f"{c16['min_ms'][k]:.2f}" if c16 else "n/a" for k in ("generator", "arcface_net", "dlib_port_net")}
    print(f"    GEMM roofline, torch.mm {GEMM_N}^2, GFLOP/s (best of interleaved runs): "
          + "; ".join(f"{k} float32 {r32[k]:.0f} bf16 {r16[k]}" for k in r32)
          + ("" if c16 else " (bf16 not timed: no native bf16 on this CPU)"))  # fmt: skip
    p32, clock = ceil["float32"]["peak_gflops"], roofline["float32_fma_peak"]
    p16 = f"{c16['peak_gflops']:.0f}" if c16 else "n/a"
    print(f"    per-core peak used (torch.mm on 1 thread, interleaved with the stages): float32 {p32:.0f} GFLOP/s "
          f"(the clock's 2 FMA x 16 lanes x 2 FLOP: {clock:.0f}), "
          f"bf16 {p16}; two 1-thread workers reach {r32['2 workers x 1 thread'] / r32['1 thread']:.2f}x one "
          f"(2.00x for two free cores; less under the other programs' load)")  # fmt: skip
    print(f"    {'stage':<16} {'MFLOP/face':>10} {'ms/face now':>12} {'GFLOP/s now':>12} {'% peak':>7} "
          f"{'min ms f32':>11} {'min ms bf16':>12}")  # fmt: skip
    for key in ("generator", "arcface_net", "dlib_port_net"):
        now = ceil["gflops_measured"][key]
        print(f"    {key:<16} {flops[key] / 1e6:>10.0f} {stage_ms[key]:>12.2f} {now:>12.1f} {100 * now / p32:>6.0f}% "
              f"{ceil['float32']['min_ms'][key]:>11.2f} {min16[key]:>12}")  # fmt: skip
    for key in ("arcface_resize", "dlib_alignment"):
        print(f"    {key:<16} {'-':>10} {stage_ms[key]:>12.2f}   (not GEMM: kept as measured)")
    kinds = ", ".join(f"{k} {v / 1e6:.0f}" for k, v in flops["arcface_by_kind"].items())
    print(f"    (ArcFace MFLOP by convolution kind: {kinds})")
    print("    ratio (gen + align + dlib net) / (gen + resize + ArcFace net), CPU ms per face (both pipelines using")
    print("    the cores equally well), dlib side as measured:")
    print(f"      measured stages                                          {ceil['measured_ratio']:.2f}x")
    print(f"      generator and ArcFace net at the best rate measured here "
          f"({ceil['best_measured_gflops']:.0f} GFLOP/s)  {ceil['ratio_at_best_measured']:.2f}x")  # fmt: skip
    print(f"      generator and ArcFace net at the float32 peak (ceiling)  {ceil['float32']['ratio']:.2f}x")
    ratio16 = f"{c16['ratio']:.2f}x" if c16 else "n/a"
    print(f"      at the bf16 peak (not float32: for the record)           {ratio16}")
    if "wall" in ceil:
        print(f"    end-to-end wall clock (how the bench runs them: generator on 1 thread, ArcFace net on "
              f"{stage_ms['arcface_workers']} threads, dlib port beside its alignment): measured "
              f"{ceil['wall']['measured']:.2f}x; ceiling {ceil['wall']['ceiling']:.2f}x with the generator and ArcFace "
              f"net at the float32 peak on every thread and the dlib port's pipeline as measured (its network on one "
              f"thread: it uses the two cores less than the ArcFace pipeline does)")  # fmt: skip
    for key, label in (("needed_now", "the generator as measured"), ("needed_gen_at_peak", "the generator at peak")):
        v = ceil[key]
        print(f"    CPU ms: {target:g}x with {label} ({v['generator_ms']:.2f} ms) needs the ArcFace net at "
              f"{v['arcface_ms']:.2f} ms/face = {100 * v['fraction_of_peak']:.0f}% of the float32 peak")  # fmt: skip
