"""The engine benchmark's inputs and methods: data generators, one function per method timed, and timing helpers.

Every ``run_*`` computes, on float32 unit vectors, what the row of the bench table says it computes
(tests/test_bench.py checks their counts against a float64 brute force).  :mod:`bench_engine` times
them; :mod:`engine_report` prints the table and grades the targets.
"""

from __future__ import annotations

import math
import os
import threading
import time

import numpy as np

RADIUS = 0.25
THETA = 0.3
K = 10
#: The paper's workflow wants curves for R_obs and R_ref: about 1,100 of 10^4 anchors.
PLAN_CURVE_FRACTION = 0.11
PLAN_TOPK = 10
PLAN_WHAT = "counts+s-sum all; curve 11%, top-10 of 10 anchors"
ISA_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8")


def isa_description():
    """The CPU's vector / matrix ISA flags, torch's own pick, and the prefilter the engine's "auto" takes."""
    import torch

    from bbcollapse.neighbors.prefilter import cpu_flags, resolve_prefilter

    flags = cpu_flags()
    cap = os.environ.get("BBCOLLAPSE_BENCH_ISA")  # bench/run.py --isa: the libraries are capped at this ISA
    effective = [f for f in ISA_FLAGS if f in flags and (cap != "avx2" or f in ("avx2", "fma"))]
    return dict(
        isa_flags=effective,
        cpu_isa_flags=[f for f in ISA_FLAGS if f in flags],
        isa_cap=cap,
        torch_cpu_capability=torch.backends.cpu.get_cpu_capability(),
        prefilter_auto=resolve_prefilter("auto", 128),
    )


# --------------------------------------------------------------------------- helpers
def machine_description(threads):
    import platform

    import torch

    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    desc = dict(
        hostname=platform.node(),
        cpu_model=cpu,
        fp32_fma_peak_gflops=fma_peak_gflops(threads),
        cpu_count=os.cpu_count(),
        torch_threads=torch.get_num_threads(),
        threads=threads,
        torch=torch.__version__,
        numpy=np.__version__,
        load_average_at_start=list(os.getloadavg()),
        cuda=torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        **isa_description(),
    )
    for mod in ("numba", "faiss", "sklearn"):
        try:
            desc[mod] = __import__(mod).__version__
        except Exception:  # pragma: no cover - optional peers
            desc[mod] = None
    return desc


def fma_peak_gflops(threads):
    """Estimated float32 FMA peak of ``threads`` cores: flop/cycle from the ISA x the reported clock.

    2 FMA pipes x 8 (AVX2) or 16 (AVX-512) float32 lanes x 2 flop; the clock is the one
    /proc/cpuinfo reports (a VM usually shows the base clock).  None when unknown.
    """
    try:
        text = open("/proc/cpuinfo").read()
    except OSError:
        return None
    mhz = [float(x) for x in __import__("re").findall(r"cpu MHz\s*:\s*([0-9.]+)", text)]
    flags = next((ln for ln in text.splitlines() if ln.startswith("flags")), "")
    if not mhz or " fma" not in flags:
        return None
    avx512 = " avx512f" in flags and os.environ.get("BBCOLLAPSE_BENCH_ISA") != "avx2"
    lanes = 16 if avx512 else 8 if " avx2" in flags else 4
    return round(threads * 2 * lanes * 2 * max(mhz) / 1e3, 1)


class PeakRSS:
    """Peak resident set size increase over a block (sampled every 5 ms)."""

    def __enter__(self):
        import psutil

        self._proc = psutil.Process()
        self.base = self._proc.memory_info().rss
        self.peak = self.base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def _watch(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self._proc.memory_info().rss)
            time.sleep(0.005)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._proc.memory_info().rss)
        self.delta_mb = (self.peak - self.base) / 2**20


