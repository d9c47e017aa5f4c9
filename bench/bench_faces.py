"""Benchmark of the face subject: ArcFace execution variants, their fidelity, and the pipelines end to end.

Measured in one run on the same machine state, with one torch thread (the descriptors overlap their
preprocessing with the network in a second thread, so the pipelines use two cores, as the book runs
them); every timing is the median of ``reps`` interleaved repetitions, so ratios within the run are
what to read on a shared machine (the load average is printed).

* **end to end** (sample 64x64 faces from the DCGAN, preprocess, embed), faces/s and CPU seconds per
  face: the ArcFace pipeline in float32 (the default: the frozen TorchScript graph on batches of 8,
  one network thread per core), with one network thread, in bf16 (``precision="bf16"``) and as it
  ran before (batches of 64, and the generator on batches of 128), the dlib-port pipeline (HOG +
  5-point alignment, the torch port of dlib's ResNet) and dlib itself;
  issue 13's target is ArcFace >= 3x the dlib-port pipeline;
* **stages** on one batch: the generator (float32 on batches of 32 as shipped, of 128 as before,
  and bf16 for the record), resize or alignment, and the ArcFace network in each variant: torch
  eager float32 (NCHW and channels-last), frozen float32 (batches of 8, and of 64 as before), bf16
  eager and frozen, onnxruntime float32 (all graph optimisations) and onnxruntime int8 (static,
  per-channel, QOperator, calibrated on 64 other DCGAN faces), all on batches of 8 unless named;
* **ceiling** (:mod:`faces_ceiling`): FLOPs per face of each network, the float32 and bf16 GEMM
  roofline on 1 and 2 threads, and the highest ratio the target can reach on this machine;
* **fidelity** of every variant against the eager float32 graph on a small face diagnosis
  (|A| anchors, |C| samples, the shipped theta and r): min and 1st-percentile cosine of the
  embeddings, max distance change, per-anchor counts at r that change, max |dMCCS| and its ratio to
  the per-anchor sampling standard error (delta method).  A variant is *negligible* when no count
  changes and max |dMCCS| <= 0.1 standard error; only such a variant may replace the float32 path.

Every bf16 row needs a CPU with bf16 instructions that torch uses (AVX512_BF16 or AMX-BF16:
:func:`bbcollapse.neighbors.prefilter.fast_bf16`); elsewhere torch emulates bf16 at a tenth of the
float32 rate or less, so those rows are skipped and the report says so.

Usage: ``python bench/bench_faces.py [smoke|default|paper]``; ``main(scale)`` returns a dict.
"""

from __future__ import annotations

import copy
import os
import statistics
import sys
import tempfile
import time

import numpy as np
import torch

SIZES = {
    # faces per end-to-end run (dlib itself gets a quarter), faces per stage run, repetitions,
    # and the fidelity diagnosis (|A|, |C|)
    "smoke": dict(e2e=32, stage=32, reps=1, anchors=20, samples=100),
    "default": dict(e2e=256, stage=128, reps=3, anchors=200, samples=2000),
    "paper": dict(e2e=1024, stage=512, reps=5, anchors=500, samples=5000),
}
THETA, R = 0.3913, 0.2708  # the shipped theta and r of the float32 ArcFace descriptor (theta_r.json)
NEGLIGIBLE_SE = 0.1  # a variant is negligible when max |dMCCS| <= this many per-anchor standard errors


def _timed(fn):
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - t0, time.process_time() - c0, out


def _median(runs: dict, reps: int) -> dict:
    """Run each ``name: (n, fn)`` ``reps`` times, interleaved; median wall and CPU time per name."""
    walls = {name: [] for name in runs}
    cpus = {name: [] for name in runs}
    for _ in range(reps):
        for name, (_, fn) in runs.items():
            wall, cpu, _ = _timed(fn)
            walls[name].append(wall)
            cpus[name].append(cpu)
    return {
        name: {"n": runs[name][0], "wall_s": statistics.median(walls[name]), "cpu_s": statistics.median(cpus[name])}
        for name in runs
    }


def main(scale: str = "default") -> dict:
    if scale not in SIZES:
        raise ValueError(f"scale must be one of {sorted(SIZES)}; got {scale!r}")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        res = _measure(SIZES[scale])
    finally:
        torch.set_num_threads(threads)
    res["scale"] = scale
    _print_table(res)
    return res


