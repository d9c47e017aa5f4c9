"""The engine benchmark: its methods compute what it says they compute, its ratios come from its own
timings, its targets are graded by their stated rules, and `make bench` runs end to end at smoke scale."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import engine_cases as bench  # noqa: E402  (bench/ is a folder of scripts, not a package)
import engine_report  # noqa: E402


@pytest.mark.parametrize("inputs", ["planted", "cone"])
def test_every_method_counts_what_a_float64_brute_force_counts(inputs):
    """On the bench's inputs, every method's count at r = 0.25 equals a float64 reference, up to pairs
    within float32 rounding of the threshold (the engine: exactly).  The planted sphere is the bench's
    main input; its pairs sit either well inside or well outside r, so the cone (the clustered
    case's generator, spread so that counts range from 0 to hundreds) puts many pairs near r: there
    a peer that counted cosine distance (1 - cos <= r) instead of angular distance would be off by
    hundreds, and one that forgot the division by pi by thousands."""
    if inputs == "planted":
        anchors, samples = bench.planted_data(64, 6000, 128)
    else:
        anchors, samples = bench.cone_data(64, 6000, 128, spread=0.8)
    dots = anchors.astype(np.float64) @ samples.astype(np.float64).T
    t = math.cos(math.pi * bench.RADIUS)
    exact = (dots >= t).sum(1)
    slack = (np.abs(dots - t) < 2e-5).sum(1)  # pairs a float32 method may put either side
    assert (exact > 10).sum() >= 3 and exact.sum() > 300  # both inputs give neighbours at r
    if inputs == "cone":  # the threshold matters: cosine distance would count very differently
        assert np.abs(((1 - dots) <= bench.RADIUS).sum(1) - exact).max() > 100
    np.testing.assert_array_equal(bench.run_engine(anchors, samples).counts[:, 0], exact)
    peers = {
        "faiss": lambda: bench.run_faiss(anchors, samples, 2),
        "sklearn": lambda: bench.run_sklearn(anchors, samples, 2),
        "naive numpy": lambda: bench.run_naive_numpy(anchors, samples),
    }
    for name, run in peers.items():
        if name == "faiss":
            pytest.importorskip("faiss")
        counts = np.asarray(run())
        assert counts.shape == exact.shape, name
        assert (np.abs(counts - exact) <= slack).all(), (name, np.abs(counts - exact).max())


def targets(engine_x_gemm, engine_vs_faiss, rss_quarter, rss_full):
    """A result dict at the paper shape with the four figures targets_summary grades."""
    shape = dict(m=10_000, n=1_000_000, dim=128, pairs=1e10)
    memory = [
        dict(samples_as=mode, n_samples=n, rss_delta_mb=mb)
        for mode in ("shards", "array")
        for n, mb in ((250_000, rss_quarter), (1_000_000, rss_full))
    ]
    full = dict(
        engine_x_gemm_wall=engine_x_gemm, engine_speedup_vs_faiss_wall=engine_vs_faiss, faiss={}, faiss_x_gemm_wall=1.7
    )
    return engine_report.targets_summary(dict(full=full, rows=[], memory=memory, shape=shape))


def test_targets_are_graded_by_their_stated_rules():
    # engine / GEMM <= 2; >= 3x faster than faiss; peak RSS grows by at most 10% of the extra samples'
    # bytes (0.75 * 1e6 * 128 * 4 B = 366 MiB, so 36.6 MiB) and stays under 2 GB
    good = targets(1.9, 3.1, 60.0, 90.0).splitlines()
    bad = targets(2.1, 2.9, 60.0, 100.0).splitlines()
    assert [line.endswith("-> met") for line in good if "->" in line] == [True, True, True]
    assert [line.endswith("-> NOT met") for line in bad if "->" in line] == [True, True, True]
    assert targets(1.0, 5.0, 2040.0, 2060.0).splitlines()[-1].endswith("-> NOT met")  # flat, but over 2 GB


@pytest.mark.slow
def test_engine_bench_smoke_reports_ratios_of_its_own_timings(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "run.py"),
            "--scale",
            "smoke",
            "--only",
            "engine",
            "--results",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "BENCH_THREADS": "2"},
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    for method in (
        "engine (all statistics)",
        "bare torch GEMM",
        "faiss IndexFlatIP.range_search",
        "sklearn NearestNeighbors",
        "naive numpy",
        "eager torch reducer",
    ):
        assert method in out, f"{method!r} missing from the bench table"
    assert "Targets (issue 2" in out and "ceiling for any exact method" in out
    res = json.loads(next(tmp_path.glob("engine_smoke_*.json")).read_text())["cpu"]
    rows = {r["method"]: r for r in res["rows"]}
    gemm = next(r for k, r in rows.items() if k.startswith("bare"))
    eng = next(r for k, r in rows.items() if k.startswith("engine"))
    pairs = res["shape"]["pairs"]
    for r in rows.values():
        # times are measured (positive), extrapolated linearly from the timed subset, and every
        # ratio is the quotient of two of those times
        assert r["wall_s"] > 0 and r["cpu_s"] > 0
        assert r["wall_s"] == pytest.approx(r["ns_per_pair"] * 1e-9 * pairs, rel=1e-9)
        assert r["x_gemm_wall"] == pytest.approx(r["wall_s"] / gemm["wall_s"], rel=1e-12)
        assert r["x_gemm_cpu"] == pytest.approx(r["cpu_s"] / gemm["cpu_s"], rel=1e-12)
        assert r["engine_speedup_wall"] == pytest.approx(r["wall_s"] / eng["wall_s"], rel=1e-12)
    assert eng["pairs_timed"] == gemm["pairs_timed"]  # every method timed on the same subset
    full = res["full"]
    assert full["engine_x_gemm_wall"] == pytest.approx(full["engine"]["wall_s"] / full["gemm"]["wall_s"], rel=1e-12)
    assert full["faiss_x_gemm_wall"] == pytest.approx(full["faiss"]["wall_s"] / full["gemm"]["wall_s"], rel=1e-12)
    # the printed summary quotes the JSON's figures
    assert f"engine / GEMM = {full['engine_x_gemm_wall']:.2f} (wall)" in out
    assert f"engine / GEMM = {full['engine_x_gemm_wall']:.2f}  ->" in out
    # faiss's float32 counts at the planted identities agree with the engine's exact counts
    assert full["faiss"]["results"] > 0 and full["faiss"]["max_abs_count_diff"] <= 2
    assert {m["samples_as"] for m in res["memory"]} == {"shards", "array"}