def timed(fn, reps=1):
    """(min wall seconds, process CPU seconds of that repetition, last result)."""
    best = (math.inf, math.inf, None)
    for _ in range(reps):
        w0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        w, c = time.perf_counter() - w0, time.process_time() - c0
        if w < best[0]:
            best = (w, c, out)
    return best


def planted_data(m, n, dim, shard=100_000):
    from bbcollapse.subjects.synthetic import PlantedSphere

    ps = PlantedSphere(dim=dim, masses=(0.05, 0.02), spread=0.15, centres_seed=0)
    anchors = ps(10_000_019, m).x
    samples = np.empty((n, dim), dtype=np.float32)
    for j, s0 in enumerate(range(0, n, shard)):
        s1 = min(n, s0 + shard)
        samples[s0:s1] = ps(j, s1 - s0).x
    return anchors, samples


# --------------------------------------------------------------------------- methods
def run_engine(anchors, samples, backend="auto", device="cpu", **plan):
    """The engine on the bench's statistics (counts at RADIUS, the paper's grid, s-sum at THETA, top-K)."""
    from bbcollapse import PAPER_GRID, neighbor_stats

    return neighbor_stats(
        anchors=anchors,
        samples=samples,
        radii=[RADIUS],
        grid=PAPER_GRID,
        theta=THETA,
        k=K,
        backend=backend,
        device=device,
        progress=False,
        **plan,
    )


def plan_anchors(m, seed=0):
    """(curve anchors, top-k anchors) of the paper-workflow plan: a fixed random 11%, top-k for 10 of them."""
    curve = np.sort(np.random.default_rng(seed).choice(m, max(1, round(PLAN_CURVE_FRACTION * m)), replace=False))
    return curve, curve[:PLAN_TOPK]


def run_plan(anchors, samples, prefilter="auto"):
    """The paper-workflow plan: counts at r and s-sums for every anchor, curves and top-k for a few."""
    curve, topk = plan_anchors(anchors.shape[0])
    return run_engine(anchors, samples, curve_anchors=curve, topk_anchors=topk, prefilter=prefilter)


def tile_shape(rows=None, cols=None):
    """The engine's CPU tile shape (numba_reducer.TILE_ROWS x TILE_COLS) where not given."""
    from bbcollapse.neighbors.numba_reducer import TILE_COLS, TILE_ROWS

    return rows or TILE_ROWS, cols or TILE_COLS


def run_gemm_bf16(anchors, samples, rows=None, cols=None):
    """The bare bf16 GEMM (bf16 out), tile by tile into one reused buffer: what the prefilter computes."""
    import torch

    rows, cols = tile_shape(rows, cols)
    a = torch.from_numpy(anchors).to(torch.bfloat16)
    out = torch.empty(rows * cols, dtype=torch.bfloat16)
    for s0 in range(0, samples.shape[0], cols):
        c = torch.from_numpy(samples[s0 : s0 + cols]).to(torch.bfloat16)
        for b0 in range(0, a.shape[0], rows):
            blk = a[b0 : b0 + rows]
            torch.mm(blk, c.T, out=out[: blk.shape[0] * c.shape[0]].view(blk.shape[0], c.shape[0]))


def run_gemm(anchors, samples, device="cpu", rows=None, cols=None):
    """The bare float32 GEMM, tile by tile (the engine's CPU tile shape) into one reused buffer."""
    import torch

    rows, cols = tile_shape(rows, cols)
    a = torch.from_numpy(anchors).to(device)
    from bbcollapse.neighbors.plan import ieee_float32

    out = torch.empty(rows * cols, dtype=torch.float32, device=device)
    with ieee_float32(torch):
        for s0 in range(0, samples.shape[0], cols):
            c = torch.from_numpy(samples[s0 : s0 + cols]).to(device)
            for b0 in range(0, a.shape[0], rows):
                blk = a[b0 : b0 + rows]
                torch.mm(blk, c.T, out=out[: blk.shape[0] * c.shape[0]].view(blk.shape[0], c.shape[0]))
        if device != "cpu":
            torch.cuda.synchronize()
    return None