class _flush_denormals_here:
    """Flush-to-zero in this thread while timing networks alone (the descriptors set it in their worker)."""

    def __enter__(self):
        torch.set_flush_denormal(True)

    def __exit__(self, *exc):
        torch.set_flush_denormal(False)


def _int8_session(crops):
    """onnxruntime session of fr_feature.onnx quantised to int8 (static, per channel), or None."""
    try:
        import onnx
        from onnx import version_converter
        from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
        from onnxruntime.quantization.shape_inference import quant_pre_process
    except ImportError:
        return None
    from bbcollapse.subjects.faces import batched_model, model_file
    from bbcollapse.subjects.faces.onnx_net import ort_session

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.batches = iter([crops[s : s + 32] for s in range(0, len(crops), 32)])

        def get_next(self):
            b = next(self.batches, None)
            return None if b is None else {"input": b}

    with tempfile.TemporaryDirectory() as tmp:
        f, pre, q = (os.path.join(tmp, n) for n in ("f.onnx", "pre.onnx", "q.onnx"))
        # per-channel quantisation needs opset >= 13; the shipped graph is opset 9
        onnx.save(version_converter.convert_version(batched_model(model_file("fr_feature.onnx")), 13), f)
        quant_pre_process(f, pre)
        quantize_static(pre, q, Reader(), quant_format=QuantFormat.QOperator, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)  # fmt: skip
        return ort_session(q, threads=1)


def _network_variants(x_example, crops_calib, bf16=True):
    """name -> (n, 3, 112, 112) float32 -> raw (n, 512): every way of running the ArcFace network (bf16: if asked)."""
    from bbcollapse.subjects.faces import ArcFaceDescriptor

    eager = ArcFaceDescriptor(device="cpu", jit=False)
    nchw = copy.deepcopy(eager.net).to(memory_format=torch.contiguous_format)
    from bbcollapse.subjects.faces import model_file
    from bbcollapse.subjects.faces.onnx_net import ort_session

    ort = ort_session(model_file("fr_feature.onnx"), threads=1)  # one thread, as torch here
    variants = {
        "torch_eager_float32_nchw": lambda x: _batched(
            lambda b: _no_grad(lambda: nchw(torch.from_numpy(b)).numpy()), x
        ),
        "torch_eager_float32": eager.embed_crops,
        "torch_frozen_float32": ArcFaceDescriptor(device="cpu").embed_crops,
        "onnxruntime_float32": lambda x: _batched(lambda b: ort.run(None, {"input": b})[0], x),
    }
    if bf16:
        variants["torch_eager_bf16"] = ArcFaceDescriptor(device="cpu", precision="bf16", jit=False).embed_crops
        variants["torch_frozen_bf16"] = ArcFaceDescriptor(device="cpu", precision="bf16").embed_crops
    q = _int8_session(crops_calib)
    if q is not None:
        variants["onnxruntime_int8"] = lambda x: _batched(lambda b: q.run(None, {"input": b})[0], x)
    variants["torch_frozen_float32_b64"] = ArcFaceDescriptor(device="cpu", batch_size=64).embed_crops
    for f in variants.values():  # first calls allocate and pick kernels
        f(x_example)
    return variants


