"""Run the benchmarks: ``python bench/run.py --scale {smoke,default,paper}``.

Runs ``bench/bench_engine.py`` first, then every other ``bench/bench_*.py``
module that exposes ``main(scale) -> dict``, each in its own section; a failing
section prints its error and the run goes on.  Each section's result is written
to ``bench/results/<name>_<scale>_<host-or-device>.json``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import re
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: ``--isa avx2``: the environment that caps every library in the run at AVX2 + FMA on a newer CPU,
#: so that one machine measures the AVX2 case too (set before torch, numba or faiss is imported).
ISA_CAPS = {
    "avx2": {
        "ATEN_CPU_CAPABILITY": "avx2",  # torch's own vectorised kernels
        "MKL_ENABLE_INSTRUCTIONS": "AVX2",  # torch.mm float32 / float64 (MKL)
        "ONEDNN_MAX_CPU_ISA": "AVX2",  # bf16 GEMM (oneDNN): no AVX512_BF16 / AMX, so the prefilter takes float32
        "NUMBA_CPU_NAME": "haswell",  # the engine's fused kernels
        "FAISS_OPT_LEVEL": "avx2",  # the faiss peer
    }
}


def cap_isa(isa):
    """Set the environment of ``ISA_CAPS[isa]`` (``native``: nothing) and record the cap in BBCOLLAPSE_BENCH_ISA."""
    if isa == "native":
        return
    import os

    if any(m in sys.modules for m in ("torch", "numba", "faiss")):
        raise RuntimeError("--isa must be applied before torch, numba or faiss is imported")
    os.environ.update(ISA_CAPS[isa])
    os.environ["BBCOLLAPSE_BENCH_ISA"] = isa


def _tag():
    """Host name, or the accelerator's name when there is one."""
    try:
        import torch

        if torch.cuda.is_available():
            return re.sub(r"[^A-Za-z0-9]+", "-", torch.cuda.get_device_name(0)).strip("-").lower()
    except Exception:
        pass
    return re.sub(r"[^A-Za-z0-9.-]+", "-", platform.node() or "host")


def _machine_line():
    """One line naming the CPU's vector / matrix ISA flags and the load average (results depend on both)."""
    import os

    from bbcollapse.neighbors.prefilter import cpu_flags  # loads neither torch, numba nor faiss
    from engine_cases import ISA_FLAGS

    flags = cpu_flags()
    isa = [f for f in ISA_FLAGS if f in flags]
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "unknown"
    cap = os.environ.get("BBCOLLAPSE_BENCH_ISA")
    capped = f" (run capped at {cap.upper()}: {', '.join(f'{k}={v}' for k, v in ISA_CAPS[cap].items())})" if cap else ""
    return f"machine {_tag()}: {os.cpu_count()} CPUs, ISA {' '.join(isa) or 'unknown'}{capped}; load average {load}"


def _modules():
    names = sorted(p.stem for p in HERE.glob("bench_*.py"))
    if "bench_engine" in names:
        names.remove("bench_engine")
        names.insert(0, "bench_engine")
    return names


def _load(name):
    spec = importlib.util.spec_from_file_location(name, HERE / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def _jsonable(x):
    import numpy as np

    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, np.generic):
        return x.item()
    return x


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", default="default", choices=["smoke", "default", "paper"])
    ap.add_argument("--only", default=None, help="run only bench_<ONLY>.py")
    ap.add_argument("--results", default=str(HERE / "results"), help="directory for the JSON results")
    ap.add_argument(
        "--isa",
        default="native",
        choices=["native", *ISA_CAPS],
        help="cap torch, MKL, oneDNN, numba and faiss at this ISA (measure the AVX2 case on a newer CPU)",
    )
    args = ap.parse_args(argv)
    cap_isa(args.isa)
    sys.path.insert(0, str(HERE))
    out_dir = Path(args.results)
    out_dir.mkdir(parents=True, exist_ok=True)
    failures = 0
    print(_machine_line(), flush=True)
    only = args.only
    if args.isa != "native" and not only:
        # The cap serves the engine's per-ISA targets (issue 20). The faces bench times bf16 variants and a
        # bf16 roofline, which a capped oneDNN can only emulate (a 2048^3 bf16 GEMM then runs for minutes).
        print(f"--isa {args.isa}: running the engine section only (name another with --only)", flush=True)
        only = "engine"
    for name in _modules():
        short = name[len("bench_") :]
        if only and short != only:
            continue
        print(f"\n{'=' * 30} {short} (scale={args.scale}) {'=' * 30}", flush=True)
        t0 = time.perf_counter()
        try:
            mod = _load(name)
            if not callable(getattr(mod, "main", None)):
                print(f"{name}.py has no main(scale); skipped")
                continue
            res = mod.main(args.scale)
        except Exception:
            failures += 1
            print(f"section {short} FAILED:\n{traceback.format_exc()}", flush=True)
            continue
        res = dict(res or {})
        res.setdefault("elapsed_s", round(time.perf_counter() - t0, 1))
        isa = "" if args.isa == "native" else f"_isa-{args.isa}"
        path = out_dir / f"{short}_{args.scale}_{_tag()}{isa}.json"
        path.write_text(json.dumps(_jsonable(res), indent=1) + "\n")
        print(f"[{short}: {res['elapsed_s']} s; results in {path}]", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
