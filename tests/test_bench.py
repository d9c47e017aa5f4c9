"""`make bench` at smoke scale: the engine section runs, prints every peer's ratio and the targets."""
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_engine_bench_smoke_prints_ratios_and_targets(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--scale", "smoke", "--only", "engine",
                           "--results", str(tmp_path)], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "BENCH_THREADS": "2"})
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    for method in ("engine (all statistics)", "bare torch GEMM", "faiss IndexFlatIP.range_search",
                   "sklearn NearestNeighbors", "naive numpy", "eager torch reducer"):
        assert method in out, f"{method!r} missing from the bench table"
    assert "Targets (issue 2" in out and "ceiling for any exact method" in out
    res = json.loads(next(tmp_path.glob("engine_smoke_*.json")).read_text())
    rows = {r["method"]: r for r in res["cpu"]["rows"]}
    gemm = next(r for k, r in rows.items() if k.startswith("bare"))
    assert abs(gemm["x_gemm_wall"] - 1.0) < 1e-12
    for r in rows.values():  # every ratio is a positive finite measurement
        assert 0 < r["x_gemm_wall"] < 1e4 and r["ns_per_pair"] > 0
    full = res["cpu"]["full"]
    assert full["engine"]["wall_s"] > 0 and full["gemm"]["wall_s"] > 0
    assert full["faiss"]["results"] > 0  # the planted identities give neighbours at r = 0.25
    assert {m["samples_as"] for m in res["cpu"]["memory"]} == {"shards", "array"}