def _gemms(dtypes=("float32", "bf16")) -> dict:
    """dtype -> a torch.mm of two GEMM_N x GEMM_N matrices (faces_ceiling.GEMM_N) in that dtype."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from faces_ceiling import GEMM_N

    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(GEMM_N, GEMM_N, generator=g), torch.randn(GEMM_N, GEMM_N, generator=g)
    pairs = {"float32": (a, b), "bf16": (a.to(torch.bfloat16), b.to(torch.bfloat16))}
    out = {name: (lambda x=x, y=y: torch.mm(x, y)) for name, (x, y) in pairs.items() if name in dtypes}
    for mm in out.values():
        mm()  # packs and allocates
    return out


def _batched(fn, x, batch: int = 8):
    """fn over batches of 8, as the ArcFace descriptor batches on CPU (one call on 2,000 faces needs ~20 GB)."""
    return np.concatenate([fn(x[s : s + batch]) for s in range(0, len(x), batch)])


def _no_grad(fn):
    with torch.inference_mode():
        return fn()


def _measure(cfg) -> dict:
    from bbcollapse.neighbors.prefilter import fast_bf16
    from bbcollapse.subjects.faces import ArcFaceDescriptor, DlibFaceDescriptor, FaceDCGAN, frame_to_network_input

    bf16 = fast_bf16()
    dtypes = ("float32", "bf16") if bf16 else ("float32",)
    gan, gan_before = FaceDCGAN(device="cpu"), FaceDCGAN(device="cpu", batch_size=128)
    n, m, k = cfg["e2e"], cfg["stage"], max(8, cfg["e2e"] // 4)
    arc = {
        "arcface": ArcFaceDescriptor(device="cpu"),
        "arcface_w1": ArcFaceDescriptor(device="cpu", workers=1),
        "arcface_before": ArcFaceDescriptor(device="cpu", batch_size=64),
    }
    if bf16:
        arc["arcface_bf16"] = ArcFaceDescriptor(device="cpu", precision="bf16")
    port = DlibFaceDescriptor(backend="torch", device="cpu", detector="hog")
    ref = DlibFaceDescriptor(backend="dlib", detector="hog")
    warm = gan(0, 8).x
    for d in (*arc.values(), port):
        d(warm)
    ref(warm[:2])

    # 1. end to end, interleaved
    runs = {name: (n, lambda d=d: d(gan(1, n).x)) for name, d in arc.items()}
    runs["arcface_before"] = (n, lambda: arc["arcface_before"](gan_before(1, n).x))
    runs["dlib_port"] = (n, lambda: port(gan(1, n).x))
    runs["dlib"] = (k, lambda: ref(gan(1, k).x))
    e2e = _median(runs, cfg["reps"])

    # 2. stages on one batch
    imgs = gan(2, m).x
    x112 = frame_to_network_input(imgs)
    chips = port.align(imgs).chips
    nets = _network_variants(x112[:8], frame_to_network_input(gan(99_000, 64).x), bf16)
    gen_bf16 = copy.deepcopy(gan.net).to(torch.bfloat16).to(memory_format=torch.channels_last) if bf16 else None
    z = torch.from_numpy(gan.latents(2, m))[:, :, None, None]
    with _flush_denormals_here():
        stage_runs = {
            "generator": (m, lambda: gan(2, m)),
            "generator_b128": (m, lambda: gan_before(2, m)),
            **({"generator_bf16": (m, lambda: _no_grad(lambda: gen_bf16(z.to(torch.bfloat16))))} if bf16 else {}),
            "arcface_resize": (m, lambda: frame_to_network_input(imgs)),
            **{f"net_{name}": (m, lambda f=f: f(x112)) for name, f in nets.items()},
            "dlib_alignment_hog": (m, lambda: port.align(imgs)),
            "dlib_port_network": (m, lambda: port.embed_chips(chips)),
            "dlib_network": (max(8, m // 4), lambda: ref.embed_chips(chips[: max(8, m // 4)])),
            # the GEMM roofline under the same load as the stages, for the ceiling (n: multiplications)
            **{f"gemm_{dt}": (2, lambda mm=mm: (mm(), mm())) for dt, mm in _gemms(dtypes).items()},
        }
        stages = _median(stage_runs, cfg["reps"])
        fidelity = _fidelity(gan, nets, cfg["anchors"], cfg["samples"], frame_to_network_input)
    u8 = lambda a: np.round((np.clip(a, -1, 1) + 1) * 127.5)  # noqa: E731 - the generator's own rounding
    gen_changed = gen_grey = None
    if bf16:
        with torch.inference_mode():
            g32 = gan.net(z).float().numpy()
            g16 = gen_bf16(z.to(torch.bfloat16)).float().numpy()
        gen_changed, gen_grey = float((u8(g16) != u8(g32)).mean()), float(np.abs(u8(g16) - u8(g32)).max())
    ceil = _ceiling(gan, port, stages, e2e, dtypes)
    rate = {name: v["n"] / v["wall_s"] for name, v in {**e2e, **stages}.items()}
    cpu = {name: v["cpu_s"] / v["n"] for name, v in {**e2e, **stages}.items()}
    return {
        "torch_threads": 1,
        "bf16_native": bf16,
        "arcface_workers": arc["arcface"]._workers(),
        "load_average": os.getloadavg(),
        "n_e2e": n,
        "n_stage": m,
        "faces_per_s": rate,
        "cpu_s_per_face": cpu,
        "e2e_ratio_arcface_vs_dlib_port": rate["arcface"] / rate["dlib_port"],
        "e2e_ratio_arcface_bf16_vs_dlib_port": rate["arcface_bf16"] / rate["dlib_port"] if bf16 else None,
        "e2e_ratio_arcface_vs_dlib": rate["arcface"] / rate["dlib"],
        "target_ratio": 3.0,
        "generator_bf16_pixels_changed": gen_changed,
        "generator_bf16_max_grey_levels": gen_grey,
        "fidelity": fidelity,
        "generator_b128_pixels_changed": float((gan_before(2, m).x != imgs).mean()),
        **ceil,
    }


def _ceiling(gan, port, stages, e2e, dtypes=("float32", "bf16")) -> dict:
    """FLOPs, GEMM roofline and the target's ceiling (see faces_ceiling.py) from this run's stage times."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import faces_ceiling as fc
    from bbcollapse.subjects.faces import ArcFaceDescriptor

    ms = {name: 1e3 * v["wall_s"] / v["n"] for name, v in stages.items()}
    stage_ms = {
        "generator": ms["generator"],
        "arcface_resize": ms["arcface_resize"],
        "arcface_net": ms["net_torch_frozen_float32"],
        "dlib_alignment": ms["dlib_alignment_hog"],
        "dlib_port_net": ms["dlib_port_network"],
        # wall ms per face end to end, for the wall-clock ceiling
        "e2e_dlib_port_wall": 1e3 * e2e["dlib_port"]["wall_s"] / e2e["dlib_port"]["n"],
        "e2e_arcface_wall": 1e3 * e2e["arcface"]["wall_s"] / e2e["arcface"]["n"],
        "arcface_workers": 2,
    }
    flops = fc.flops_per_face(gan, ArcFaceDescriptor(device="cpu", jit=False), port)
    roof = fc.gemm_roofline(dtypes=dtypes)
    roof["interleaved"] = {dt: 2.0 * fc.GEMM_N**3 / (stages[f"gemm_{dt}"]["wall_s"] / 2) / 1e9 for dt in dtypes}
    return {"flops_per_face": flops, "gemm_gflops": roof, "stage_ms": stage_ms,
            "ceiling": fc.ceiling(stage_ms, flops, roof, 3.0)}  # fmt: skip


