"""Benchmark of the face subject: the torch port of dlib's face ResNet vs dlib itself.

Measured in one run on the same machine state (timings interleaved, best of ``reps``):

* network throughput on the *same* batch of aligned 150x150 chips: dlib's C++ network
  vs the torch port (CPU, channels-last, ``torch.set_num_threads(2)``), and their
  agreement (min cosine between the two descriptors);
* DCGAN sampling rate (64x64 faces per second);
* alignment rate with the HOG detector (fixed box as fallback) and with the fixed box only;
* end to end (sample, align, embed) with the torch backend and with dlib's network
  (the descriptor overlaps dlib's alignment of one chunk with the network on the previous one).

Timings on a shared machine move with its load; the ratios are measured in one run.

Usage: ``python bench/bench_faces.py [smoke|default|paper]``; ``main(scale)`` returns a dict.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import torch

SIZES = {
    # chips for the network comparison, faces for the sampler, faces end to end, repetitions
    "smoke": dict(chips=8, sample=256, e2e=16, reps=1),
    "default": dict(chips=64, sample=4096, e2e=128, reps=2),
    "paper": dict(chips=256, sample=16384, e2e=512, reps=3),
}


def _best(fn, reps):
    times = []
    out = None
    for _ in range(reps):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main(scale: str = "default") -> dict:
    from bbcollapse.subjects.faces import DlibFaceDescriptor, FaceDCGAN

    if scale not in SIZES:
        raise ValueError(f"scale must be one of {sorted(SIZES)}; got {scale!r}")
    cfg = SIZES[scale]
    torch.set_num_threads(min(2, torch.get_num_threads()))
    gan = FaceDCGAN(device="cpu")
    port = DlibFaceDescriptor(backend="torch", device="cpu", detector="hog")
    ref = DlibFaceDescriptor(backend="dlib", detector="hog")
    fixed = DlibFaceDescriptor(backend="torch", device="cpu", detector="fixed")

    # warm-up (first calls allocate, load, pick kernels)
    warm = gan(0, 8).x
    port(warm)
    ref.embed_chips(port.align(warm[:2]).chips)

    # 1. the network on the same chips, interleaved
    chips = fixed.align(gan(1, cfg["chips"]).x).chips
    t_dlib, t_port = [], []
    for _ in range(cfg["reps"]):
        t, e_dlib = _best(lambda: ref.embed_chips(chips), 1)
        t_dlib.append(t)
        t, e_port = _best(lambda: port.embed_chips(chips), 1)
        t_port.append(t)
    e_dlib, e_port = e_dlib.astype(np.float64), e_port.astype(np.float64)
    cos = (e_dlib * e_port).sum(1) / np.linalg.norm(e_dlib, axis=1) / np.linalg.norm(e_port, axis=1)
    net_dlib = len(chips) / min(t_dlib)
    net_port = len(chips) / min(t_port)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    t_one, _ = _best(lambda: port.embed_chips(chips), cfg["reps"])
    torch.set_num_threads(threads)

    # 2. sampling
    t, _ = _best(lambda: gan(2, cfg["sample"]), cfg["reps"])
    sample_rate = cfg["sample"] / t

    # 3. alignment
    imgs = gan(3, cfg["e2e"]).x
    t_hog, al = _best(lambda: port.align(imgs), cfg["reps"])
    t_fix, _ = _best(lambda: fixed.align(imgs), cfg["reps"])

    # 4. end to end: sample, align, embed
    t_e2e_port, _ = _best(lambda: port(gan(4, cfg["e2e"]).x), cfg["reps"])
    torch.set_num_threads(1)  # the descriptor's pipeline keeps a second core busy with dlib's alignment
    t_e2e_one, _ = _best(lambda: port(gan(4, cfg["e2e"]).x), cfg["reps"])
    torch.set_num_threads(threads)
    n_e2e_dlib = max(8, cfg["e2e"] // 4)
    t_e2e_dlib, _ = _best(lambda: ref(gan(4, n_e2e_dlib).x), 1)

    res = {
        "scale": scale,
        "threads": torch.get_num_threads(),
        "n_chips": len(chips),
        "net_dlib_faces_per_s": net_dlib,
        "net_torch_faces_per_s": net_port,
        "net_speedup_torch_vs_dlib": net_port / net_dlib,
        "net_torch_1thread_faces_per_s": len(chips) / t_one,
        "net_speedup_torch_1thread_vs_dlib": len(chips) / t_one / net_dlib,
        "agreement_min_cosine": float(cos.min()),
        "agreement_mean_cosine": float(cos.mean()),
        "dcgan_faces_per_s": sample_rate,
        "align_hog_faces_per_s": cfg["e2e"] / t_hog,
        "align_fixed_faces_per_s": cfg["e2e"] / t_fix,
        "hog_detected_fraction": al.detected_fraction,
        "e2e_torch_faces_per_s": cfg["e2e"] / t_e2e_port,
        "e2e_torch_1thread_faces_per_s": cfg["e2e"] / t_e2e_one,
        "e2e_dlib_faces_per_s": n_e2e_dlib / t_e2e_dlib,
    }
    res["e2e_speedup_torch_vs_dlib"] = res["e2e_torch_faces_per_s"] / res["e2e_dlib_faces_per_s"]
    res["e2e_speedup_torch_1thread_vs_dlib"] = res["e2e_torch_1thread_faces_per_s"] / res["e2e_dlib_faces_per_s"]
    _print_table(res)
    return res


def _print_table(res: dict):
    rows = [
        ("network: dlib (C++)", f"{res['net_dlib_faces_per_s']:.1f} faces/s"),
        ("network: torch port", f"{res['net_torch_faces_per_s']:.1f} faces/s"),
        ("  speed-up torch / dlib", f"{res['net_speedup_torch_vs_dlib']:.2f}x"),
        ("network: torch port, 1 thread", f"{res['net_torch_1thread_faces_per_s']:.1f} faces/s"),
        ("  speed-up torch (1 thread) / dlib", f"{res['net_speedup_torch_1thread_vs_dlib']:.2f}x"),
        (
            "  agreement (min / mean cosine)",
            f"1 - {1 - res['agreement_min_cosine']:.1e} / 1 - {1 - res['agreement_mean_cosine']:.1e}",
        ),
        ("DCGAN sampling", f"{res['dcgan_faces_per_s']:.0f} faces/s"),
        (
            "alignment, HOG + fixed-box fallback",
            f"{res['align_hog_faces_per_s']:.0f} faces/s (detected {res['hog_detected_fraction']:.2f})",
        ),
        ("alignment, fixed box", f"{res['align_fixed_faces_per_s']:.0f} faces/s"),
        ("end to end, torch port", f"{res['e2e_torch_faces_per_s']:.1f} faces/s"),
        ("end to end, torch port, 1 thread", f"{res['e2e_torch_1thread_faces_per_s']:.1f} faces/s"),
        ("end to end, dlib", f"{res['e2e_dlib_faces_per_s']:.1f} faces/s"),
        ("  speed-up torch / dlib", f"{res['e2e_speedup_torch_vs_dlib']:.2f}x"),
        ("  speed-up torch (1 thread) / dlib", f"{res['e2e_speedup_torch_1thread_vs_dlib']:.2f}x"),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"face subject benchmark (scale={res['scale']}, {res['threads']} threads, {res['n_chips']} chips)")
    for name, val in rows:
        print(f"  {name:<{width}}  {val}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "default")