def run_faiss(anchors, samples, threads):
    import faiss

    faiss.omp_set_num_threads(threads)
    index = faiss.IndexFlatIP(samples.shape[1])
    index.add(samples)
    lims, _, _ = index.range_search(anchors, float(math.cos(math.pi * RADIUS)))
    return np.diff(lims)


def run_sklearn(anchors, samples, threads):
    from sklearn.neighbors import NearestNeighbors

    nn = NearestNeighbors(metric="cosine", algorithm="brute", n_jobs=threads).fit(samples)
    ind = nn.radius_neighbors(anchors, radius=1.0 - math.cos(math.pi * RADIUS), return_distance=False)
    return np.array([len(i) for i in ind])


def run_naive_numpy(anchors, samples, block=256):
    """Textbook reduction: arccos of every pair of the tile, then comparisons."""
    from bbcollapse import PAPER_GRID

    m = anchors.shape[0]
    counts = np.zeros(m, dtype=np.int64)
    curve = np.zeros((m, len(PAPER_GRID)), dtype=np.int64)
    ssum = np.zeros(m)
    top = []
    for b0 in range(0, m, block):
        d = np.arccos(np.clip(anchors[b0 : b0 + block] @ samples.T, -1, 1)) / np.pi
        counts[b0 : b0 + block] = (d <= RADIUS).sum(1)
        for g, r in enumerate(PAPER_GRID):
            curve[b0 : b0 + block, g] = (d <= r).sum(1)
        ssum[b0 : b0 + block] = (np.expm1(np.maximum(0, THETA - d)) / np.expm1(THETA)).sum(1)
        top.append(np.argpartition(d, K, axis=1)[:, :K])
    return counts


def cone_data(m, n, dim, spread=0.5, seed=0):
    """Unit vectors clustered around one direction (median d ~ 0.2): every pair lies inside the
    similarity kernel theta = 0.3, as with face embeddings of one generator."""
    rng = np.random.default_rng(seed)
    mu = np.zeros(dim)
    mu[0] = 1.0

    def draw(k):
        x = (mu + spread * rng.standard_normal((k, dim)) / math.sqrt(dim)).astype(np.float32)
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    return draw(m), draw(n)


def memory_probe_subprocess(a_path, c_path, n_samples, threads, mode):
    import json
    import subprocess
    import sys

    here = os.path.dirname(os.path.abspath(__file__))
    code = (
        f"import sys, json; sys.path.insert(0, {here!r}); import engine_cases as b; "
        f"print(json.dumps(b.memory_probe({a_path!r}, {c_path!r}, {n_samples:d}, {threads:d}, {mode!r})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["rss_delta_mb"]


def memory_probe(a_path, c_path, n_samples, threads, mode="shards"):
    """In a fresh process: load the inputs, warm up, then the peak RSS increase of one engine call.

    ``mode="shards"`` streams the samples as an iterable of 16384-row shards (the engine's
    streaming input); ``"array"`` passes the whole array at once.
    """
    import torch

    torch.set_num_threads(threads)
    anchors = np.load(a_path)
    samples = np.ascontiguousarray(np.load(c_path)[:n_samples])
    run_engine(anchors[:64], samples[:5000])  # compile / initialise outside the measurement
    run_plan(anchors[:64], samples[:5000])
    with PeakRSS() as pk:
        if mode == "shards":
            run_engine(anchors, (samples[s0 : s0 + 16384] for s0 in range(0, n_samples, 16384)))
        elif mode == "plan":  # the paper-workflow plan, streamed as shards
            run_plan(anchors, (samples[s0 : s0 + 16384] for s0 in range(0, n_samples, 16384)))
        else:
            run_engine(anchors, samples)
    return dict(rss_delta_mb=pk.delta_mb)