def _fidelity(gan, nets, n_anchors, n_samples, frame_to_network_input) -> dict:
    """Each network variant against the eager float32 graph on a diagnosis of |A| anchors x |C| samples."""
    from bbcollapse.distance import angular_distance, similarity
    from bbcollapse.stats import mccs
    from bbcollapse.stats.planning import mccs_standard_error

    x = frame_to_network_input(np.concatenate([gan(1, n_anchors).x, gan(2, n_samples).x]))

    def diagnosis(raw):
        e = raw.astype(np.float64)
        e /= np.linalg.norm(e, axis=1, keepdims=True)
        d = angular_distance(e[:n_anchors], e[n_anchors:])
        s = similarity(d, THETA)
        return e, d, (d <= R).sum(axis=1), s, mccs(s.mean(axis=1))

    e0, d0, c0, s0, m0 = diagnosis(nets["torch_eager_float32"](x))
    # the delta method needs 0 < mean similarity < 1; elsewhere any change is infinitely many SE
    se = np.array([mccs_standard_error(s.mean(), s.std(ddof=1), n_samples) if 0 < s.mean() < 1 else 0.0 for s in s0])
    out = {"_reference": dict(anchors=n_anchors, samples=n_samples, counts_at_r=int(c0.sum()),
                              mccs_mean=float(m0.mean()), median_se=float(np.median(se[se > 0])))}  # fmt: skip
    for name, f in nets.items():
        if name == "torch_eager_float32":
            continue
        e, d, c, _, m = diagnosis(f(x))
        cos = (e * e0).sum(axis=1)
        dm = m - m0
        with np.errstate(divide="ignore", invalid="ignore"):
            worst = float(np.max(np.where(dm == 0, 0.0, np.abs(dm) / se)))
        out[name] = dict(
            min_cosine=float(cos.min()),
            q01_cosine=float(np.quantile(cos, 0.01)),
            max_distance_change=float(np.abs(d - d0).max()),
            counts_changed=int((c != c0).sum()),
            max_abs_dmccs=float(np.abs(dm).max()),
            mean_dmccs=float(dm.mean()),
            max_dmccs_in_se=worst,
            same_iw=bool(m.argmax() == m0.argmax()),
            negligible=bool((c == c0).all() and worst <= NEGLIGIBLE_SE),
        )
    return out


def _print_table(res: dict):
    r, c, fid = res["faces_per_s"], res["cpu_s_per_face"], res["fidelity"]
    load = ", ".join(f"{v:.2f}" for v in res["load_average"])
    print(f"face subject benchmark (scale={res['scale']}, 1 torch thread per network thread, ArcFace "
          f"{res['arcface_workers']} network threads, dlib 1 network + 1 alignment thread; "
          f"medians of interleaved repetitions; load average at the end {load})")  # fmt: skip
    print(f"  {'end to end (sample, preprocess, embed)':<50} {'faces/s':>9} {'CPU ms/face':>12}")
    labels = {
        "arcface": "ArcFace float32 (default, frozen graph)",
        "arcface_bf16": "ArcFace bf16",  # only where the CPU has native bf16
        "arcface_w1": "ArcFace float32, 1 network thread",
        "arcface_before": "ArcFace float32 before (batches of 64; gen 128)",
        "dlib_port": "dlib port (HOG + align)",
        "dlib": "dlib itself (HOG + align, C++ net)",
    }
    for name, label in labels.items():
        if name not in r:
            continue
        print(f"  {label:<50} {r[name]:>9.1f} {1e3 * c[name]:>12.1f}")
    ratio, target = res["e2e_ratio_arcface_vs_dlib_port"], res["target_ratio"]
    w1 = r["arcface_w1"] / r["dlib_port"]
    r16 = res["e2e_ratio_arcface_bf16_vs_dlib_port"]
    print(f"  ratio ArcFace / dlib port: float32 {ratio:.2f}x (1 network thread {w1:.2f}x), "
          + (f"bf16 {r16:.2f}x " if r16 is not None else "bf16 not run (no native bf16 on this CPU) ")
          + f"end to end (target >= {target:g}x: {'met' if ratio >= target else 'NOT met'}); "
          f"ArcFace / dlib {res['e2e_ratio_arcface_vs_dlib']:.2f}x")  # fmt: skip
    print(f"  stages (ms per face, each alone on one batch of {res['n_stage']}):")
    for name in r:
        if name not in labels and not name.startswith("gemm_"):
            print(f"    {name:<36} {1e3 / r[name]:>8.2f}   x{r[name] / r['net_torch_eager_float32']:.2f}"
                  if name.startswith("net_") else f"    {name:<36} {1e3 / r[name]:>8.2f}")  # fmt: skip
    print("    (x: speed relative to net_torch_eager_float32)")
    print(f"  generator on batches of 32 vs 128: {100 * res['generator_b128_pixels_changed']:.4f}% of uint8 pixels "
          f"change; ArcFace default vs before end to end: {r['arcface'] / r['arcface_before']:.2f}x")  # fmt: skip
    if res["generator_bf16_pixels_changed"] is not None:
        print(f"  generator bf16: {100 * res['generator_bf16_pixels_changed']:.1f}% of uint8 pixels change (up to "
              f"{res['generator_bf16_max_grey_levels']:.0f} grey levels): another black box, not adopted")  # fmt: skip
    ref = fid["_reference"]
    print(f"  fidelity vs eager float32 on |A| = {ref['anchors']}, |C| = {ref['samples']} (theta {THETA}, r {R}; "
          f"float32: {ref['counts_at_r']} counts at r in all, mean MCCS {ref['mccs_mean']:.4f}, median per-anchor "
          f"sampling SE {ref['median_se']:.4f}):")  # fmt: skip
    print(f"    {'variant':<28} {'min cos':>8} {'q01 cos':>8} {'max|dd|':>8} {'counts':>7} {'max|dMCCS|':>10} "
          f"{'mean dMCCS':>10} {'/SE':>6} {'I_w':>5}  negligible")  # fmt: skip
    for name, v in fid.items():
        if name.startswith("_"):
            continue
        print(f"    {name:<28} {v['min_cosine']:>8.5f} {v['q01_cosine']:>8.5f} {v['max_distance_change']:>8.1e} "
              f"{v['counts_changed']:>7d} {v['max_abs_dmccs']:>10.1e} {v['mean_dmccs']:>+10.1e} "
              f"{v['max_dmccs_in_se']:>6.2f} {'same' if v['same_iw'] else 'moved':>5}  "
              f"{'yes' if v['negligible'] else 'NO'}")  # fmt: skip
    print(f"    (negligible: no count at r changes and max |dMCCS| <= {NEGLIGIBLE_SE} per-anchor sampling SE)")
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import faces_ceiling as fc

    fc.print_ceiling(res["flops_per_face"], res["gemm_gflops"], res["ceiling"], res["stage_ms"], res["target_ratio"])


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "default")
